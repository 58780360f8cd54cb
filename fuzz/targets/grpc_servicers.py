"""Every gRPC servicer of ``zorgid serve``, fed protobuf messages made from the input.

The servicers are the composition root's own (:func:`issuer.wiring.default_services`
on the development environment: SQLite, SoftHSM, the test UZI-register), captured
from their bindings by a recording server instead of a real one. Input: byte 0
picks the method (of :func:`methods`, modulo their number), the rest is the
request's wire encoding; bytes that are not a message of that type are what
grpc refuses before any servicer runs, so they are skipped. The call runs as a
caller of one role the method allows (byte 0 divided by the number of methods picks
it: a portal and the operator read differently), with that role's development
client certificate, as the guard would have admitted it.

Documented ends: a response, a :class:`ZorgIdError` other than ZID-0001 (the guard
maps it to its status), or ``context.abort``. Anything else is what the guard
would answer with ZID-0001: a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, cast

import grpc
from google.protobuf import message_factory
from google.protobuf.message import DecodeError

from fuzz.env import config_file, dev_root
from fuzz.refusals import refused
from issuer.api.zorgid.v1 import (
    attribute_pb2,
    ca_pb2,
    certificate_pb2,
    enrollment_pb2,
    errors_pb2,
    login_pb2,
    ocsp_pb2,
    organization_pb2,
    policy_pb2,
    registration_pb2,
    smartcard_pb2,
    uzi_pb2,
)
from issuer.config import Role, load_config
from issuer.errors import ZorgIdError
from issuer.server.roles import METHOD_ROLES, Caller, _set_caller, facts_from_pem
from issuer.wiring import default_services

_MODULES = (
    attribute_pb2,
    ca_pb2,
    certificate_pb2,
    enrollment_pb2,
    errors_pb2,
    login_pb2,
    ocsp_pb2,
    organization_pb2,
    policy_pb2,
    registration_pb2,
    smartcard_pb2,
    uzi_pb2,
)


def methods() -> list[tuple[str, Any]]:
    """(``/service/Method``, request class) of every method in the protos, in a fixed order."""
    found = []
    for module in _MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                request = message_factory.GetMessageClass(method.input_type)
                found.append((f"/{service.full_name}/{method.name}", request))
    return sorted(found, key=lambda m: m[0])


class Aborted(Exception):
    """``context.abort`` was called: the call ended with that status (documented)."""


class FakeContext:
    """What a servicer may touch of its ``grpc.ServicerContext``; abort records and stops."""

    def __init__(self) -> None:
        self.code: grpc.StatusCode | None = None

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        self.code = code
        raise Aborted(details)

    def abort_with_status(self, status: grpc.Status) -> NoReturn:
        self.code = status.code
        raise Aborted(status.details)

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        pass

    def is_active(self) -> bool:
        return True

    def time_remaining(self) -> float:
        return 30.0

    def invocation_metadata(self) -> tuple[()]:
        return ()

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"

    def auth_context(self) -> dict[str, list[bytes]]:
        return {}

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False

    def send_initial_metadata(self, metadata: object) -> None:
        pass

    def set_trailing_metadata(self, metadata: object) -> None:
        pass


Behaviour = Callable[[Any, "FakeContext"], Any]
"""A servicer method as a handler holds it (the context is a :class:`FakeContext` here)."""


class RecordingServer:
    """Takes the method handlers a binding registers (grpc's ``add_*_to_server``)."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        for name, handler in handlers.items():
            self.handlers[f"/{service}/{name}"] = handler

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        pass


def _callers(work: Path) -> dict[Role, Caller]:
    clients = dev_root(work) / "tls" / "clients"
    callers = {}
    for role in Role:
        facts = facts_from_pem((clients / f"{role.value}.pem").read_bytes())
        callers[role] = Caller(
            identity=f"sha256:{facts.sha256_hex}",
            subject=facts.subject,
            roles=frozenset({role}),
            certificate=facts,
        )
    return callers


def build(work: Path) -> Callable[[bytes], None]:
    logging.getLogger().setLevel(logging.CRITICAL)  # refusals are logged at INFO/WARNING
    config = load_config(config_file(work))
    server = RecordingServer()
    for binding in default_services(config):
        binding.add_to(server)  # type: ignore[arg-type]
    callers = _callers(work)
    table = []
    for name, request_type in methods():
        handler = server.handlers.get(name)
        access = METHOD_ROLES.get(name)
        if handler is None or not isinstance(access, frozenset) or not access:
            continue
        behaviour = cast(Behaviour, handler.unary_unary or handler.unary_stream)
        table.append((name, request_type, behaviour, [callers[r] for r in sorted(access)]))

    def one(data: bytes) -> None:
        if not data:
            return
        _name, request_type, behaviour, allowed = table[data[0] % len(table)]
        caller = allowed[data[0] // len(table) % len(allowed)]
        request = request_type()
        try:
            request.ParseFromString(data[1:])
        except DecodeError:
            return
        _set_caller(caller)
        with refused(ZorgIdError, Aborted):
            answer = behaviour(request, FakeContext())
            if isinstance(answer, Iterator):
                for _ in answer:
                    pass

    return one
