"""``zorgid certs list|show|revoke`` and ``zorgid issuance stale`` (operators).

Serials are printed as openssl prints them and taken in any common form
(:mod:`issuer.serials`). ``list`` prints a table, or JSON lines with ``--json``,
streamed page by page; ``revoke`` shows the certificate and asks before it acts
(``--yes`` for scripts; no terminal and no ``--yes``: refused, exit 2).

``issuance stale`` lists serial reservations still ``reserved`` after a grace
period: issuances a crash interrupted (docs/issuance-cycle.md, "After a
crash"). The serial of such a row is never drawn again; the operator checks
the HSM's log and marks it, and the audit log keeps the story.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.x509.oid import NameOID

from issuer.cli.failures import CliFailure, Exit
from issuer.cli.table import Column, Table, stdout_closed
from issuer.config import load_config
from issuer.errors import ZorgIdError
from issuer.issuance.records import IssuedCertificate
from issuer.serials import ACCEPTED_FORMS, format_serial, parse_serial, store_form
from issuer.store import Engine, create_engine_for
from issuer.store.cli_support import add_database_arguments, resolve


def _engine(args: argparse.Namespace) -> Engine:
    url, _config = resolve(args)
    return create_engine_for(url)


def _serial_arg(text: str | None) -> str | None:
    """A serial the operator typed, as the store keys it (ZID-0005, exit 2, if malformed)."""
    return None if text is None else store_form(parse_serial(text))


def _printed(stored: str) -> str:
    """A stored serial (lowercase hex) as openssl prints it."""
    return format_serial(int(stored, 16))


def _subject(cert: IssuedCertificate) -> str:
    """The subject's common name (the short name a person reads), else the whole DN."""
    subject = cert.certificate.subject
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else subject.rfc4514_string()


def _describe(cert: IssuedCertificate) -> dict[str, Any]:
    return {
        "id": cert.id,
        "serial": _printed(cert.serial),
        "subject": _subject(cert),
        "status": cert.status,
        "not_before": cert.not_before.isoformat(),
        "not_after": cert.not_after.isoformat(),
        "revoked_at": cert.revoked_at.isoformat() if cert.revoked_at else None,
        "revocation_reason": cert.revocation_reason,
        "person_id": cert.person_id,
        "mobile_id": cert.mobile_id_id,
        "policy_version": cert.policy_version,
        "usage": str(cert.usage),
    }


LIST_COLUMNS = (
    Column("SERIAL", 40),  # 20 octets at most (RFC 5280 §4.1.2.2)
    Column("STATE", 7),
    Column("NOT BEFORE", 16),
    Column("NOT AFTER", 16),
    Column("USAGE", 19),
    Column("POLICY", 6),
    Column("SUBJECT", 0),
)


def _state(cert: IssuedCertificate, now: datetime) -> str:
    if cert.status == "good" and cert.not_after <= now:
        return "expired"
    return cert.status


def _certificates(engine: Engine, args: argparse.Namespace) -> Iterable[IssuedCertificate]:
    """``--all``: every certificate, a page per read; else one person's or mobile ID's
    (a handful), newest first, as before."""
    from issuer.issuance.certificates import list_certificates
    from issuer.store.certificates import certificates_in_pages

    if args.all:
        rows = certificates_in_pages(engine, page=args.page)
        return (IssuedCertificate.from_row(row) for row in rows)
    return list_certificates(engine, person_id=args.person, mobile_id_id=args.mobile_id)


def _cells(cert: IssuedCertificate, now: datetime) -> list[str]:
    return [
        _printed(cert.serial),
        _state(cert, now),
        _minute(cert.not_before),
        _minute(cert.not_after),
        str(cert.usage),
        str(cert.policy_version),
        _subject(cert),
    ]


def _list(args: argparse.Namespace) -> int:
    engine = _engine(args)
    table = Table(LIST_COLUMNS)
    now = datetime.now(UTC)
    count = 0
    try:
        for cert in _certificates(engine, args):
            if args.json:
                print(json.dumps(_describe(cert), sort_keys=True))
            else:
                if count == 0:
                    print(table.header())
                print(table.row(_cells(cert, now)))
            count += 1
    except BrokenPipeError:
        return stdout_closed()
    finally:
        engine.dispose()
    if not args.json:
        print(f"{count} certificate(s)", file=sys.stderr)
    return 0


