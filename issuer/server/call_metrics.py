"""The interceptor that counts and times every gRPC call by method and status code.

It is the outermost interceptor (before the
:class:`~issuer.server.interceptors.GuardInterceptor`), so calls the guard
refuses (UNAUTHENTICATED, PERMISSION_DENIED) and errors it translates are
counted with the code the caller receives. The code is read from the servicer
context after the call: what ``abort``/``abort_with_status``/``set_code`` set,
else OK; an exception that escapes anyway is UNKNOWN, as grpc sends it.

Methods are the registered ones only (an unregistered method never reaches an
interceptor's handler), so the ``method`` label is bounded. Non-blocking
streams (health ``Watch``) are subscriptions held open for as long as a load
balancer likes; they are passed through, neither counted nor timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

import grpc

from issuer.metrics import Metrics

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic in the stubs only


def _code(context: grpc.ServicerContext, failed: bool) -> str:
    code = context.code()  # type: ignore[attr-defined]
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return "UNKNOWN" if failed else "OK"


class MetricsInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Records each call's method, code and seconds in :class:`~issuer.metrics.Metrics`."""

    def __init__(self, metrics: Metrics, *, clock: Callable[[], float] = time.perf_counter):
        self._metrics = metrics
        self._clock = clock
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    def _record(
        self, method: str, context: grpc.ServicerContext, start: float, failed: bool
    ) -> None:
        self._metrics.grpc_call(method, _code(context, failed), self._clock() - start)

    def _unary_response(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        def run(request: Any, context: grpc.ServicerContext) -> Any:
            start, failed = self._clock(), True
            try:
                response = behavior(request, context)
                failed = False
                return response
            finally:
                self._record(method, context, start, failed)

        return run

    def _stream_response(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        def run(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            start, failed = self._clock(), True
            try:
                responses = behavior(request, context)
                if responses is not None:
                    yield from responses
                failed = False
            finally:
                self._record(method, context, start, failed)

        return run

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """The measured handler of the call's method, wrapped once per registered handler."""
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        kept = self._wrapped.get(method)
        if kept is not None and kept[0] is handler:
            return kept[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: Handler) -> Handler:
        des, ser = handler.request_deserializer, handler.response_serializer
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary_response(method, handler.unary_unary), des, ser
            )
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(
                self._unary_response(method, handler.stream_unary), des, ser
            )
        if handler.unary_stream is not None:
            if getattr(handler.unary_stream, "experimental_non_blocking", False):
                return handler
            return grpc.unary_stream_rpc_method_handler(
                self._stream_response(method, handler.unary_stream), des, ser
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                self._stream_response(method, handler.stream_stream), des, ser
            )
        return handler  # pragma: no cover - grpc handlers always have one behaviour
