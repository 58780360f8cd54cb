"""The one interceptor every RPC passes: authenticate, authorise, translate errors.

Order, for each call:

1. **Authenticate** from the TLS auth context (``x509_pem_cert``), which grpc
   fills only after it verified the peer's chain against ``[tls] client_ca``
   (``require_client_auth=True``). No certificate -> ``UNAUTHENTICATED``
   (ZID-0002). Metadata is never consulted: the caller writes it.
2. **Authorise** against the per-method table (:mod:`issuer.server.roles`).
   A method without an entry is refused for everyone; a caller without an
   allowed role gets ``PERMISSION_DENIED`` (ZID-0003) naming the method and
   the caller's certificate subject and roles.
3. **Run** the servicer with the caller available via
   :func:`issuer.server.roles.current_caller`, and turn what it raises into a
   status in this one place: a :class:`~issuer.errors.ZorgIdError` becomes a
   ``google.rpc.Status`` with ``ErrorInfo{reason=code, domain="zorg-id"}`` and
   ``LocalizedMessage`` in en and nl-NL (AIP-193 style rich errors, carried
   in the ``grpc-status-details-bin`` trailer); any other exception becomes
   ``INTERNAL`` (ZID-0001) with nothing of its text, which is logged instead, except
   the database's own passing failures (:func:`issuer.store.errors.is_unavailable`):
   ``UNAVAILABLE`` (ZID-0004), as the catalogue promises, so clients retry.

The caller and the ZID code of a refusal or translated error are noted on the
call's :class:`CallNote`, which the call observer outside the guard
(:mod:`issuer.server.call_metrics`) writes into the call's access line.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Final, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from issuer.errors import DOMAIN, Code, ZorgIdError, localized
from issuer.server.roles import (
    Access,
    Caller,
    Role,
    RoleMapper,
    _reset_caller,
    _set_caller,
    describe_access,
    facts_from_pem,
)
from issuer.server.wrapping import WrappingInterceptor
from issuer.store.errors import is_unavailable as database_unavailable

_LOG = logging.getLogger(__name__)

DEV_PLAINTEXT_IDENTITY: Final = "dev-plaintext@loopback"
_LOOPBACK_PEERS: Final = ("ipv4:127.", "ipv6:[::1]", "unix:")
CALLER_CACHE_SIZE: Final = 1024
"""Distinct client certificates whose :class:`Caller` the guard keeps (portals, gateways,
officers: far fewer in practice; an evicted one is only rebuilt)."""


def to_rpc_status(error: ZorgIdError) -> status_pb2.Status:
    """The ``google.rpc.Status`` for a domain error: ErrorInfo + LocalizedMessage (en, nl-NL)."""
    details: list[Any] = [
        error_details_pb2.ErrorInfo(reason=error.code, domain=DOMAIN, metadata=dict(error.metadata))
    ]
    details += [
        error_details_pb2.LocalizedMessage(locale=text.locale, message=text.message)
        for text in localized(error.spec)
    ]
    packed = []
    for detail in details:
        wrapper = any_pb2.Any()
        wrapper.Pack(detail)
        packed.append(wrapper)
    code: int = int(error.status)
    assert code_pb2.Code.Name(code) == error.status.name  # the enums agree by construction
    return status_pb2.Status(code=code, message=error.message, details=packed)


def to_grpc_status(error: ZorgIdError) -> grpc.Status:
    """The status object ``context.abort_with_status`` takes, for ``error``."""
    result: grpc.Status = rpc_status.to_status(to_rpc_status(error))
    return result


def _aborted(exc: Exception, context: grpc.ServicerContext) -> bool:
    """True when ``exc`` is grpc's own signal that the servicer called ``context.abort``.

    grpc raises a bare ``Exception()`` after recording the status; anything
    else (even with a code set by ``set_code``) is a failure whose text grpc
    would otherwise send as "Exception calling application: ...".
    """
    code = getattr(context, "code", None)
    return (
        type(exc) is Exception
        and not exc.args
        and code is not None
        and code() not in (None, grpc.StatusCode.OK)
    )


@dataclass(slots=True)
class CallNote:
    """What the guard learned of one call, for the call observer outside it (the access line).

    The observer (:mod:`issuer.server.call_metrics`) opens a note before the guard
    runs and reads it after the call: the caller the guard derived from the verified
    certificate (``None`` when there was none) and the ZID code of a refusal or of the
    error it translated. The guard writes it; nothing else does.
    """

    request_id: str
    caller: Caller | None = None
    zid: str | None = None


_NOTE: ContextVar[CallNote | None] = ContextVar("zorgid_call_note", default=None)


def open_note(request_id: str) -> tuple[CallNote, Token[CallNote | None]]:
    """Start the note of the call this thread runs (the observer; close it with the token)."""
    note = CallNote(request_id=request_id)
    return note, _NOTE.set(note)


def close_note(token: Token[CallNote | None]) -> None:
    """End the note (a streaming call's generator may be closed from another context)."""
    try:
        _NOTE.reset(token)
    except ValueError:
        _NOTE.set(None)


def _noted(*, caller: Caller | None = None, zid: str | None = None) -> None:
    note = _NOTE.get()
    if note is None:  # a server built without the observer (some tests)
        return
    if caller is not None:
        note.caller = caller
    if zid is not None:
        note.zid = zid


class GuardInterceptor(WrappingInterceptor):
    """Authenticates, authorises by :data:`~issuer.server.roles.METHOD_ROLES`, maps errors.

    ``plaintext_roles`` is not None only for the development plaintext listener
    (loopback, checked by the config): then every caller on a loopback peer
    gets those roles under the identity ``dev-plaintext@loopback``.
    """

    def __init__(
        self,
        *,
        table: Mapping[str, Access],
        mapper: RoleMapper,
        plaintext_roles: frozenset[Role] | None = None,
    ) -> None:
        self._table = table
        self._mapper = mapper
        self._plaintext_roles = plaintext_roles
        # Per interceptor, so per role mapping: a Caller is a pure function of the
        # certificate and the [roles] rules, both fixed for this server's life.
        self._verified_caller = functools.lru_cache(maxsize=CALLER_CACHE_SIZE)(self._caller_for_pem)
        super().__init__()

    # -- identity ---------------------------------------------------------------------------

    def _caller_for_pem(self, pem: bytes) -> Caller:
        """The caller of a verified certificate (its roles by the rules), built once per PEM.

        Every call of a connection presents the same certificate, so parsing,
        hashing and matching it once saves that work per call. The key is the
        whole PEM of the certificate grpc already verified (never metadata),
        so a different certificate -- even with the same subject -- is a
        different entry; the cache is bounded (LRU, :data:`CALLER_CACHE_SIZE`).
        """
        facts = facts_from_pem(pem)
        return Caller(
            identity=f"sha256:{facts.sha256_hex}",
            subject=facts.subject,
            roles=self._mapper.roles_for(facts),
            certificate=facts,
        )

    def _caller(self, context: grpc.ServicerContext) -> Caller | None:
        auth: Mapping[str, Any] = context.auth_context()
        pems = auth.get("x509_pem_cert") or []
        if pems:
            return self._verified_caller(bytes(pems[0]))
        if self._plaintext_roles is not None and context.peer().startswith(_LOOPBACK_PEERS):
            return Caller(
                identity=DEV_PLAINTEXT_IDENTITY,
                subject=DEV_PLAINTEXT_IDENTITY,
                roles=self._plaintext_roles,
                certificate=None,
            )
        return None

    def _admit(self, method: str, context: grpc.ServicerContext) -> Caller:
        """The caller, or abort with UNAUTHENTICATED / PERMISSION_DENIED."""
        caller = self._caller(context)
        _noted(caller=caller)
        if caller is None:
            _noted(zid=Code.ZID_0002)
            _LOG.warning(
                "refused %s: no verified client certificate (peer %s)", method, context.peer()
            )
            context.abort_with_status(
                to_grpc_status(
                    ZorgIdError(
                        Code.ZID_0002,
                        f"Method {method} needs a verified client certificate; none was presented.",
                    )
                )
            )
        access = self._table.get(method)
        if access is None or not caller.may_call(access):
            allowed = (
                "nobody (method not in the role table)"
                if access is None
                else describe_access(access)
            )
            detail = f"Caller {caller.describe()} may not call {method}; allowed: {allowed}."
            _LOG.warning("refused: %s", detail)
            _noted(zid=Code.ZID_0003)
            context.abort_with_status(to_grpc_status(ZorgIdError(Code.ZID_0003, detail)))
        return caller

    # -- errors -----------------------------------------------------------------------------

    def _fail(self, method: str, exc: Exception, context: grpc.ServicerContext) -> NoReturn:
        if isinstance(exc, ZorgIdError):
            _LOG.info("%s failed: %s", method, exc.message)
            _noted(zid=exc.code)
            context.abort_with_status(to_grpc_status(exc))
        if _aborted(exc, context):
            raise exc
        if database_unavailable(exc):
            _LOG.warning("%s failed: the database is unavailable", method, exc_info=exc)
            _noted(zid=Code.ZID_0004)
            context.abort_with_status(
                to_grpc_status(ZorgIdError(Code.ZID_0004, "The database is unavailable."))
            )
        _LOG.error("%s failed with an internal error", method, exc_info=exc)
        _noted(zid=Code.ZID_0001)
        context.abort_with_status(
            to_grpc_status(ZorgIdError(Code.ZID_0001, f"Method {method} failed."))
        )

    # -- wrapping ---------------------------------------------------------------------------

    def _unary_response(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            token = _set_caller(self._admit(method, context))
            try:
                return behavior(request, context)
            except Exception as exc:
                self._fail(method, exc, context)
            finally:
                _reset_caller(token)

        return run

    def _stream_response(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        def run(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            token = _set_caller(self._admit(method, context))
            try:
                responses = behavior(request, context)
                if responses is not None:
                    yield from responses
            except Exception as exc:
                self._fail(method, exc, context)
            finally:
                _reset_caller(token)

        return run

    def _non_blocking_stream(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        """Keep grpc's non-blocking streaming (health ``Watch``) non-blocking.

        A non-blocking behaviour returns at once and sends later through
        ``send_response_callback``; wrapping it as a generator would pin one
        worker thread per open ``Watch`` and let a few load balancers starve
        the pool.
        """

        def run(
            request: Any,
            context: grpc.ServicerContext,
            send_response_callback: Callable[[Any], None] | None = None,
        ) -> Any:
            token = _set_caller(self._admit(method, context))
            try:
                return behavior(request, context, send_response_callback=send_response_callback)
            except Exception as exc:
                self._fail(method, exc, context)
            finally:
                _reset_caller(token)

        run.experimental_non_blocking = True  # type: ignore[attr-defined]
        run.experimental_thread_pool = getattr(  # type: ignore[attr-defined]
            behavior, "experimental_thread_pool", None
        )
        return run
