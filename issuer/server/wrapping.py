"""Wrapping a servicer's handlers, once per method: what every interceptor of the server shares.

grpc hands an interceptor the method's handler on every call; an interceptor
that acts on the call (the guard, the call observer) wraps the handler's
behaviour. The handler of a method is the same object each time, so its
wrapper is kept (keyed by method, checked by identity) instead of being rebuilt
per call; only methods with a registered handler reach here, a bounded set.
A subclass says how it wraps a unary-response, a streaming-response and a
non-blocking streaming (health ``Watch``) behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import grpc

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # generic in the stubs only
Behavior: TypeAlias = Callable[..., Any]


class WrappingInterceptor(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """An interceptor that wraps each registered method's behaviour, kept per method."""

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    def _unary_response(self, method: str, behavior: Behavior) -> Behavior:
        """Wrap a behaviour returning one response (unary-unary, stream-unary)."""
        raise NotImplementedError

    def _stream_response(self, method: str, behavior: Behavior) -> Behavior:
        """Wrap a behaviour returning a response iterator (unary-stream, stream-stream)."""
        raise NotImplementedError

    def _non_blocking_stream(self, method: str, behavior: Behavior) -> Behavior | None:
        """Wrap a non-blocking streaming behaviour; ``None`` passes the handler through."""
        raise NotImplementedError

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Handler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        """The wrapped handler of the call's method, wrapped once per registered handler."""
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
            behavior = handler.unary_stream
            if getattr(behavior, "experimental_non_blocking", False):
                wrapped = self._non_blocking_stream(method, behavior)
                if wrapped is None:
                    return handler
                return grpc.unary_stream_rpc_method_handler(wrapped, des, ser)
            return grpc.unary_stream_rpc_method_handler(
                self._stream_response(method, behavior), des, ser
            )
        if handler.stream_stream is not None:
            return grpc.stream_stream_rpc_method_handler(
                self._stream_response(method, handler.stream_stream), des, ser
            )
        return handler  # pragma: no cover - grpc handlers always have one behaviour
