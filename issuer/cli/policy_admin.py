"""The officer side of ``zorgid policy``: talk to a running engine's PolicyService.

``zorgid policy list|diff|propose FILE|approve ID|reject ID|dry-run ID`` and
``zorgid policy show --server ...`` (``show FILE`` stays local, see
:mod:`issuer.cli.policy`). The officer is whoever holds the client certificate
given with ``--cert/--key`` (mutual TLS, verified by the engine against
``[tls] client_ca``), never a name typed on the command line: that is what the
two-person rule compares.

Connection: ``--server host:port --cert PEM --key PEM --ca PEM``, or
``--config`` of a development environment (``zorgid dev``), which gives the
address, the CA and ``<pki>/clients/<--role>.pem``.

Output: tables and a unified diff (coloured when stdout is a terminal), or
``--json`` for scripts. Exit status (docs/cli.md): 0 done, 2 unusable input,
3 refused by the engine (the ZID code, cause, detail and solution), 4 the engine
not reachable, 5 a file missing. This module defines no ``register``: :mod:`issuer.cli.policy`
adds these sub-commands to its ``policy`` group.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from issuer.cli.failures import CliFailure, Exit, from_rpc
from issuer.cli.progress import progress

EXIT_OK = Exit.OK

__all__ = ["add_connection_args", "add_remote_commands", "run_show_remote"]

_STATE_NAMES = {
    0: "?",
    1: "proposed",
    2: "approved",
    3: "active",
    4: "superseded",
    5: "rejected",
    6: "expired",
}
_OUTCOME_NAMES = {0: "?", 1: "same", 2: "REFUSED", 3: "different"}


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection (the officer's client certificate)")
    group.add_argument("--server", metavar="HOST:PORT", help="the engine's gRPC address")
    group.add_argument("--cert", type=Path, metavar="PEM", help="officer client certificate")
    group.add_argument("--key", type=Path, metavar="PEM", help="its private key")
    group.add_argument("--ca", type=Path, metavar="PEM", help="CA that issued the server cert")
    group.add_argument(
        "--config", type=Path, metavar="TOML", help="a dev environment's config (zorgid dev)"
    )
    group.add_argument(
        "--role",
        default="security-officer",
        help="with --config: which dev client certificate to use (default security-officer)",
    )
    group.add_argument("--json", action="store_true", help="machine-readable output")
    group.add_argument("--timeout", type=float, default=30.0, help="seconds per call")


def add_remote_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add list|diff|propose|approve|reject|dry-run to the ``policy`` group."""
    ls = sub.add_parser("list", help="list policy versions on the engine")
    add_connection_args(ls)
    ls.set_defaults(func=_list)

    diff = sub.add_parser("diff", help="what a version changes (default: against its base)")
    diff.add_argument("version", type=int, metavar="ID")
    diff.add_argument("--against", type=int, default=0, metavar="ID")
    add_connection_args(diff)
    diff.set_defaults(func=_diff)

    prop = sub.add_parser("propose", help="propose a policy document as a new version")
    prop.add_argument("file", type=Path, nargs="?", metavar="FILE", help="policy TOML")
    prop.add_argument(
        "--from-version", type=int, metavar="ID", help="roll back: propose an old version again"
    )
    prop.add_argument("--reason", default="", help="what the change is for (shown to approvers)")
    prop.add_argument(
        "--activate-at", metavar="ISO8601", help="schedule the activation (UTC if no offset)"
    )
    prop.add_argument("--lifetime-hours", type=float, help="how long it may await approval")
    add_connection_args(prop)
    prop.set_defaults(func=_propose)

    approve = sub.add_parser("approve", help="approve a proposed version (not your own)")
    approve.add_argument("version", type=int, metavar="ID")
    add_connection_args(approve)
    approve.set_defaults(func=_approve)

    reject = sub.add_parser("reject", help="reject a proposed or scheduled version")
    reject.add_argument("version", type=int, metavar="ID")
    reject.add_argument("--reason", default="", help="recorded with the rejection")
    add_connection_args(reject)
    reject.set_defaults(func=_reject)

    dry = sub.add_parser("dry-run", help="replay recent requests against a version")
    dry.add_argument("version", type=int, metavar="ID")
    dry.add_argument("--days", type=float, default=30.0, help="how far back (default 30)")
    dry.add_argument("--limit", type=int, default=1000)
    add_connection_args(dry)
    dry.set_defaults(func=_dry_run)


