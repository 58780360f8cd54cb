"""The OCSP/CRL front (:mod:`ocsp.front`) on granian's RSGI interface (issue 23).

granian's HTTP/1.1 parsing and writing run in Rust threads; Python sees one call per
request with the parsed target and headers. This adapter reads a POST body up to
``MAX_REQUEST_BYTES + 1`` bytes (a larger one is refused unread when its Content-Length
says so, and never read past the cap otherwise), asks :meth:`Front.now` on the event
loop and :meth:`Front.later` in a worker thread, and writes the answer. granian itself
is imported only where a server starts (:mod:`ocsp.granian_server`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from ocsp.front import (
    MAX_REQUEST_BYTES,
    Front,
    HttpRequest,
    HttpResponse,
    headers_too_large,
)


class RsgiHeaders(Protocol):
    def items(self) -> Sequence[tuple[str, str]]: ...


class RsgiScope(Protocol):
    """The part of granian's RSGI HTTP scope this adapter reads."""

    proto: str
    method: str
    path: str
    query_string: str
    client: str
    headers: RsgiHeaders


class RsgiProtocol(Protocol):
    """The part of granian's RSGI HTTP protocol this adapter uses."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...
    def response_empty(self, status: int, headers: list[tuple[str, str]]) -> None: ...
    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None: ...


class RsgiFront:
    """An RSGI application answering with *front*; blocking steps in *executor*."""

    def __init__(self, front: Front, *, executor: ThreadPoolExecutor | None = None) -> None:
        self._front = front
        self._pool = executor or ThreadPoolExecutor(max_workers=8, thread_name_prefix="ocsp-http")

    async def __call__(self, scope: RsgiScope, proto: RsgiProtocol) -> None:
        """One request (``proto`` ``http``; granian serves no websockets here)."""
        started = time.perf_counter()
        items = scope.headers.items()
        if scope.method == "GET" and not scope.query_string and _plain(items):
            again = self._front.again(scope.path)
            if again is not None:
                proto.response_bytes(200, again.headers, again.body)  # type: ignore[arg-type]
                self._front.log("GET", scope.path, _host(scope), again, started, repeat=True)
                return
        headers = {name.lower(): value for name, value in items}
        body = b""
        if scope.method == "POST" and _declared(headers) <= MAX_REQUEST_BYTES:
            body = await _read_capped(proto, MAX_REQUEST_BYTES + 1)
        target = scope.path + ("?" + scope.query_string if scope.query_string else "")
        request = HttpRequest(
            method=scope.method, raw_path=target, headers=headers, body=body, remote=_host(scope)
        )
        answer = self._front.now(request)
        if answer is None:
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self._pool, self._front.later, request)
        _send(proto, request, answer)
        self._front.log(request.method, target, request.remote, answer, started)

    def close(self) -> None:
        """Stop the worker threads and the front's probe threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._front.close()


def _plain(items: Sequence[tuple[str, str]]) -> bool:
    """No ``If-None-Match`` and headers within the limit: a kept response is the answer."""
    if any(name.lower() == "if-none-match" for name, _value in items):
        return False
    return not headers_too_large(items)


def _send(proto: RsgiProtocol, request: HttpRequest, answer: HttpResponse) -> None:
    """granian sends no body for HEAD and keeps the Content-Length of the body given."""
    if answer.status == 304:
        proto.response_empty(304, list(answer.headers))
    else:
        proto.response_bytes(answer.status, list(answer.headers), answer.body)


async def _read_capped(proto: RsgiProtocol, limit: int) -> bytes:
    """At most *limit* bytes of the body: a sender of more gets 413 from what was read."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in proto:
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _declared(headers: dict[str, str]) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:
        return 0


def _host(scope: RsgiScope) -> str | None:
    """The client's address without its port (as aiohttp's ``request.remote`` gives it)."""
    client = scope.client or ""
    host = client.rsplit(":", 1)[0] if ":" in client else client
    return host.strip("[]") or None
