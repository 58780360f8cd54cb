"""The reads of ``zorgid audit list|export`` and ``zorgid certs list --all``, on both back
ends: the audit filters, and both read a page at a time (never the whole table at once)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from issuer.audit import AuditEvent, AuditLog
from issuer.store.audit import events_in_pages
from issuer.store.certificates import certificates_in_pages
from issuer.store.repo import CertificateRecord, reserve_serial, store_certificate

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


class Selects:
    """The SELECTs from one table an engine runs while counting."""

    def __init__(self, engine: sa.Engine, table: str) -> None:
        self.engine = engine
        self.table = table
        self.seen: list[str] = []

    def __enter__(self) -> list[str]:
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if f"FROM {self.table}" in statement:
            self.seen.append(statement)


def test_events_are_read_a_page_at_a_time(logged: sa.Engine) -> None:
    """Seven events, three a read: three short reads, never the whole log at once."""
    with Selects(logged, "audit_events") as selects:
        rows: Iterator[Any] = events_in_pages(logged, page=3)
        assert int(next(rows).seq) == 1
        assert len(selects) == 1  # streamed: the first page only
        assert [int(r.seq) for r in rows] == [2, 3, 4, 5, 6, 7]
    assert len(selects) == 3
    assert all("LIMIT" in s for s in selects)


def test_certificates_are_read_a_page_at_a_time(migrated: sa.Engine) -> None:
    """Seven certificates, three a read: each listed once, in three reads."""
    serials = [f"{n:x}0a" for n in range(1, 8)]
    with migrated.begin() as conn:
        for serial in serials:
            reserve_serial(
                conn, issuer="a" * 64, serial=serial, request_sha256="c" * 64,
                policy_version=1, now=DAY,
            )  # fmt: skip
            record = CertificateRecord(
                issuer="a" * 64, serial=serial, der=b"0\x03\x02\x01\x00", not_before=DAY,
                not_after=DAY + timedelta(days=365), policy_version=1, spki_sha256="d" * 64,
            )  # fmt: skip
            store_certificate(conn, record, now=DAY)
    with Selects(migrated, "certificates") as selects:
        listed = [row.serial for row in certificates_in_pages(migrated, page=3)]
    assert sorted(listed) == sorted(serials)
    assert len(selects) == 3 and all("LIMIT" in s for s in selects)