# ---------------------------------------------------------------- connection


class UsageError(Exception):
    """Bad command-line input; the message says what to give instead."""


class _Refused(Exception):
    """A gRPC error of the engine at ``target``, for :func:`issuer.cli.failures.from_rpc`."""

    def __init__(self, error: Any, target: str) -> None:
        super().__init__(target)
        self.error = error
        self.target = target


@dataclass(frozen=True)
class Target:
    address: str
    cert: bytes
    key: bytes
    ca: bytes


def _target(args: argparse.Namespace) -> Target:
    if args.config is not None:
        from issuer.config import load_config

        config = load_config(args.config)
        if config.tls is None:
            raise UsageError(f"{args.config} has no [tls] section; give --server/--cert/--ca")
        host, _, port = config.server.listen.rpartition(":")
        host = "127.0.0.1" if host in ("", "0.0.0.0", "[::]") else host  # noqa: S104
        pki = config.tls.client_ca.parent
        address = args.server or f"{host}:{port}"
        cert = args.cert or pki / "clients" / f"{args.role}.pem"
        key = args.key or pki / "clients" / f"{args.role}.key"
        ca = args.ca or config.tls.client_ca
    else:
        missing = [n for n in ("server", "cert", "key", "ca") if getattr(args, n) is None]
        if missing:
            raise UsageError(
                "missing " + ", ".join(f"--{n}" for n in missing) + "; give --server HOST:PORT "
                "--cert PEM --key PEM --ca PEM, or --config of a dev environment"
            )
        address, cert, key, ca = args.server, args.cert, args.key, args.ca
    try:
        return Target(
            address, Path(cert).read_bytes(), Path(key).read_bytes(), Path(ca).read_bytes()
        )
    except OSError as exc:
        raise CliFailure(Exit.FILE, f"cannot read {exc.filename}: {exc.strerror}") from None


def _call(args: argparse.Namespace, method: str, request: Message) -> Any:
    import grpc

    from issuer.api.zorgid.v1 import policy_pb2_grpc

    target = _target(args)
    creds = grpc.ssl_channel_credentials(
        root_certificates=target.ca, private_key=target.key, certificate_chain=target.cert
    )
    with grpc.secure_channel(target.address, creds) as channel:
        stub = policy_pb2_grpc.PolicyServiceStub(channel)  # type: ignore[no-untyped-call]
        try:
            return getattr(stub, method)(request, timeout=args.timeout)
        except grpc.RpcError as exc:
            raise _Refused(exc, target.address) from None


def _run(args: argparse.Namespace, body: Callable[[], int]) -> int:
    import grpc

    try:
        return body()
    except UsageError as exc:
        raise CliFailure(Exit.USAGE, str(exc)) from None
    except _Refused as refused:
        failure = from_rpc(refused.error, refused.target)
        if args.json and failure.exit == Exit.REFUSED:
            code: grpc.StatusCode = refused.error.code()
            print(json.dumps({"error": code.name, "details": refused.error.details()}))
        raise failure from None


# ---------------------------------------------------------------- output


def _colour(enabled: bool) -> Callable[[str, str], str]:
    codes = {"red": "31", "green": "32", "cyan": "36", "bold": "1"}

    def paint(text: str, colour: str) -> str:
        return f"\033[{codes[colour]}m{text}\033[0m" if enabled else text

    return paint


