"""What a responder keeps in memory, and for how long (issue 23).

A kept answer is served again without reading the store while it is *fresh*: before its
own end (``keep_seconds`` after the store was read, never past the response's
nextUpdate), and either less than ``cache_seconds`` old or the store's change feed read
less than ``cache_seconds`` ago. The feed names the certificates whose stored response
changed (a revocation, a refresh, a re-signing, on any node); it is read at most once a
second, in a thread of its own, and ends what it names. So:

- a revocation signed on another node is served here about a second later while the
  feed can be read, and within ``cache_seconds`` (the bound before the feed) when it
  cannot: answers older than that stop being fresh when the feed is late;
- an answer asked for again and again is read from the store once per ``keep_seconds``,
  not once per ``cache_seconds``: with 10,000 certificates asked for at random, 5 s left
  a large share of requests store reads (bench/NOTES.md, issue 23).

Without a feed (``keep_seconds`` 0, or a store that has none) answers live
``cache_seconds``, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

_LOG = logging.getLogger(__name__)

FEED_SECONDS = timedelta(seconds=1)
"""The feed is read at most this often (each process reads it on its own)."""
FEED_OVERLAP = timedelta(seconds=5)
"""Each read looks this far behind the previous one's start. A response's producedAt is
the moment before its status was read; it is committed a signature (or an issuance
batch, a group commit) later: milliseconds. A write that takes longer than this, or a
node whose clock is this far behind, may be missed by the feed: its certificate's kept
answers then end at ``keep_seconds``. Each read names the overlap's responses again (the
one already kept is no change): a mass re-signing costs each process a few thousand
rows a read for these seconds."""
_ENDED = datetime.min.replace(tzinfo=UTC)

Ref = tuple[str, int]
"""(issuer id, serial): one certificate."""
V = TypeVar("V")


class ResponseChanges(Protocol):
    """The feed: which certificates' stored responses were produced after a moment."""

    def changed_since(self, after: datetime) -> Sequence[tuple[Ref, datetime]]:
        """Each certificate whose stored response was produced after *after*, with when."""
        ...


class Kept:
    """The life of one certificate's kept answers, shared by each request form of it
    and by the HTTP front's copies, so the feed ends them all at once."""

    __slots__ = ("produced_at", "read_at", "ref", "until")

    def __init__(self, ref: Ref, produced_at: datetime, read_at: datetime, until: datetime) -> None:
        self.ref = ref
        self.produced_at = produced_at
        """The kept response's producedAt: the store holds only newer ones after it."""
        self.read_at = read_at
        """When the store was read (the oldest read, when several forms share it)."""
        self.until = until
        """The end: ``keep_seconds`` on, never past nextUpdate; the feed moves it back."""


