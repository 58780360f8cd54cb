"""A CRL distribution point on 127.0.0.1 for the test UZI-register; it can fail on purpose."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from testkit.uzi_world import UziWorld

__all__ = ["CrlServer", "crl_server"]


class CrlServer:
    """A small HTTP server on 127.0.0.1 (ephemeral port) serving CRLs; can be made to fail.

    It also plays the hostile servers of issue 16 item 2: ``requests`` records
    every path asked for (the attacker's view: did the engine call?),
    ``redirects`` answers a path with a 302 to another URL, and
    ``trickle_seconds`` turns it into a tarpit that sends its answer one byte
    per interval until :meth:`stop`. ``changed`` is notified on every request,
    so a test waits for an event instead of sleeping. ``port``: a port to bind
    (0: a free one), so that a stopped server can come back where it was.
    """

    def __init__(self, *, trickle_seconds: float | None = None, port: int = 0) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.down = False
        self.hits = 0
        self.requests: list[str] = []
        self.changed = threading.Condition()
        self.trickle_seconds = trickle_seconds
        self._stopping = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer.changed:
                    outer.hits += 1
                    outer.requests.append(self.path)
                    outer.changed.notify_all()
                if outer.trickle_seconds is not None:
                    self._trickle(outer.trickle_seconds)
                    return
                location = outer.redirects.get(self.path.lstrip("/"))
                if location is not None:
                    self.send_response(302)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = outer.files.get(self.path.lstrip("/"))
                if outer.down or body is None:
                    self.send_error(503 if outer.down else 404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/pkix-crl")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _trickle(self, seconds: float) -> None:
                answer = b"HTTP/1.0 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"0" * 100000
                for byte in answer:
                    if outer._stopping.wait(seconds):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:  # the client gave up: the tarpit did its job
                        return

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def publish(self, world: UziWorld) -> None:
        self.files.update(world.crls())

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds (re-checked at every request), at most ``timeout`` s."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()


@contextmanager
def crl_server(*, trickle_seconds: float | None = None) -> Iterator[CrlServer]:
    server = CrlServer(trickle_seconds=trickle_seconds)
    server.start()
    try:
        yield server
    finally:
        server.stop()