def _when(message: Message, field: str) -> str:
    if not message.HasField(field):
        return "-"
    stamp = getattr(message, field).ToDatetime(UTC)
    return str(stamp.strftime("%Y-%m-%d %H:%M"))


def _cn(subject: str) -> str:
    first = subject.split(",")[0]
    return first[3:] if first.startswith("CN=") else first


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _version_lines(v: Any) -> str:
    approvals = ", ".join(f"{_cn(a.by)} ({_when(a, 'at')})" for a in v.approvals) or "none"
    return "\n".join(
        [
            f"version      {v.version} ({v.name})",
            f"state        {_STATE_NAMES.get(v.state, '?')}",
            f"proposed     {_when(v, 'proposed_at')} by {v.proposed_by}",
            f"approvals    {len(v.approvals)} of {v.approvals_required}: {approvals}",
            f"expires      {_when(v, 'expires_at')}",
            f"activate at  {_when(v, 'activate_at')}",
            f"activated    {_when(v, 'activated_at')}",
            f"base version {v.base_version or '-'}",
            f"reason       {v.reason or '-'}",
            f"digest       sha256:{v.policy_digest}",
        ]
    )


def _emit_json(message: Message) -> None:
    print(json.dumps(MessageToDict(message, preserving_proto_field_name=True), indent=2))


def _print_diff(text: str) -> None:
    paint = _colour(sys.stdout.isatty())
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            print(paint(line, "bold"))
        elif line.startswith("+"):
            print(paint(line, "green"))
        elif line.startswith("-"):
            print(paint(line, "red"))
        elif line.startswith("@@"):
            print(paint(line, "cyan"))
        else:
            print(line)


# ---------------------------------------------------------------- commands


def _list(args: argparse.Namespace) -> int:
    from issuer.api.zorgid.v1 import policy_pb2

    def body() -> int:
        got = _call(args, "ListPolicies", policy_pb2.ListPoliciesRequest())
        if args.json:
            _emit_json(got)
            return EXIT_OK
        rows = [
            [
                ("* " if v.version == got.active_version else "  ") + str(v.version),
                v.name,
                _STATE_NAMES.get(v.state, "?"),
                _cn(v.proposed_by),
                f"{len(v.approvals)}/{v.approvals_required}",
                _when(v, "proposed_at"),
                _when(v, "expires_at") if v.state == policy_pb2.POLICY_STATE_PROPOSED else "-",
            ]
            for v in got.versions
        ]
        header = ["ID", "NAME", "STATE", "PROPOSED BY", "APPROVALS", "PROPOSED", "EXPIRES"]
        print(_table(rows, header))
        return EXIT_OK

    return _run(args, body)


def _diff(args: argparse.Namespace) -> int:
    from issuer.api.zorgid.v1 import policy_pb2

    def body() -> int:
        got = _call(
            args,
            "DiffPolicy",
            policy_pb2.DiffPolicyRequest(version=args.version, against=args.against),
        )
        if args.json:
            _emit_json(got)
            return EXIT_OK
        print(f"version {got.to_version} against version {got.from_version}:")
        rows = [[c.path, c.kind, c.old_value or "-", c.new_value or "-"] for c in got.changes]
        print(_table(rows, ["KEY", "CHANGE", "OLD", "NEW"]) if rows else "no changes")
        print()
        _print_diff(got.unified_diff)
        return EXIT_OK

    return _run(args, body)


