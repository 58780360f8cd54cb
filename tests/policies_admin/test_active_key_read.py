"""``ActivePolicy.current()``'s per-request key read: cheap, lock-free, never stale.

Every issuance request reads the active version's key (issue 7: the version
in force at the start of the request). The read goes to a pooled DB-API
connection with pre-written SQL; these tests hold it to what the SQLAlchemy
statement did: it follows activations (immediate and scheduled) made through
the PolicyService, on both back ends, and agrees with the SQLAlchemy path --
and it does not wait for a writer holding the write lock.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from issuer.api.zorgid.v1 import policy_pb2
from issuer.policy_store import ActivePolicy
from issuer.store import is_sqlite
from tests.policies_admin.conftest import PolicyServer, StubFor, variant
from tests.policies_admin.test_grpc import SHORTER, Z_ONLY, active, approve, propose

A, B = "officer-a", "officer-b"


def _caches(policy_server: PolicyServer) -> tuple[ActivePolicy, ActivePolicy]:
    """The fast key read, and the same cache forced onto the SQLAlchemy statement."""
    store = policy_server.runtime.get()
    fast = ActivePolicy.of_store(store)
    assert fast.keys.sql is not None  # both back ends have a known paramstyle
    slow = ActivePolicy.of_store(store)
    slow.keys.sql = None
    return fast, slow


def test_the_key_read_follows_immediate_and_scheduled_activations(
    stub_for: StubFor, policy_server: PolicyServer
) -> None:
    fast, slow = _caches(policy_server)
    first = fast.current()
    assert fast.current() is first  # nothing changed: the cached object
    assert slow.current().version == first.version

    approve(stub_for, B, propose(stub_for, A, variant(SHORTER)).version)
    second = fast.current()
    assert second.version == active(stub_for).version != first.version
    assert second.policy.profile.validity_days == 90
    assert slow.current().version == second.version
    assert first.policy.profile.validity_days == 365  # taken earlier: unchanged

    when = Timestamp()
    when.FromDatetime(policy_server.clock.now + timedelta(hours=1))
    scheduled = propose(stub_for, A, variant(SHORTER, Z_ONLY), activate_at=when)
    assert approve(stub_for, B, scheduled.version).version.state == (
        policy_pb2.POLICY_STATE_APPROVED
    )
    assert fast.current() is second  # approved, not yet due
    policy_server.clock.advance(timedelta(hours=1, seconds=1))
    due = fast.current()  # due: this very read settles and takes it
    assert due.version == scheduled.version
    assert tuple(due.policy.uzi.card_types) == ("Z",)
    assert slow.current().version == scheduled.version
    assert fast.current() is due


def test_the_key_read_does_not_wait_for_a_writer(policy_server: PolicyServer) -> None:
    """A writer holding the lock that blocks other writers does not delay the key read.

    SQLite: ``BEGIN IMMEDIATE`` takes the database's single write lock. PostgreSQL:
    ``LOCK TABLE policy_versions IN EXCLUSIVE MODE`` blocks every other writer of the
    table but not plain SELECTs. A read that took a write lock (as SQLAlchemy's
    autobegin did on SQLite) or a row lock would wait the holder out.
    """
    fast, _ = _caches(policy_server)
    taken = fast.current()
    holding, release = threading.Event(), threading.Event()
    sqlite = is_sqlite(policy_server.engine)

    def writer() -> None:
        with policy_server.engine.begin() as conn:
            if sqlite:  # BEGIN IMMEDIATE: the write lock
                conn.exec_driver_sql("UPDATE policy_versions SET reason = reason WHERE 0 = 1")
            else:
                conn.exec_driver_sql("LOCK TABLE policy_versions IN EXCLUSIVE MODE")
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        start = time.monotonic()
        assert fast.current() is taken
        assert time.monotonic() - start < 1.0  # not the holder's 30 s
    finally:
        release.set()
        thread.join()
