"""``issuer.store.audit.events_in_pages``: the filters of ``zorgid audit list|export``, on
both back ends, read a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import AuditEvent, AuditLog
from issuer.store.audit import events_in_pages

DAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

EVENTS = [  # day, role, identity, action
    (0, "operator", "CN=alice", "certificate.revoke"),
    (1, "engine", "engine", "certificate.issue"),
    (1, "portal", "CN=portal", "enrolment.create"),
    (2, "operator", "CN=bob", "certificate.revoke"),
    (3, "security-officer", "CN=alice", "policy.approve"),
    (3, "engine", "engine", "uzi_watch.crl_unavailable"),
    (4, "engine", "engine", "uziXwatch.other"),
]


@pytest.fixture
def logged(migrated: sa.Engine) -> sa.Engine:
    now = [DAY]
    log = AuditLog(signer=ec.generate_private_key(ec.SECP256R1()), clock=lambda: now[0])
    for day, role, identity, action in EVENTS:
        now[0] = DAY + timedelta(days=day)
        with migrated.begin() as conn:
            event = AuditEvent(
                actor_role=role, actor_identity=identity, action=action, subject=f"thing:{day}"
            )
            log.append(conn, event)
    return migrated


def _seqs(engine: sa.Engine, **filters: Any) -> list[int]:
    return [int(row.seq) for row in events_in_pages(engine, page=2, **filters)]


def test_filters_by_time_actor_and_kind(logged: sa.Engine) -> None:
    assert _seqs(logged) == [1, 2, 3, 4, 5, 6, 7]
    day = DAY + timedelta(days=1)
    assert _seqs(logged, since=day, until=day + timedelta(days=2)) == [2, 3, 4]  # until: exclusive
    assert _seqs(logged, actors=["operator"]) == [1, 4]  # a role
    assert _seqs(logged, actors=["CN=alice"]) == [1, 5]  # an identity
    assert _seqs(logged, actors=["engine", "CN=bob"]) == [2, 4, 6, 7]
    assert _seqs(logged, kinds=["certificate.*"]) == [1, 2, 4]
    assert _seqs(logged, kinds=["policy.approve", "enrolment.create"]) == [3, 5]
    assert _seqs(logged, kinds=["uzi_*"]) == [6]  # "_" is a letter here, not LIKE's wildcard
    assert _seqs(logged, kinds=["certificate"]) == []  # no prefix without the *
    assert _seqs(logged, since=day, actors=["operator"], kinds=["certificate.revoke"]) == [4]


def test_reads_a_page_at_a_time(logged: sa.Engine) -> None:
    """Seven events, three a read: three short reads, never the whole log at once."""
    selects: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM audit_events" in statement:
            selects.append(statement)

    sa.event.listen(logged, "before_cursor_execute", seen)
    try:
        rows: Iterator[Any] = events_in_pages(logged, page=3)
        assert int(next(rows).seq) == 1
        assert len(selects) == 1  # streamed: the first page only
        assert [int(r.seq) for r in rows] == [2, 3, 4, 5, 6, 7]
    finally:
        sa.event.remove(logged, "before_cursor_execute", seen)
    assert len(selects) == 3
    assert all("LIMIT" in s for s in selects)
