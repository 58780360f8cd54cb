"""Run an RSGI front (:class:`ocsp.rsgi.RsgiFront`) on granian in the calling thread.

granian's embedded server (``granian.server.embed``) runs one RSGI worker on an asyncio
loop of ours, so the same code serves ``zorgid ocsp serve`` (one per process, the
processes sharing the port by SO_REUSEPORT) and the front that ``zorgid dev`` /
``zorgid serve`` run in a thread of the engine. It is told to serve a socket we bound
(``zorgid dev`` binds first so certificates name the port bound, tests bind port 0);
granian's own binding is not used. granian calls this mode experimental and logs so at
every start: that line is kept out of our logs (its logger is set to ERROR).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable

from granian._granian import SocketHolder
from granian.constants import Interfaces
from granian.server.embed import Server

from ocsp.rsgi import RsgiFront

BACKLOG = 1024
"""Pending connections per listening socket (a burst of 64 keep-alive clients and more)."""
_STOP_POLL_SECONDS = 0.2


class _BoundServer(Server):
    """granian's embedded server on a socket bound by the caller."""

    def __init__(self, app: RsgiFront, sock: socket.socket) -> None:
        super().__init__(
            app, interface=Interfaces.RSGI, websockets=False, log_enabled=False, backlog=BACKLOG
        )
        self._bound = sock

    def _init_shared_socket(self) -> None:
        # granian closes the descriptor it holds: give it a duplicate, the caller keeps its own.
        holder = SocketHolder(os.dup(self._bound.fileno()), False, BACKLOG)  # type: ignore[call-arg]
        self._ssp = None
        self._shd = holder  # type: ignore[assignment]  # granian's own declares None
        self._sfd = holder.get_fd()


def listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening TCP socket on *host*:*port* (SO_REUSEPORT when several processes serve
    it); raises ``OSError`` when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def serve(
    app: RsgiFront,
    sock: socket.socket,
    *,
    stop: threading.Event,
    ready: Callable[[], None] | None = None,
) -> None:
    """Serve *app* on *sock* until *stop* is set; *ready* is called once it accepts."""
    logging.getLogger("_granian").setLevel(logging.ERROR)
    server = _BoundServer(app, sock)
    loop = asyncio.new_event_loop()

    async def watch() -> None:
        if ready is not None:
            ready()
        while not stop.is_set():
            await asyncio.sleep(_STOP_POLL_SECONDS)
        server.signal_handler_interrupt()  # type: ignore[no-untyped-call]

    async def main() -> None:
        watcher = asyncio.create_task(watch())
        try:
            await server.serve()
        finally:
            watcher.cancel()

    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main())
    finally:
        app.close()
        loop.close()