def _propose(args: argparse.Namespace) -> int:
    from issuer.api.zorgid.v1 import policy_pb2

    def body() -> int:
        if (args.file is None) == (args.from_version is None):
            raise UsageError("give a policy FILE or --from-version ID (one of them)")
        if args.file is not None:
            try:
                document = Path(args.file).read_text(encoding="utf-8")
            except OSError as exc:
                raise CliFailure(Exit.FILE, f"cannot read {args.file}: {exc.strerror}") from None
            reason = args.reason
        else:
            old = _call(
                args, "GetPolicy", policy_pb2.GetPolicyRequest(version=args.from_version)
            ).version
            document = old.document
            reason = args.reason or f"roll back to version {old.version} ({old.name})"
        request = policy_pb2.ProposePolicyRequest(document=document, reason=reason)
        if args.activate_at:
            try:
                when = datetime.fromisoformat(args.activate_at)
            except ValueError:
                raise UsageError(
                    f"got --activate-at {args.activate_at!r}; expected ISO 8601 such as "
                    "2026-12-01T06:00:00+01:00"
                ) from None
            request.activate_at.FromDatetime(when if when.tzinfo else when.replace(tzinfo=UTC))
        if args.lifetime_hours:
            request.lifetime_seconds = int(timedelta(hours=args.lifetime_hours).total_seconds())
        got = _call(args, "ProposePolicy", request)
        if args.json:
            _emit_json(got)
            return EXIT_OK
        print(_version_lines(got.version))
        print()
        _print_diff(got.unified_diff)
        print(
            f"\nproposed as version {got.version.version}; another security officer approves "
            f"with: zorgid policy approve {got.version.version}"
        )
        return EXIT_OK

    return _run(args, body)


def _approve(args: argparse.Namespace) -> int:
    from issuer.api.zorgid.v1 import policy_pb2

    def body() -> int:
        got = _call(args, "ApprovePolicy", policy_pb2.ApprovePolicyRequest(version=args.version))
        if args.json:
            _emit_json(got)
            return EXIT_OK
        if not got.counted:
            print("you had already approved this version; an approval counts once")
        print(_version_lines(got.version))
        return EXIT_OK

    return _run(args, body)


def _reject(args: argparse.Namespace) -> int:
    from issuer.api.zorgid.v1 import policy_pb2

    def body() -> int:
        got = _call(
            args,
            "RejectPolicy",
            policy_pb2.RejectPolicyRequest(version=args.version, reason=args.reason),
        )
        if args.json:
            _emit_json(got)
        else:
            print(_version_lines(got.version))
        return EXIT_OK

    return _run(args, body)


def _dry_run(args: argparse.Namespace) -> int:
    from issuer.api.zorgid.v1 import policy_pb2

    def body() -> int:
        request = policy_pb2.DryRunPolicyRequest(version=args.version, limit=args.limit)
        request.since.FromDatetime(datetime.now(UTC) - timedelta(days=args.days))
        with progress(f"replaying requests against version {args.version}", enabled=not args.json):
            got = _call(args, "DryRunPolicy", request)
        if args.json:
            _emit_json(got)
            return EXIT_OK
        rows = [
            [
                i.request_id[:8],
                _when(i, "at"),
                f"{i.card_type} {i.role}",
                str(i.recorded_policy_version or "-"),
                _OUTCOME_NAMES.get(i.outcome, "?"),
                "; ".join(i.reasons),
            ]
            for i in got.items
        ]
        print(_table(rows, ["REQUEST", "AT", "CARD/ROLE", "WAS V", "OUTCOME", "WHY"]))
        print(
            f"\nversion {got.version}: {got.same} same, {got.refused} refused, "
            f"{got.different} different of {len(got.items)} recorded requests"
        )
        return EXIT_OK

    return _run(args, body)


def run_show_remote(args: argparse.Namespace) -> int:
    """``zorgid policy show --server ...``: one version (``--version``, default active)."""
    from issuer.api.zorgid.v1 import policy_pb2

    def body() -> int:
        got = _call(
            args, "GetPolicy", policy_pb2.GetPolicyRequest(version=args.version or 0)
        ).version
        if args.json:
            _emit_json(got)
            return EXIT_OK
        print(_version_lines(got))
        print()
        print(json.dumps(json.loads(got.document), indent=2, sort_keys=True, ensure_ascii=False))
        return EXIT_OK

    return _run(args, body)
