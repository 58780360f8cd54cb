"""How the UZI-pas watch is doing, for the metrics: passes counted, the last success timed.

Apart from :mod:`issuer.uzi_watch` (which runs the passes) so the watch's one concern
stays reading CRLs; the metrics read :meth:`WatchTally.state` at each scrape.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class _Report(Protocol):
    """What a completed pass reported (``issuer.uzi_watch.PassReport``)."""

    cards: int
    failed: dict[str, str]
    unavailable: list[str]


@dataclass(frozen=True, kw_only=True)
class WatchState:
    """The watch's state now (the metrics' gauges and counters)."""

    since_success_seconds: float
    """Seconds since the last pass that ran to its end (since the watch started, if none has):
    CRLs go unread while this grows."""
    passes: int
    """Passes that ran to their end since the watch started."""
    failures: int
    """Passes that raised (database, trust set, HSM) since the watch started."""
    cards: int
    """Cards watched in the last pass that ran to its end."""
    crls_failed: int
    """CRLs whose fetch or check failed in that pass."""
    crls_unavailable: int
    """CRLs without a current one for longer than ``unavailable_limit`` in that pass."""


class WatchTally:
    """Counts the watch's passes on its own clock; thread-safe (a scrape reads while it runs)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last_success_at = clock()
        self._passes = 0
        self._failures = 0
        self._last: tuple[int, int, int] = (0, 0, 0)

    def completed(self, report: _Report) -> None:
        with self._lock:
            self._passes += 1
            self._last_success_at = self._clock()
            self._last = (report.cards, len(report.failed), len(report.unavailable))

    def failed(self) -> None:
        with self._lock:
            self._failures += 1

    def state(self) -> WatchState:
        with self._lock:
            cards, failed, unavailable = self._last
            return WatchState(
                since_success_seconds=(self._clock() - self._last_success_at).total_seconds(),
                passes=self._passes,
                failures=self._failures,
                cards=cards,
                crls_failed=failed,
                crls_unavailable=unavailable,
            )
