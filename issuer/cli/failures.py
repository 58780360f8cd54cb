"""The CLI's one exit-code scheme and the one place expected failures become a message.

Every command returns (or raises) into :func:`issuer.cli.main`, which turns an
expected failure into one or two lines -- a ZID code with the catalogue's cause
and solution, or a sentence naming the file, address or what to do -- and the
exit status of :class:`Exit` (docs/cli.md). Anything not classified here is a
bug and still traces, so it is not hidden behind a vague line.
"""

from __future__ import annotations

import enum
import errno
import os
import sys
from dataclasses import dataclass
from typing import Any

from hsm import (
    HsmError,
    HsmUnavailable,
    KeyNotFound,
    PinIncorrect,
    PinSourceError,
    TokenNotFound,
)
from issuer.errors import CATALOGUE, Code, Status, ZorgIdError

SOFTHSM_CONF_BESIDE = ("softhsm", "softhsm2.conf")
"""Where ``zorgid dev`` keeps SoftHSM's configuration, relative to its ``zorgid.toml``."""


class Exit(enum.IntEnum):
    """Exit statuses of every ``zorgid`` command (docs/cli.md, "Exit status")."""

    OK = 0
    PROBLEM = 1
    """The command ran and found a problem (a check failed, a step of a walk failed)."""
    USAGE = 2
    """Usage or malformed input: unknown option, bad TOML, a serial that is no number."""
    REFUSED = 3
    """A refusal by the engine or a domain error with a ZID code."""
    UNREACHABLE = 4
    """The engine or a dependency is not reachable: gRPC UNAVAILABLE, database, HSM token
    (or the address to listen on is taken)."""
    FILE = 5
    """A file is missing or unreadable."""
    INTERRUPTED = 130


@dataclass(frozen=True)
class CliFailure(Exception):
    """An expected failure: its exit status and the one or two lines that explain it."""

    exit: Exit
    message: str
    solution: str = ""

    def lines(self) -> list[str]:
        """What is printed to stderr, after the command's name."""
        return [self.message, f"solution: {self.solution}"] if self.solution else [self.message]


def _exit_for(code: str) -> Exit:
    spec = CATALOGUE.get(code)
    if code in (Code.ZID_0005, Code.ZID_0901):  # a malformed field, an invalid config
        return Exit.USAGE
    if spec is not None and spec.status == Status.UNAVAILABLE:
        return Exit.UNREACHABLE
    return Exit.REFUSED


def from_zorgid(exc: ZorgIdError) -> CliFailure:
    """A domain error: its code, cause and detail, and the catalogue's solution."""
    return CliFailure(_exit_for(exc.code), exc.message, exc.spec.solution_en)


