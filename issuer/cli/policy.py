"""``zorgid policy check|show``: check a policy document without starting the service.

The officer commands that talk to a running engine (``list``, ``diff``,
``propose``, ``approve``, ``reject``, ``dry-run``, ``show --server``) are added
from :mod:`issuer.cli.policy_admin`.

``check`` loads the document (schema, bounds, unknown keys) and, given the
issuing CA certificate, lints sample certificates of its profile with pkilint
and the fast lint (what activation will do). Exit status (docs/cli.md): 0 usable,
1 refused by the check (the message names the key or the finding), 2 malformed
input, 5 a file missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography import x509

from issuer.cli.failures import Exit
from issuer.cli.policy_admin import add_connection_args, add_remote_commands, run_show_remote
from issuer.lint import lint_profile
from policies import DEFAULT_POLICY_PATH, PolicyError, dump, load_policy


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    policy = subparsers.add_parser("policy", help="issuance policy documents")
    sub = policy.add_subparsers(dest="policy_command", required=True, metavar="POLICY_COMMAND")
    check = sub.add_parser(
        "check",
        help="check a policy document (and lint its profile against an issuing CA)",
        description="Load a policy TOML document as the engine would; with --issuer-cert, "
        "lint sample certificates of its profile with pkilint. Exit 0 usable, 1 refused, "
        "2 unusable input.",
    )
    check.add_argument(
        "file", type=Path, nargs="?", default=DEFAULT_POLICY_PATH, metavar="FILE",
        help="policy TOML (default: the shipped development policy)",
    )  # fmt: skip
    check.add_argument(
        "--issuer-cert", type=Path, metavar="PEM",
        help="issuing CA certificate (PEM or DER) to lint the profile against",
    )  # fmt: skip
    check.set_defaults(func=_check)
    show = sub.add_parser(
        "show",
        help="print the canonical document and its digest (a file, or a version on the engine)",
    )
    show.add_argument("file", type=Path, nargs="?", default=DEFAULT_POLICY_PATH, metavar="FILE")
    show.add_argument(
        "--version", type=int, default=0, metavar="ID",
        help="with --server/--config: which version (default: the active one)",
    )  # fmt: skip
    add_connection_args(show)
    show.set_defaults(func=_show)
    add_remote_commands(sub)


def _load_cert(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def _check(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(Path(args.file))
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return Exit.FILE
    except PolicyError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return Exit.PROBLEM
    print(f"policy {policy.version} digest sha256:{policy.digest}")
    if args.issuer_cert is None:
        print("schema: ok (pass --issuer-cert to lint the profile)")
        return Exit.OK
    try:
        issuer = _load_cert(Path(args.issuer_cert))
    except (OSError, ValueError) as exc:
        print(f"cannot read issuing CA certificate {args.issuer_cert}: {exc}", file=sys.stderr)
        return Exit.FILE if isinstance(exc, OSError) else Exit.USAGE
    try:
        findings = lint_profile(policy, issuer)
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return Exit.PROBLEM
    for finding in findings:
        print(f"finding: {finding}", file=sys.stderr)
    if findings:
        print(f"refused: {len(findings)} lint finding(s) at WARNING or above", file=sys.stderr)
        return Exit.PROBLEM
    print("profile: ok (pkilint and fast lint clean on sample certificates)")
    return Exit.OK


def _show(args: argparse.Namespace) -> int:
    if args.server is not None or args.config is not None:
        return run_show_remote(args)
    try:
        policy = load_policy(Path(args.file))
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return Exit.FILE
    except PolicyError as exc:
        print(f"malformed: {exc}", file=sys.stderr)
        return Exit.USAGE
    print(dump(policy))
    print(f"# sha256:{policy.digest}")
    return Exit.OK
