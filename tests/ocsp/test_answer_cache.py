"""The responder's in-memory answer cache holds what can still be served, not every answer
it ever gave until its size bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ocsp.responder import Answer, _Cache

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=5)


def _answer(n: int) -> Answer:
    return Answer(outcome="successful", der=b"answer %d" % n, cacheable=True)


def test_answers_past_their_deadline_are_dropped_as_new_ones_come() -> None:
    """A soak asks once for each of thousands of certificates: each answer was kept, expired,
    until 100,000 of them (about 1 KB each) pushed the oldest out."""
    cache = _Cache(100_000)
    for n in range(1_000):  # one each, never asked again
        cache.put(b"request %d" % n, T0 + TTL, _answer(n), now=T0)
    later = T0 + TTL + timedelta(seconds=1)
    cache.put(b"request new", later + TTL, _answer(-1), now=later)
    assert len(cache) == 1
    assert cache.get(b"request new", later) is not None


def test_answers_still_valid_are_kept_and_served() -> None:
    cache = _Cache(100_000)
    cache.put(b"a", T0 + TTL, _answer(1), now=T0)
    cache.put(b"b", T0 + 2 * TTL, _answer(2), now=T0 + TTL / 2)
    assert len(cache) == 2
    hit = cache.get(b"a", T0 + TTL / 2)
    assert hit is not None and hit.cached and hit.der == b"answer 1"
    cache.put(b"c", T0 + 3 * TTL, _answer(3), now=T0 + TTL)  # "a" is past its deadline now
    assert len(cache) == 2
    assert cache.get(b"b", T0 + TTL) is not None
