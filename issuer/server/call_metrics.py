"""The one observer of every gRPC call: counted and timed (metrics), and one access line.

It is the outermost interceptor (before the
:class:`~issuer.server.interceptors.GuardInterceptor`), so calls the guard
refuses (PERMISSION_DENIED; UNAUTHENTICATED on the plaintext development
listener) and errors it translates are recorded with the code the caller
receives. The code is read from the servicer context after the call: what
``abort``/``abort_with_status``/``set_code`` set, else OK; an exception that
escapes anyway is UNKNOWN, as grpc sends it. One wrapper, two outputs: the
metrics (when the server has them) and the access line on the
``zorgid.access.grpc`` logger (INFO), whose caller and ZID code the guard
notes on the call's :class:`~issuer.server.interceptors.CallNote`.

Each call gets a request id: the caller's ``x-request-id`` metadata when it is
a plain token (:data:`REQUEST_ID`), else a new one; it goes back in the initial
metadata (``x-request-id``), so a caller can quote it when reporting a problem.

Methods are the registered ones only (an unregistered method never reaches an
interceptor's handler), so the ``method`` label is bounded. Non-blocking
streams (health ``Watch``) are subscriptions held open for as long as a load
balancer likes; they are passed through, neither counted, timed nor logged.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Final

import grpc

from issuer.logs import FIELDS, GRPC_ACCESS
from issuer.metrics import Metrics
from issuer.server.interceptors import CallNote, close_note, open_note
from issuer.server.wrapping import Behavior, WrappingInterceptor

REQUEST_ID_HEADER: Final = "x-request-id"
REQUEST_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A caller's request id is kept only when it is this plain (a UUID, a trace id): it is
logged and echoed, so it must not be able to carry a line break, markup or a long blob."""

_ACCESS = logging.getLogger(GRPC_ACCESS)


def _code(context: grpc.ServicerContext, failed: bool) -> str:
    code = context.code()  # type: ignore[attr-defined]
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return "UNKNOWN" if failed else "OK"


def request_id(context: grpc.ServicerContext) -> str:
    """The caller's ``x-request-id`` when it is plain (:data:`REQUEST_ID`), else a new one."""
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_HEADER and isinstance(value, str) and REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex


class CallObserver(WrappingInterceptor):
    """Records each call in :class:`~issuer.metrics.Metrics` (if any) and as one access line."""

    def __init__(
        self, metrics: Metrics | None = None, *, clock: Callable[[], float] = time.perf_counter
    ):
        super().__init__()
        self._metrics = metrics
        self._clock = clock

    @staticmethod
    def _echo(context: grpc.ServicerContext, note: CallNote) -> None:
        """The request id back to the caller, before the guard can refuse the call."""
        context.send_initial_metadata(((REQUEST_ID_HEADER, note.request_id),))

    def _record(
        self,
        method: str,
        context: grpc.ServicerContext,
        note: CallNote,
        start: float,
        failed: bool,
    ) -> None:
        seconds = self._clock() - start
        code = _code(context, failed)
        if self._metrics is not None:
            self._metrics.grpc_call(method, code, seconds)
        if _ACCESS.isEnabledFor(logging.INFO):
            _ACCESS.info(
                "gRPC call",
                extra={FIELDS: access_fields(method, code, seconds, note, context.peer())},
            )

    def _unary_response(self, method: str, behavior: Behavior) -> Behavior:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            start, failed = self._clock(), True
            note, token = open_note(request_id(context))
            try:
                self._echo(context, note)
                response = behavior(request, context)
                failed = False
                return response
            finally:
                close_note(token)
                self._record(method, context, note, start, failed)

        return run

    def _stream_response(self, method: str, behavior: Behavior) -> Behavior:
        def run(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            start, failed = self._clock(), True
            note, token = open_note(request_id(context))
            try:
                self._echo(context, note)
                responses = behavior(request, context)
                if responses is not None:
                    yield from responses
                failed = False
            finally:
                close_note(token)
                self._record(method, context, note, start, failed)

        return run

    def _non_blocking_stream(self, method: str, behavior: Behavior) -> Behavior | None:
        return None  # a subscription, not a call: passed through (see the module docstring)


def access_fields(
    method: str, code: str, seconds: float, note: CallNote, peer: str
) -> dict[str, Any]:
    """The access line's fields: who called what, with which outcome, how long, which id.

    Never the request or response messages, metadata other than the request id, or the
    error's text: those carry tokens, PINs and nonces (docs/operations.md, "Logs").
    """
    caller = note.caller
    return {
        "method": method,
        "code": code,
        "zid": str(note.zid) if note.zid is not None else None,
        "duration_ms": round(seconds * 1000, 3),
        "request_id": note.request_id,
        "roles": [str(role) for role in sorted(caller.roles)] if caller is not None else [],
        "identity": caller.identity if caller is not None else None,
        "subject": caller.subject if caller is not None else None,
        "peer": peer,
    }
