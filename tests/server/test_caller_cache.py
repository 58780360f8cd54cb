"""The guard builds a caller once per verified certificate, and only per certificate.

Roles are a function of the certificate and the ``[roles]`` rules; the guard
keeps the :class:`~issuer.server.roles.Caller` of each PEM grpc verified, so
the calls of one connection do not parse, hash and match it again. The cache
key must be the certificate itself: another certificate with the same
subject (a re-issued one, with other role URIs) gets its own roles.
"""

from __future__ import annotations

from typing import Any

import grpc

from issuer.config import Role, RoleRule
from issuer.server.interceptors import GuardInterceptor
from issuer.server.roles import METHOD_ROLES, RoleMapper
from tests.server.pki import ROLE_URI, issue, make_ca


class _Context:
    """What the guard reads of a call: grpc's auth context (filled after verification)."""

    def __init__(self, pem: bytes) -> None:
        self._pem = pem

    def auth_context(self) -> dict[str, Any]:
        return {"x509_pem_cert": [self._pem]}

    def peer(self) -> str:
        return "ipv4:127.0.0.1:1"

    def abort_with_status(self, status: object) -> None:
        raise AssertionError(f"refused: {status}")


def _guard() -> GuardInterceptor:
    rules = tuple(RoleRule(role=r, san_uri=f"{ROLE_URI}{r.value}") for r in Role)
    return GuardInterceptor(table=METHOD_ROLES, mapper=RoleMapper(rules))


def test_one_caller_per_certificate_and_roles_per_certificate_not_subject() -> None:
    ca = make_ca("cache test CA")
    mobile = issue(ca, "gateway", uris=(f"{ROLE_URI}mobile",)).cert_pem
    portal = issue(ca, "gateway", uris=(f"{ROLE_URI}portal",)).cert_pem  # same subject
    guard = _guard()

    first = guard._caller(_Context(mobile))  # type: ignore[arg-type]
    again = guard._caller(_Context(mobile))  # type: ignore[arg-type]
    assert first is not None and first is again
    assert first.roles == frozenset({Role.MOBILE})

    other = guard._caller(_Context(portal))  # type: ignore[arg-type]
    assert other is not None and other.subject == first.subject
    assert other.roles == frozenset({Role.PORTAL}) and other.identity != first.identity

    method = "/zorgid.v1.EnrollmentService/RedeemEnrollment"
    assert guard._admit(method, _Context(mobile)) is first  # type: ignore[arg-type]


def test_another_role_mapping_is_another_cache() -> None:
    ca = make_ca("cache test CA 2")
    pem = issue(ca, "gateway", uris=(f"{ROLE_URI}mobile",)).cert_pem
    mobile_rules = _guard()
    no_rules = GuardInterceptor(table=METHOD_ROLES, mapper=RoleMapper(()))
    seen = mobile_rules._caller(_Context(pem))  # type: ignore[arg-type]
    assert seen is not None and seen.roles == frozenset({Role.MOBILE})
    unmapped = no_rules._caller(_Context(pem))  # type: ignore[arg-type]
    assert unmapped is not None and unmapped.roles == frozenset()


def test_the_guarded_handler_is_built_once_per_registered_handler() -> None:
    guard = _guard()
    method = "/zorgid.v1.EnrollmentService/RedeemEnrollment"

    class Details:
        def __init__(self, name: str) -> None:
            self.method = name
            self.invocation_metadata = ()

    def echo(request: bytes, context: Any) -> bytes:
        return request

    first = grpc.unary_unary_rpc_method_handler(echo)
    wrapped = guard.intercept_service(lambda _: first, Details(method))  # type: ignore[arg-type]
    assert wrapped is not None and wrapped.unary_unary is not echo  # guarded
    assert guard.intercept_service(lambda _: first, Details(method)) is wrapped  # type: ignore[arg-type]
    second = grpc.unary_unary_rpc_method_handler(echo)  # re-registered: wrapped anew
    rewrapped = guard.intercept_service(lambda _: second, Details(method))  # type: ignore[arg-type]
    assert rewrapped is not None and rewrapped is not wrapped
    assert guard.intercept_service(lambda _: None, Details("/x.Y/Z")) is None  # type: ignore[arg-type]
    assert "/x.Y/Z" not in guard._wrapped
