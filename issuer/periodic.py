"""A task run every so many seconds on a thread of its own, for the life of a server.

Why one class: the server's small background checks (the issuance side following a
renewed OCSP responder certificate) need the same start, stop and keep-going-on-failure
behaviour; a failing pass is logged and tried again at the next, never raised into the
server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

_LOG = logging.getLogger(__name__)


class Periodic:
    """Run *task* every *interval* seconds (the first pass one interval after :meth:`start`)."""

    def __init__(self, name: str, task: Callable[[], object], *, interval: float) -> None:
        if interval <= 0:
            raise ValueError(f"got interval={interval}; expected a positive number of seconds")
        self._name = name
        self._task = task
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._task()
            except Exception:
                _LOG.exception("%s failed; trying again in %.0f s", self._name, self._interval)
