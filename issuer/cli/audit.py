"""``zorgid audit verify|checkpoint|list|export``.

``verify`` checks the hash chain and its signed checkpoints (docs/audit.md);
``checkpoint`` signs the current head now with the audit key in the HSM, e.g.
nightly or before a backup, so the newest events are covered by a signature too.
``list`` (a table) and ``export`` (JSON lines, every column, so each line's hash
can be recomputed and the chain followed) read events streamed from the store,
filtered by time, actor and kind.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

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
from issuer.cli.progress import progress
from issuer.cli.table import Column, Table, stdout_closed
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
        with progress("verifying the audit chain", total=0, enabled=not args.json) as update:
            result = verify_chain(engine, public_key, known_head=args.known_head, progress=update)
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


LIST_COLUMNS = (
    Column("SEQ", 8),
    Column("AT", 20),
    Column("ROLE", 16),
    Column("ACTOR", 30),
    Column("KIND", 30),
    Column("OUTCOME", 8),
    Column("SUBJECT", 0),
)


def _moment(text: str) -> datetime:
    """``--since``/``--until``: RFC 3339 (``2026-12-07T10:00:00Z``) or a date (its midnight, UTC).

    A time without an offset is taken as UTC, as the log stores it.
    """
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is no time: expected RFC 3339 (2026-12-07T10:00:00Z) or a date (2026-12-07)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _events(args: argparse.Namespace) -> Iterator[Any]:
    """The events the filters select, read page by page (the engine disposed at the end)."""
    from issuer.store.audit import events_in_pages

    url, _config = resolve(args)
    engine = create_engine_for(url)
    try:
        yield from events_in_pages(
            engine,
            since=args.since,
            until=args.until,
            actors=args.actor or (),
            kinds=args.kind or (),
            page=args.page,
        )
    finally:
        engine.dispose()


def _record(row: Any) -> dict[str, Any]:
    """Every column of an event as stored: ``details`` is the canonical JSON text that was
    hashed, ``occurred_at`` its stored text, so ``issuer.audit.event_hash`` gives ``hash``."""
    return {
        "seq": int(row.seq),
        "occurred_at": to_utc_text(row.occurred_at),
        "actor_role": row.actor_role,
        "actor_identity": row.actor_identity,
        "action": row.action,
        "subject": row.subject,
        "outcome": row.outcome,
        "details": row.details,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def _list(args: argparse.Namespace) -> int:
    try:
        count = _print_table(args)
    except BrokenPipeError:
        return stdout_closed()
    print(f"{count} event(s)", file=sys.stderr)
    return Exit.OK


def _print_table(args: argparse.Namespace) -> int:
    table = Table(LIST_COLUMNS)
    count = 0
    for row in _events(args):
        if count == 0:
            print(table.header())
        at = row.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(
            table.row(
                [
                    str(row.seq), at, row.actor_role, row.actor_identity,
                    row.action, row.outcome, row.subject,
                ]
            )
        )  # fmt: skip
        count += 1
    return count


def _export(args: argparse.Namespace) -> int:
    from issuer.files import open_private_file

    if args.out is None:
        try:
            count = _write_lines(args, sys.stdout.buffer)
            sys.stdout.flush()
        except BrokenPipeError:
            return stdout_closed()
    else:
        try:
            with open_private_file(args.out) as out:
                count = _write_lines(args, out)
        except FileExistsError:
            raise CliFailure(
                Exit.FILE,
                f"{args.out} exists: an export never overwrites a file",
                "choose another --out, or move the old export away",
            ) from None
        except OSError as exc:
            if exc.filename is None:
                raise
            raise CliFailure(Exit.FILE, f"cannot write {exc.filename}: {exc.strerror}") from None
    print(f"{count} event(s) exported", file=sys.stderr)
    return Exit.OK


def _write_lines(args: argparse.Namespace, out: Any) -> int:
    count = 0
    for row in _events(args):
        out.write(json.dumps(_record(row), sort_keys=True, ensure_ascii=False).encode() + b"\n")
        count += 1
    return count


def _add_filters(parser: argparse.ArgumentParser) -> None:
    add_database_arguments(parser)
    parser.add_argument(
        "--since", type=_moment, metavar="TIME",
        help="events at or after TIME: RFC 3339 (2026-12-07T10:00:00Z) or a date (UTC midnight)",
    )  # fmt: skip
    parser.add_argument(
        "--until", type=_moment, metavar="TIME", help="events before TIME (same forms; exclusive)"
    )
    parser.add_argument(
        "--actor", action="append", metavar="WHO",
        help="events whose actor role (operator, engine, ...) or identity is WHO; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--kind", action="append", metavar="ACTION",
        help="events of this action (certificate.revoke), or a prefix ending in * "
        "(certificate.*); repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--page", type=int, default=500, help="events per database read (default 500)"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``zorgid audit verify|checkpoint|list|export``."""
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
    listing = sub.add_parser("list", help="events as a table, oldest first (filters below)")
    _add_filters(listing)
    listing.set_defaults(func=_list)
    export = sub.add_parser(
        "export", help="events as JSON lines with every stored field, hash chain included"
    )
    _add_filters(export)
    export.add_argument(
        "--out", type=Path, metavar="FILE", help="write to a new FILE (0600) instead of stdout"
    )
    export.set_defaults(func=_export)
