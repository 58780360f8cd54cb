"""``zorgid audit verify``: check the audit hash chain and its signed checkpoints."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from issuer.audit import AuditKeyError, CheckpointVerifier, load_public_key, verify_chain
from issuer.config import ConfigError
from issuer.store import create_engine_for
from issuer.store.cli_support import add_database_arguments, resolve

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
                raise AuditKeyError(
                    f"cannot read the audit public key {key_path}: {exc.strerror}; expected the "
                    f"PEM written by `zorgid ca init` (<data_dir>/ca/{PUBLIC_KEY_FILE})"
                ) from None
        engine = create_engine_for(url)
    except (ConfigError, AuditKeyError, ValueError) as exc:
        print(f"zorgid audit verify: {exc}", file=sys.stderr)
        return 2
    try:
        result = verify_chain(engine, public_key, known_head=args.known_head)
    except SQLAlchemyError as exc:
        print(
            f"zorgid audit verify: cannot read the audit log: {exc.__class__.__name__}; "
            "check the URL and run `zorgid db check`",
            file=sys.stderr,
        )
        return 2
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(dataclasses.asdict(result), sort_keys=True))
    elif result.ok:
        print(
            f"audit chain OK: {result.events_checked} events, {result.checkpoints_checked} "
            f"signed checkpoints, head seq {result.last_seq} hash {result.last_hash}"
        )
        if public_key is None:
            print("warning: no public key given; checkpoints were not checked", file=sys.stderr)
    else:
        print(
            f"audit chain BROKEN at event {result.first_bad_seq}: {result.problem}",
            file=sys.stderr,
        )
    return 0 if result.ok else 1


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
