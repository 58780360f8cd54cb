"""``zorgid uzi inspect``: read and validate a UZI-pas certificate as the engine would.

The same checks as the proof of presence (:func:`issuer.uzi.checks.inspect_certificate`)
minus the challenge, for support desks and operators: "why is this card
refused?". Exit status: 0 valid, 1 refused (with the ZID code), 2 unusable input.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from issuer.serials import format_serial

if TYPE_CHECKING:  # the real imports are in run_inspect: every `zorgid` command loads this
    from cryptography import x509

    from issuer.uzi.checks import Inspection

REVOCATION_MODES = ("off", "soft", "hard")
USAGES = ("authentication", "signature", "encryption")

EXIT_VALID, EXIT_REFUSED, EXIT_UNUSABLE, EXIT_FILE = 0, 1, 2, 5
"""docs/cli.md: 1 the card is not valid, 2 malformed input, 5 a file missing."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    uzi = subparsers.add_parser("uzi", help="UZI-pas certificates")
    sub = uzi.add_subparsers(dest="uzi_command", required=True, metavar="UZI_COMMAND")
    inspect = sub.add_parser(
        "inspect",
        help="read and validate a UZI-pas certificate",
        description="Read a DER or PEM UZI-pas certificate, validate it against a UZI trust "
        "set and print its UZI identity. Exit 0 when valid, 1 when refused, 2 on unusable input.",
    )
    inspect.add_argument("cert", type=Path, metavar="CERT", help="the card certificate")
    inspect.add_argument(
        "--chain",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="intermediate certificate(s), PEM bundle or DER; repeatable",
    )
    inspect.add_argument(
        "--trust",
        default="prod",
        metavar="prod|acc|DIR",
        help="trust set: shipped 'prod' or 'acc', or a folder (default prod)",
    )
    inspect.add_argument("--at", metavar="ISO-8601", help="validate at this moment (default now)")
    inspect.add_argument(
        "--revocation",
        choices=REVOCATION_MODES,
        default="hard",
        help="CRL checking (default hard)",
    )
    inspect.add_argument(
        "--usage",
        choices=USAGES,
        default="authentication",
        help="which card certificate is expected (default authentication)",
    )
    inspect.add_argument(
        "--crl",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="CRL file to use instead of downloading; repeatable",
    )
    inspect.add_argument("--json", action="store_true", help="print one JSON object")
    inspect.set_defaults(func=run_inspect)
    from issuer.cli import uzi_watch

    uzi_watch.register(sub)


def _parse_at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def result_object(leaf: x509.Certificate, result: Inspection) -> dict[str, Any]:
    """The ``--json`` object (documented in docs/uzi.md)."""
    card = result.card
    ident = card.identity if card is not None else None
    return {
        "valid": result.error is None,
        "error": None
        if result.error is None
        else {"code": result.error.code, "message": result.error.message},
        "kind": card.kind.value if card is not None else None,
        "card_type": ident.card_type.value if ident is not None else None,
        "uzi_number": ident.uzi_number if ident else None,
        "subscriber_number": ident.subscriber_number if ident else None,
        "role": ident.role if ident else None,
        "agb_code": ident.agb_code if ident else None,
        "given_name": ident.given_name if ident else None,
        "surname": ident.surname if ident else None,
        "common_name": ident.common_name if ident else None,
        "title": ident.title if ident else None,
        "organization": ident.organization if ident else None,
        "ca_oid": card.ca_oid if card is not None else None,
        "issuer": leaf.issuer.rfc4514_string(),
        "serial": format_serial(leaf.serial_number),
        "not_before": _iso(leaf.not_valid_before_utc),
        "not_after": _iso(leaf.not_valid_after_utc),
        "chain": list(result.chain),
    }


def run_inspect(args: argparse.Namespace) -> int:
    from issuer.uzi import errors
    from issuer.uzi.card import CertKind, load_certificate
    from issuer.uzi.checks import inspect_certificate
    from issuer.uzi.crl import CrlCache, CrlRefresher, CrlUnavailable
    from issuer.uzi.errors import UziError
    from issuer.uzi.validate import ChainValidator, RevocationMode

    try:
        at = _parse_at(args.at)
    except ValueError:
        print(
            f"zorgid uzi inspect: --at {args.at!r} is not ISO-8601 (e.g. 2026-06-01T12:00:00Z)",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    try:
        data = args.cert.read_bytes()
        chain = [p.read_bytes() for p in args.chain]
        crls = CrlCache()
        for path in args.crl:
            crls.load_file(path)
        leaf = load_certificate(data)
        validator = ChainValidator(crls=crls)

        inspect = functools.partial(
            inspect_certificate,
            data,
            chain=chain,
            trust=args.trust,
            at=at,
            revocation=RevocationMode(args.revocation),
            usage=CertKind(args.usage),
            validator=validator,
        )
        result = inspect()
        if result.error is not None and result.error.code == errors.REVOCATION_PENDING:
            # A one-shot tool may wait for the CRLs of the path that verified (issue 16:
            # only those are ever named for fetching), bounded by one fetch deadline.
            refresher = CrlRefresher(crls)
            refresher.start()
            try:
                refresher.refresh_now(timeout=refresher.limits.deadline_seconds)
            finally:
                refresher.stop()
            result = inspect()
    except OSError as exc:
        print(f"zorgid uzi inspect: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_FILE
    except CrlUnavailable as exc:
        print(f"zorgid uzi inspect: --crl: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except UziError as exc:
        if args.json:
            print(json.dumps({"valid": False, "error": {"code": exc.code, "message": exc.message}}))
        else:
            print(f"zorgid uzi inspect: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    obj = result_object(leaf, result)
    if args.json:
        print(json.dumps(obj, indent=2, ensure_ascii=False))
    else:
        width = max(len(k) for k in obj)
        for key, value in obj.items():
            if key == "chain":
                print(
                    f"{key:<{width}}  "
                    + "\n".join((" " * (width + 2) if i else "") + s for i, s in enumerate(value))
                )
            elif key == "error" and value is not None:
                print(f"{key:<{width}}  {value['code']}: {value['message']}")
            else:
                print(f"{key:<{width}}  {value if value is not None else '-'}")
    return EXIT_VALID if result.error is None else EXIT_REFUSED
