"""Cost of step 1's key checks and of a portal-scoped certificate read (issue 16 items 6, 11).

Step 1 reads the key's owners and, since issue 16, whether any certificate of
the key was revoked for keyCompromise. This compares the old owners query, the
new one with the bar folded in (what the cycle runs), and the old one plus a
separate bar query (the alternative: one round trip more), on 20 000 stored
certificates of random keys. It also times ``GetCertificate``'s read with and
without the portal scope (``acted_for_by``).

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/key_checks.py`` (a SQLite file
under the temporary directory and a throwaway schema in the development
PostgreSQL on 127.0.0.1:5432, database ``test``).
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from issuer.store import issuance as sql
from issuer.store.certificates import acted_for_by
from issuer.store.prepared import Prepared
from issuer.store.schema import certificates, metadata, mobile_ids, serial_reservations

ROWS = 20_000
PROBES = 2_000
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_key_checks"

OLD_KEY_OWNERS = Prepared(
    sa.select(mobile_ids.c.person_id)
    .where(mobile_ids.c.spki_sha256 == sa.bindparam("spki"))
    .union(
        sa.select(certificates.c.person_id).where(
            certificates.c.spki_sha256 == sa.bindparam("spki")
        )
    )
)


def _fill(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    now = datetime.now(UTC)
    reservations, certs = [], []
    for i in range(ROWS):
        serial = format(secrets.randbits(120) | 1 << 120, "x")
        reservations.append(
            {
                "issuer": "a" * 64,
                "serial": serial,
                "request_sha256": "b" * 64,
                "policy_version": 1,
                "state": "issued",
                "created_at": now,
            }
        )
        certs.append(
            {
                "id": f"id-{i}",
                "issuer": "a" * 64,
                "serial": serial,
                "der": b"x",
                "not_before": now,
                "not_after": now,
                "status": "revoked" if i % 10 == 0 else "good",
                "revocation_reason": "keyCompromise" if i % 10 == 0 else None,
                "policy_version": 1,
                "spki_sha256": secrets.token_hex(32),
                "issued_at": now,
            }
        )
    with engine.begin() as conn:
        conn.execute(serial_reservations.insert(), reservations)
        conn.execute(certificates.insert(), certs)


def _per_call_us(work: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(PROBES):
        work(i)
    return (time.perf_counter() - start) / PROBES * 1e6


def measure(engine: sa.Engine) -> None:
    """Print microseconds per call of each variant on *engine*."""
    _fill(engine)
    keys = [secrets.token_hex(32) for _ in range(PROBES)]
    plain = sa.select(certificates).where(certificates.c.id == sa.bindparam("i"))
    scoped = plain.where(acted_for_by("sha256:" + "c" * 64))
    with engine.begin() as conn:
        figures = {
            "owners (before)": _per_call_us(
                lambda i: OLD_KEY_OWNERS.execute(conn, {"spki": keys[i]}).fetchall()
            ),
            "owners + bar, one query (now)": _per_call_us(
                lambda i: sql.KEY_OWNERS.execute(conn, {"spki": keys[i]}).fetchall()
            ),
            "owners, then bar query": _per_call_us(
                lambda i: (
                    OLD_KEY_OWNERS.execute(conn, {"spki": keys[i]}).fetchall(),
                    sql.KEY_BARRED.execute(conn, {"spki": keys[i]}).fetchone(),
                )
            ),
            "GetCertificate read": _per_call_us(
                lambda i: conn.execute(plain, {"i": f"id-{i}"}).first()
            ),
            "GetCertificate read, portal-scoped": _per_call_us(
                lambda i: conn.execute(scoped, {"i": f"id-{i}"}).first()
            ),
        }
    for name, micros in figures.items():
        print(f"{engine.dialect.name:10} {name:36} {micros:7.1f} us")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        measure(sa.create_engine(f"sqlite:///{Path(folder) / 'bench.db'}"))
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    try:
        measure(sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={SCHEMA}"}))
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {SCHEMA} CASCADE"))


if __name__ == "__main__":
    main()
