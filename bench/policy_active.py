"""What taking the active policy costs a request: ``ActivePolicy.current()`` in figures.

Usage: ``.venv/bin/python bench/policy_active.py [--seconds 1.5] [--url URL]``

Every issuance request takes the active version once at its start
(``issuer.policy_store.ActivePolicy.current``). Measured in one run, on a
temporary SQLite database (or ``--url``), calls per second of:

* ``baseline``: one bare ``SELECT version, signature`` of the active row
  through a SQLAlchemy ``Connection`` (what a plain per-request read costs);
* ``current()``: the cached path (one statement reading the active and due
  rows on a kept autocommit DB-API connection, ``issuer.store.reads``, then
  the cached object when nothing changed). Here, once: SQLite 9.05x and
  PostgreSQL 4.83x the baseline's rate (126,141/s and 7,487/s); before the
  kept connections it was 0.85x on SQLite;
* ``active()``: no cache, the row verified (SHA-256, ECDSA signature) and the
  document parsed on every call;

with each one's ratio to the baseline. The signer is a software P-256 key
(verification costs the same as for the HSM audit key; nothing is signed in
the measured loops).
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from issuer.audit import AuditLog
from issuer.policy_store import ActivePolicy, PolicyStore
from issuer.store import create_engine_for, upgrade
from issuer.store.schema import policy_versions
from policies import DEFAULT_POLICY_PATH


def _issuer(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )


def _rate(fn: Callable[[], object], seconds: float) -> float:
    fn()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            fn()
        count += 50
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument(
        "--url",
        help="database URL (default: a temporary SQLite file); on PostgreSQL the bench works "
        "in a fresh schema of its own and drops it at the end",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        schema = None
        if url.startswith("postgresql"):
            schema = f"zid_polbench_{secrets.token_hex(4)}"
            with create_engine_for(url).begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine = create_engine_for(url, pg_schema=schema)
        upgrade(engine)
        key = ec.generate_private_key(ec.SECP256R1())
        store = PolicyStore(
            engine,
            audit=AuditLog(),
            signer=key,
            verifier=key.public_key(),
            issuer_cert=_issuer(key),
            bootstrap=lambda: (DEFAULT_POLICY_PATH.read_text(), str(DEFAULT_POLICY_PATH)),
        )
        store.active()
        cache = ActivePolicy.of_store(store)
        query = sa.select(policy_versions.c.version, policy_versions.c.signature).where(
            policy_versions.c.state == "active"
        )

        def baseline() -> object:
            with engine.connect() as conn:
                return conn.execute(query).first()

        base = _rate(baseline, args.seconds)
        cached = _rate(cache.current, args.seconds)
        full = _rate(store.active, args.seconds)
        backend = engine.dialect.name
        print(f"active policy per request ({backend}), calls/s, ratio to baseline")
        print(f"  baseline SELECT  {base:9.0f}/s  1.00")
        print(f"  current()        {cached:9.0f}/s  {cached / base:.2f}")
        print(f"  active()         {full:9.0f}/s  {full / base:.2f}")
        engine.dispose()
        if schema is not None:
            with create_engine_for(url).begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
