"""``zorgid audit verify`` and ``zorgid audit checkpoint``.

``verify`` checks the hash chain and its signed checkpoints (docs/audit.md);
``checkpoint`` signs the current head now with the audit key in the HSM, e.g.
nightly or before a backup, so the newest events are covered by a signature too.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path

from issuer.audit import (
    AuditKeyError,
    AuditLog,
    CheckpointVerifier,
    VerifyResult,
    key_sha256,
    load_public_key,
    verify_chain,
)
from issuer.cli.failures import CliFailure, Exit
from issuer.config import load_config
from issuer.store import DatabaseError, SchemaOutOfDateError, check_schema, create_engine_for
from issuer.store.cli_support import add_database_arguments, resolve
from issuer.store.transactions import write_transaction
from issuer.store.types import to_utc_text

PUBLIC_KEY_FILE = "audit-checkpoint.pub.pem"
"""Written by the key ceremony into ``<data_dir>/ca/``."""


def _verify(args: argparse.Namespace) -> int:
    try:
        url, config = resolve(args)
        key_path: Path | None = args.public_key
        if key_path is None and config is not None:
            key_path = config.ca_dir / PUBLIC_KEY_FILE
        public_key: CheckpointVerifier | None = None
        if key_path is not None:
            try:
                public_key = load_public_key(key_path.read_bytes())
            except OSError as exc:
                raise CliFailure(
                    Exit.FILE,
                    f"cannot read the audit public key {key_path}: {exc.strerror}; expected the "
                    f"PEM written by `zorgid ca init` (<data_dir>/ca/{PUBLIC_KEY_FILE})",
                ) from None
        engine = create_engine_for(url)
    except (AuditKeyError, ValueError) as exc:  # ConfigError: main(), ZID-0901 + solution
        print(f"zorgid audit verify: {exc}", file=sys.stderr)
        return 2
    try:
        result = verify_chain(engine, public_key, known_head=args.known_head)
    except DatabaseError as exc:
        print(
            f"zorgid audit verify: cannot read the audit log: {exc.__class__.__name__}; "
            "check the URL and run `zorgid db check`",
            file=sys.stderr,
        )
        return Exit.UNREACHABLE
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(dataclasses.asdict(result), sort_keys=True, default=_json_value))
    elif result.ok:
        print(
            f"audit chain OK: {result.events_checked} events, {result.checkpoints_checked} "
            f"signed checkpoints, head seq {result.last_seq} hash {result.last_hash}"
        )
        print(_coverage(result))
        if public_key is None:
            print("warning: no public key given; checkpoints were not checked", file=sys.stderr)
    else:
        print(
            f"audit chain BROKEN at event {result.first_bad_seq}: {result.problem}",
            file=sys.stderr,
        )
    return 0 if result.ok else 1


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return to_utc_text(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _coverage(result: VerifyResult) -> str:
    """What the signatures cover: events after the last checkpoint could be rewritten unseen."""
    if result.last_checkpoint_seq is None or result.last_checkpoint_at is None:
        return (
            f"{result.events_after_checkpoint} events after the last checkpoint "
            "(no signed checkpoint yet; run `zorgid audit checkpoint`)"
        )
    return (
        f"{result.events_after_checkpoint} events after the last checkpoint "
        f"(event {result.last_checkpoint_seq}, signed {to_utc_text(result.last_checkpoint_at)})"
    )


def _checkpoint(args: argparse.Namespace) -> int:
    from issuer.wiring import open_hsm

    try:
        config = load_config(args.config)
        hsm = open_hsm(config)
        name = config.hsm.keys.audit
        key = hsm.key_from_uri(name) if name.startswith("pkcs11:") else hsm.get_key(name)
        published = config.ca_dir / PUBLIC_KEY_FILE
        if published.exists():
            expected = key_sha256(load_public_key(published.read_bytes()))
            if key_sha256(key.public_key()) != expected:
                raise AuditKeyError(
                    f"HSM key {name!r} is not the audit key published in {published} "
                    f"(SHA-256 {expected}); expected [hsm.keys] audit to name that key: "
                    "fix the config, checkpoints signed by another key would not verify"
                )
        engine = create_engine_for(config.database.url)
    except (AuditKeyError, ValueError) as exc:  # ConfigError: main(), ZID-0901 + solution
        print(f"zorgid audit checkpoint: {exc}", file=sys.stderr)
        return Exit.USAGE
    try:
        check_schema(engine)
        with write_transaction(engine) as conn:
            made = AuditLog(signer=key).checkpoint(conn)
    except (SchemaOutOfDateError, AuditKeyError) as exc:
        print(f"zorgid audit checkpoint: {exc}", file=sys.stderr)
        return Exit.PROBLEM
    finally:
        engine.dispose()
    if made is None:
        print("audit log is empty: nothing to checkpoint")
    else:
        print(f"checkpoint at event {made.seq} (hash {made.hash}) signed by key {made.key_sha256}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``zorgid audit verify``."""
    audit = subparsers.add_parser("audit", help="the hash-chained audit log")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")
    ver = sub.add_parser(
        "verify",
        help="check every event, the head and the signed checkpoints; exit 1 names the "
        "first bad event",
    )
    add_database_arguments(ver)
    ver.add_argument(
        "--public-key",
        type=Path,
        metavar="PEM",
        help="audit checkpoint public key "
        f"(default with --config: <data_dir>/ca/{PUBLIC_KEY_FILE})",
    )
    ver.add_argument(
        "--known-head",
        type=int,
        metavar="SEQ",
        help="the last event seq seen at a previous verification (detects a cut-off tail "
        "even when head and checkpoints were cut too)",
    )
    ver.add_argument("--json", action="store_true", help="print the result as one JSON object")
    ver.set_defaults(func=_verify)
    cp = sub.add_parser(
        "checkpoint", help="sign the current end of the chain now with the HSM audit key"
    )
    cp.add_argument("--config", required=True, type=Path, metavar="FILE", help="engine config")
    cp.set_defaults(func=_checkpoint)