class AnswerCache(Generic[V]):
    """LRU of ready answers by request bytes, each fresh as its :class:`Kept` says.

    Answers that are no longer fresh are dropped as new ones come (oldest end first),
    not only when asked again: an answer asked for once was otherwise kept until *size*
    others pushed it out (about 1 KB each, some 100 MB a process at the default size)."""

    def __init__(
        self,
        size: int,
        *,
        clock: Callable[[], datetime],
        cache_seconds: float,
        keep_seconds: float = 0.0,
        changes: ResponseChanges | None = None,
    ) -> None:
        self._size = size if cache_seconds > 0 else 0
        self._clock = clock
        self._short = timedelta(seconds=cache_seconds)
        followed = changes is not None and keep_seconds > cache_seconds
        self._changes = changes if followed else None
        self._long = timedelta(seconds=keep_seconds) if followed else self._short
        self._data: OrderedDict[bytes, tuple[Kept, V]] = OrderedDict()
        self._ends: deque[tuple[datetime, bytes, Kept]] = deque()
        """(end when put, key, life) in the order put: ends are at most ``keep_seconds`` on."""
        self._by_ref: OrderedDict[Ref, Kept] = OrderedDict()
        """The live :class:`Kept` of each certificate, for the feed to end; at most *size*:
        one pushed out is ended (a later miss, never a stale answer)."""
        self._lock = threading.Lock()
        self._followed: datetime | None = None
        """Start of the last read of the feed that succeeded."""
        self._tried: datetime | None = None
        self._reading = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def size(self) -> int:
        """Answers kept at most; 0 (``cache_seconds`` 0): none."""
        return self._size

    # -- freshness -------------------------------------------------------------------

    def fresh(self, kept: Kept) -> bool:
        """Whether answers of *kept* may be served now; starts a read of the feed when due."""
        now = self._clock()
        self._follow(now)
        return self._fresh(kept, now)

    def _fresh(self, kept: Kept, now: datetime) -> bool:
        if now >= kept.until:
            return False
        if now < kept.read_at + self._short:
            return True
        followed = self._followed
        return followed is not None and now < followed + self._short

    def _follow(self, now: datetime) -> None:
        if self._changes is None or (self._tried is not None and now - self._tried < FEED_SECONDS):
            return
        if not self._reading.acquire(blocking=False):
            return  # a read is under way (or hangs: answers fall back to cache_seconds)
        self._tried = now
        threading.Thread(target=self._read, args=(now,), name="ocsp-feed", daemon=True).start()

    def _read(self, started: datetime) -> None:
        try:
            since = (self._followed or started) - FEED_OVERLAP
            assert self._changes is not None
            changed = self._changes.changed_since(since)
            with self._lock:
                for ref, produced in changed:
                    kept = self._by_ref.get(ref)
                    # The store keeps a newer response only: a later producedAt is a change
                    # (a revocation, a release from hold, a refresh); the same one is the
                    # response kept, named again within the overlap.
                    if kept is not None and produced > kept.produced_at:
                        kept.until = _ENDED
                        del self._by_ref[ref]
            self._followed = started
        except Exception:
            _LOG.warning(
                "could not read the OCSP response feed; kept answers live cache_seconds",
                exc_info=True,
            )
        finally:
            self._reading.release()

    # -- answers ---------------------------------------------------------------------

    def get(self, key: bytes) -> V | None:
        """The answer kept for *key*, if fresh."""
        now = self._clock()
        self._follow(now)
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            if not self._fresh(hit[0], now):
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return hit[1]

    def life(
        self, ref: Ref, produced_at: datetime, read_at: datetime, next_update: datetime
    ) -> Kept | None:
        """The life of the response of *ref* produced at *produced_at*, read from the store
        at *read_at* (shared with its other request forms' while theirs is fresh and of
        the same response); ``None`` when nothing is kept."""
        if self._size <= 0:
            return None
        with self._lock:
            kept = self._by_ref.get(ref)
            if kept is not None and kept.produced_at > produced_at and self._fresh(kept, read_at):
                return None  # read before a newer one another thread keeps: not kept
            if kept is None or kept.produced_at != produced_at or not self._fresh(kept, read_at):
                if kept is not None:
                    # Replaced, it is out of the feed's reach: its answers (another
                    # request form's, the front's copies) end now, not at its end.
                    kept.until = _ENDED
                kept = Kept(ref, produced_at, read_at, min(read_at + self._long, next_update))
                self._by_ref[ref] = kept
                while len(self._by_ref) > self._size:
                    _ref, gone = self._by_ref.popitem(last=False)
                    gone.until = _ENDED
            return kept

    def put(self, key: bytes, kept: Kept, answer: V) -> None:
        """Keep *answer* under *key* for *kept*'s life; drop what is no longer fresh."""
        now = self._clock()
        with self._lock:
            self._data[key] = (kept, answer)
            self._data.move_to_end(key)
            ends = self._ends
            ends.append((kept.until, key, kept))
            while ends and (ends[0][0] <= now or ends[0][2].until <= now):
                _end, old, life = ends.popleft()  # its end has passed: not fresh
                hit = self._data.get(old)
                if hit is not None and hit[0] is life:
                    del self._data[old]
                if self._by_ref.get(life.ref) is life:
                    del self._by_ref[life.ref]
            while len(self._data) > self._size:
                self._data.popitem(last=False)
            if len(ends) > 4 * self._size:  # keys put again and again: one entry each left
                alive = [(k.until, key, k) for key, (k, _answer) in self._data.items()]
                self._ends = deque(sorted(alive, key=lambda end: end[0]))


class KeptCopies(Generic[V]):
    """Things made from kept answers (the HTTP front's finished GET responses), by key.

    Each lives as long as the :class:`Kept` life of the answer it was made from (the feed
    ends both) and at most *max_seconds* after it was made; at most *size* of them: when
    full, those no longer fresh go, and if none has, all go (a flood of distinct keys
    costs a refill, never memory). Reads take no lock; writes (the event loop and the
    worker threads) do."""

    def __init__(
        self,
        size: int,
        fresh: Callable[[Kept], bool],
        *,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size = size
        self._fresh = fresh
        self._max = max_seconds
        self._clock = clock
        self._data: dict[str, tuple[Kept, V, float]] = {}
        """key -> (the answer's life, the copy, when it was made + max_seconds)"""
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> V | None:
        """The copy kept under *key*, if still fresh."""
        hit = self._data.get(key)
        if hit is None or hit[2] <= self._clock() or not self._fresh(hit[0]):
            return None
        return hit[1]

    def keep(self, key: str, kept: Kept, value: V) -> None:
        """Keep *value*, made from an answer whose life is *kept*, under *key*."""
        if self._size <= 0:
            return
        until = self._clock() + self._max
        with self._lock:
            if len(self._data) >= self._size and key not in self._data:
                now = self._clock()
                alive = {
                    old: hit
                    for old, hit in self._data.items()
                    if hit[2] > now and self._fresh(hit[0])
                }
                self._data = alive if len(alive) < self._size else {}
            self._data[key] = (kept, value, until)