def _minute(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _show(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization

    from issuer.issuance.certificates import get_certificate, validity_reason

    engine = _engine(args)
    try:
        cert = get_certificate(engine, certificate_id=args.id, serial=_serial_arg(args.serial))
        why = validity_reason(engine, cert)
    finally:
        engine.dispose()
    print(json.dumps({**_describe(cert), "not_after_reason": why}, sort_keys=True, indent=2))
    if args.pem:
        print(cert.certificate.public_bytes(serialization.Encoding.PEM).decode(), end="")
    return 0


def _confirm(cert: IssuedCertificate, reason: str, *, yes: bool) -> bool:
    """Show what will be revoked and ask on a terminal; refuse (exit 2) where nobody can answer."""
    print(
        f"certificate {cert.id}\n  serial   {_printed(cert.serial)}\n"
        f"  subject  {_subject(cert)}\n  usage    {cert.usage}\n"
        f"  valid    {_minute(cert.not_before)} to {_minute(cert.not_after)} UTC\n"
        f"  status   {cert.status}\nwill be revoked with reason {reason} (this cannot be undone)",
        file=sys.stderr,
    )
    if yes:
        return True
    if not sys.stdin.isatty():
        raise CliFailure(
            Exit.USAGE,
            "not revoked: no terminal to confirm on",
            "pass --yes to revoke without asking (scripts)",
        )
    print("revoke? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _revoke(args: argparse.Namespace) -> int:
    from issuer.audit import AuditLog
    from issuer.ca import load_ca_material
    from issuer.issuance.certificates import get_certificate, revoke
    from issuer.issuance.records import Actor
    from issuer.wiring import open_hsm

    config = load_config(args.config)
    engine = create_engine_for(config.database.url)
    try:
        cert = get_certificate(engine, certificate_id=args.id, serial=_serial_arg(args.serial))
        if not _confirm(cert, args.reason, yes=args.yes):
            print("not revoked", file=sys.stderr)
            return Exit.PROBLEM
        material = load_ca_material(config.data_dir)
        hsm = open_hsm(config)
        audit = AuditLog(signer=hsm.get_key(material.audit_key_label))
        revoked = revoke(
            engine,
            audit,
            certificate_id=cert.id,
            reason=args.reason,
            actor=Actor(role="operator", identity=f"cli:{getpass.getuser()}"),
        )
    finally:
        engine.dispose()
    print(json.dumps(_describe(revoked), sort_keys=True))
    return 0


def _stale(args: argparse.Namespace) -> int:
    from issuer.issuance.certificates import stale_reservations

    engine = _engine(args)
    older_than = datetime.now(UTC) - timedelta(seconds=args.older_than)
    try:
        rows = stale_reservations(engine, older_than=older_than)
    finally:
        engine.dispose()
    for row in rows:
        print(
            json.dumps(
                {
                    "issuer": row.issuer,
                    "serial": _printed(row.serial),
                    "reserved_at": row.created_at.isoformat(),
                    "registration_id": row.registration_id,
                    "policy_version": row.policy_version,
                    "request_sha256": row.request_sha256,
                },
                sort_keys=True,
            )
        )
    print(f"{len(rows)} stale reservation(s) older than {args.older_than} s", file=sys.stderr)
    return 1 if rows and args.fail_if_any else 0


def _lint_scan(args: argparse.Namespace) -> int:
    from issuer.issuance.certificates import lint_scan

    engine = _engine(args)
    since = datetime.now(UTC) - timedelta(hours=args.hours) if args.hours else None
    try:
        bad = lint_scan(engine, issued_after=since)
    finally:
        engine.dispose()
    for cert, findings in bad:
        print(json.dumps({"id": cert.id, "serial": _printed(cert.serial), "findings": findings}))
    print(f"{len(bad)} certificate(s) with pkilint findings at WARNING or above", file=sys.stderr)
    return 1 if bad else 0


def _guarded(func: Any) -> Any:
    """A ValueError here is malformed input (a serial that is no hex number); the rest is main's."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except ZorgIdError:
            raise
        except ValueError as exc:
            raise CliFailure(Exit.USAGE, str(exc)) from None

    return run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    certs = subparsers.add_parser("certs", help="list, show and revoke issued certificates")
    sub = certs.add_subparsers(dest="certs_command", required=True)

    listing = sub.add_parser(
        "list", help="certificates: all, or of a person or a mobile ID (a table, or --json)"
    )
    add_database_arguments(listing)
    who = listing.add_mutually_exclusive_group(required=True)
    who.add_argument("--all", action="store_true", help="every certificate (read page by page)")
    who.add_argument("--person", help="person id")
    who.add_argument("--mobile-id", help="mobile ID id")
    listing.add_argument("--json", action="store_true", help="one JSON object a line (scripts)")
    listing.add_argument(
        "--page", type=int, default=500, help="with --all: certificates per read (default 500)"
    )
    listing.set_defaults(func=_guarded(_list))

    show = sub.add_parser(
        "show", help="one certificate by id or serial, and why its notAfter is that date"
    )
    add_database_arguments(show)
    which = show.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", help="certificate id")
    which.add_argument("--serial", help=f"serial number: {ACCEPTED_FORMS}")
    show.add_argument("--pem", action="store_true", help="print the certificate PEM too")
    show.set_defaults(func=_guarded(_show))

    rev = sub.add_parser(
        "revoke", help="revoke once, with an RFC 5280 reason (audited); asks first unless --yes"
    )
    rev.add_argument("--config", required=True, type=Path, help="the engine's TOML config")
    target = rev.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", help="certificate id")
    target.add_argument("--serial", help=f"serial number: {ACCEPTED_FORMS}")
    rev.add_argument(
        "--yes",
        action="store_true",
        help="revoke without asking (scripts; required off a terminal)",
    )
    rev.add_argument(
        "--reason",
        required=True,
        choices=[
            "unspecified",
            "keyCompromise",
            "affiliationChanged",
            "superseded",
            "cessationOfOperation",
            "privilegeWithdrawn",
        ],
    )
    rev.set_defaults(func=_guarded(_revoke))

    issuance = subparsers.add_parser("issuance", help="state of the issuance cycle")
    isub = issuance.add_subparsers(dest="issuance_command", required=True)
    stale = isub.add_parser(
        "stale", help="reservations a crash left 'reserved' (intent recorded, nothing stored)"
    )
    add_database_arguments(stale)
    stale.add_argument(
        "--older-than",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="only reservations at least this old (default 300: issuance takes milliseconds)",
    )
    stale.add_argument(
        "--fail-if-any", action="store_true", help="exit 1 when any is found (for monitoring)"
    )
    stale.set_defaults(func=_guarded(_stale))

    scan = isub.add_parser(
        "lint-scan", help="pkilint the stored certificates (conformance scan); exit 1 on findings"
    )
    add_database_arguments(scan)
    scan.add_argument(
        "--hours", type=float, default=0.0, help="only certificates of the last HOURS (0: all)"
    )
    scan.set_defaults(func=_guarded(_lint_scan))