def _zid_reason(exc: Any) -> str | None:
    """The ZID code in the ``ErrorInfo`` of a gRPC error's status details, if any."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    try:
        status = rpc_status.from_call(exc)
    except ValueError:  # details that contradict the call's code: trust the code alone
        return None
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return None


def from_rpc(exc: Any, target: str = "") -> CliFailure:
    """A gRPC error from the engine (``grpc.RpcError``): the one mapping every command uses."""
    import grpc

    code: grpc.StatusCode = exc.code()
    details = exc.details() or ""
    where = f" at {target}" if target else ""
    reason = _zid_reason(exc)
    if reason is not None and reason in CATALOGUE:
        spec = CATALOGUE[reason]
        text = details if details.startswith(reason) else f"{reason}: {spec.cause_en} {details}"
        return CliFailure(_exit_for(reason), text.strip(), spec.solution_en)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return CliFailure(
            Exit.UNREACHABLE,
            f"engine{where} not reachable ({code.name}: {details})",
            "start it (make run / zorgid serve) or check the address and the client "
            "certificate given (--server/--config, --cert/--key/--ca)",
        )
    return CliFailure(Exit.REFUSED, f"refused by the engine{where} ({code.name}): {details}")


def _token_not_found(exc: TokenNotFound) -> CliFailure:
    conf = os.environ.get("SOFTHSM2_CONF")
    if conf:
        hint = (
            f"SOFTHSM2_CONF is {conf}: check that its directories.tokendir holds the token, "
            "or fix [hsm] token/module in the config"
        )
    else:
        hint = (
            "SoftHSM finds its tokens through SOFTHSM2_CONF, which is not set: export "
            "SOFTHSM2_CONF=<the softhsm2.conf whose tokendir holds the token> (for `zorgid dev`: "
            "var/softhsm/softhsm2.conf), or fix [hsm] token/module in the config"
        )
    return CliFailure(Exit.UNREACHABLE, f"HSM token not found: {exc}", hint)


def _from_hsm(exc: HsmError) -> CliFailure:
    if isinstance(exc, TokenNotFound):
        return _token_not_found(exc)
    if isinstance(exc, HsmUnavailable):
        return CliFailure(Exit.UNREACHABLE, f"HSM not reachable: {exc}", "retry when it is back")
    if isinstance(exc, PinSourceError):
        return CliFailure(Exit.FILE, f"cannot read the HSM PIN: {exc}")
    if isinstance(exc, (PinIncorrect, KeyNotFound)):
        return CliFailure(Exit.REFUSED, f"refused by the HSM: {exc}")
    return CliFailure(Exit.REFUSED, f"HSM: {exc}")


def _from_database(exc: Exception) -> CliFailure:
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    return CliFailure(
        Exit.UNREACHABLE,
        f"database not usable: {type(exc).__name__}: {first}",
        "check [database] url (or --database) and that the database server is up; "
        "then `zorgid db check`",
    )


_LISTEN_SOLUTION = "stop what listens there or choose another address"


def classify(exc: BaseException) -> CliFailure | None:
    """The expected failure ``exc`` is, or None for a bug (which then traces)."""
    if isinstance(exc, CliFailure):
        return exc
    if isinstance(exc, ZorgIdError):
        return from_zorgid(exc)
    if isinstance(exc, HsmError):
        return _from_hsm(exc)
    from issuer.store import SchemaOutOfDateError

    if isinstance(exc, SchemaOutOfDateError):  # its message names `zorgid db upgrade`
        return CliFailure(Exit.PROBLEM, str(exc))
    grpc = sys.modules.get("grpc")  # only commands that talk to an engine load grpc
    if grpc is not None and isinstance(exc, grpc.RpcError):
        return from_rpc(exc)
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is not None and isinstance(exc, sqlalchemy_exc.SQLAlchemyError):
        return _from_database(exc)
    from issuer.config import ListenError

    if isinstance(exc, ListenError):  # its message names the address and the key setting it
        return CliFailure(Exit.UNREACHABLE, str(exc), _LISTEN_SOLUTION)
    if isinstance(exc, OSError) and exc.filename is not None:
        return CliFailure(Exit.FILE, f"cannot read {exc.filename}: {exc.strerror}")
    if isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
        return CliFailure(
            Exit.UNREACHABLE,
            f"cannot listen: {exc.strerror}",
            _LISTEN_SOLUTION + " (--listen, --ocsp-listen, [server] listen, [ocsp] listen)",
        )
    return None


def missing_config(args: Any) -> CliFailure | None:
    """``--config FILE`` that is not a readable file: exit 5 before anything is opened."""
    config = getattr(args, "config", None)
    if config is None or (os.path.isfile(config) and os.access(config, os.R_OK)):
        return None
    why = "not a file" if os.path.exists(config) else "no such file"
    return CliFailure(Exit.FILE, f"cannot read --config {config}: {why}")


def use_dev_softhsm_conf(args: Any) -> str | None:
    """Point SoftHSM at the dev environment's conf beside ``--config``, if none is set.

    ``zorgid dev`` keeps its token under ``var/softhsm`` and sets SOFTHSM2_CONF
    only for itself; a later ``zorgid ocsp refresh --config var/zorgid.toml``
    would otherwise not see the token (docs/decisions/cli.md). Returns the line
    to tell the user, or None when nothing was changed.
    """
    config = getattr(args, "config", None)
    if config is None or os.environ.get("SOFTHSM2_CONF"):
        return None
    beside = os.path.join(os.path.dirname(os.path.abspath(str(config))), *SOFTHSM_CONF_BESIDE)
    if not os.path.isfile(beside):
        return None
    os.environ["SOFTHSM2_CONF"] = beside
    return f"info: SOFTHSM2_CONF not set; using {beside}, the dev environment's beside {config}"
