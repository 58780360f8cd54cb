"""The UZI-pas watch's state on /metrics, read at each scrape (issue 21, metrics): passes
completed and failed, and the seconds since the last one completed, on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from issuer.metrics import Metrics, start_metrics_server
from issuer.uzi_watch import UziWatch
from tests.scrape import scrape, value
from tests.store.dbfixtures import migrated, migrated_db

__all__ = ["migrated", "migrated_db"]

SINCE = "zorgid_uzi_watch_since_success_seconds"
PASSES = "zorgid_uzi_watch_passes_total"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _watch(engine: sa.Engine, clock: Clock) -> UziWatch:
    def unused() -> object:
        raise AssertionError("a pass without watched cards reads no trust set, opens no HSM")

    return UziWatch(engine=engine, trust=unused, issuance=unused, clock=clock)  # type: ignore[arg-type]


def test_passes_and_the_age_of_the_last_good_one_are_scraped(migrated: sa.Engine) -> None:
    clock = Clock()
    broken = sa.create_engine("sqlite://")  # no tables: every pass fails
    watch = _watch(migrated, clock)
    failing = _watch(broken, clock)
    metrics = Metrics()
    metrics.watch_uzi_watch(watch.state)
    other = Metrics()
    other.watch_uzi_watch(failing.state)
    served, served_other = (start_metrics_server(m, "127.0.0.1", 0) for m in (metrics, other))
    try:
        clock.now += timedelta(minutes=5)
        samples = scrape(served.url)
        assert value(samples, SINCE) == 300  # none yet: since the watch started
        assert value(samples, PASSES, result="completed") == 0

        watch.run_once()
        clock.now += timedelta(seconds=42)
        samples = scrape(served.url)
        assert value(samples, SINCE) == 42
        assert value(samples, PASSES, result="completed") == 1
        assert value(samples, PASSES, result="failed") == 0
        assert value(samples, "zorgid_uzi_watch_cards") == 0

        with pytest.raises(sa.exc.OperationalError):
            failing.run_once()
        clock.now += timedelta(hours=2)
        samples = scrape(served_other.url)
        assert value(samples, PASSES, result="failed") == 1
        assert value(samples, PASSES, result="completed") == 0
        assert value(samples, SINCE) == 300 + 42 + 7200  # a failed pass is no success
    finally:
        served.stop()
        served_other.stop()
