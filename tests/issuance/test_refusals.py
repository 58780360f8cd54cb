"""Refusals with catalogue codes; a refused request changes nothing but the attempt count."""

from __future__ import annotations

import math
import os
import secrets
import stat
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from issuer.enrolment.redeem import AttemptLocks
from issuer.enrolment.tokens import token_sha256
from issuer.errors import CATALOGUE, ZorgIdError
from issuer.errors.issuance import ISSUANCE_ERROR_TABLE
from issuer.keys.roca import ROCA_GENERATOR, ROCA_PRIMES
from issuer.store.schema import audit_events, certificates, registrations, serial_reservations
from policies import DEFAULT_POLICY_PATH, load_policy
from testkit.phone import Phone
from tests.issuance.conftest import MOBILE, CaSetup, World, attributes, build_world
from tests.issuance.test_grpc import Channel, _redeem, channel, served
from tests.regressions import (
    CSR_REFUSALS,
    PSS_WITHOUT_PARAMETERS,
    csr_inputs,
    rsa_pss_csr_without_parameters,
)
from tests.server.conftest import test_pki
from tests.server.test_mtls_roles import error_info
from tests.store.dbfixtures import Database

__all__ = ["channel", "served", "test_pki"]

REPO = Path(__file__).resolve().parents[2]


def _rsa_policy() -> str:
    text = DEFAULT_POLICY_PATH.read_text()
    text = text.replace('allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p256", "rsa"]')
    text = text.replace('version = "dev-1"', 'version = "dev-1-rsa"')
    assert load_policy(text).keys.allowed == ("ec-p256", "rsa")
    return text


@pytest.fixture
def rsa_world(migrated_db: Database, migrated: sa.Engine, ca: CaSetup) -> Iterator[World]:
    yield build_world(migrated_db, migrated, ca, _rsa_policy())


def _csr(key: rsa.RSAPrivateKey) -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phone")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


def _rsa_from_primes(p: int, q: int, e: int) -> rsa.RSAPrivateKey:
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, p * q),
    )
    return numbers.private_key()


def _is_probable_prime(n: int) -> bool:
    if n < 2:
        return False
    for small in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % small == 0:
            return n == small
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(24):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _roca_prime(bits: int) -> int:
    """A prime of RSALib's form ``k*M + 65537^a mod M`` (CVE-2017-15361), in
    [sqrt(2)*2^(bits-1), 2^bits) so that two of them make a full 2*bits modulus."""
    m = math.prod(ROCA_PRIMES)
    low = math.isqrt(2 ** (2 * bits - 1)) // m + 1
    high = 2**bits // m - 1
    while True:
        k = low + secrets.randbelow(high - low)
        p = k * m + pow(ROCA_GENERATOR, secrets.randbelow(10**6), m)
        if p.bit_length() == bits and _is_probable_prime(p):
            return p


def _rsa_with_exponent(e: int, bits: int = 2048) -> rsa.RSAPrivateKey:
    while True:
        p = rsa.generate_private_key(65537, bits).private_numbers().p
        q = rsa.generate_private_key(65537, bits).private_numbers().q
        if math.gcd(e, (p - 1) * (q - 1)) == 1:
            return _rsa_from_primes(p, q, e)


def _refused(world: World, token: str, csr: bytes) -> str:
    with pytest.raises(ZorgIdError) as caught:
        world.redeemer.redeem(token, csr, actor=MOBILE)
    return caught.value.code


def _nothing_issued(world: World) -> None:
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(certificates)).scalar() == 0
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(serial_reservations)).scalar() == 0
        )


def test_every_issuance_code_is_in_the_catalogue() -> None:
    for row in ISSUANCE_ERROR_TABLE:
        assert row[0] in CATALOGUE


def test_weak_rsa_keys_are_refused_and_counted(rsa_world: World) -> None:
    world = rsa_world
    enrolment = world.enrol()
    small = rsa.generate_private_key(65537, 1024)
    p, q = _roca_prime(1024), _roca_prime(1024)
    assert (p * q).bit_length() == 2048
    cases = {
        "rsa-size": small,
        "rsa-exponent": _rsa_with_exponent(3, 2048),
        "roca": _rsa_from_primes(p, q, 65537),
    }
    for reason, key in cases.items():
        with pytest.raises(ZorgIdError) as caught:
            world.redeemer.redeem(enrolment.token, _csr(key), actor=MOBILE)
        assert (caught.value.code, caught.value.metadata["reason"]) == ("ZID-1202", reason)
    _nothing_issued(world)
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(registrations)).one()
    assert row.failed_attempts == 3 and row.token_used_at is None
    # A good RSA key still redeems the (unburnt) token.
    good = world.redeemer.redeem(
        enrolment.token, _csr(rsa.generate_private_key(65537, 2048)), actor=MOBILE
    )
    assert good.certificate.status == "good"


def test_rsa_refused_when_the_policy_does_not_allow_it(world: World) -> None:
    enrolment = world.enrol()
    assert _refused(world, enrolment.token, _csr(rsa.generate_private_key(65537, 2048))) == (
        "ZID-1202"
    )


def test_bad_csr_signature_is_refused(world: World, new_phone: Callable[..., Phone]) -> None:
    enrolment = world.enrol()
    der = bytearray(new_phone().csr())
    der[-5] ^= 0x01  # inside the signature's last INTEGER
    assert _refused(world, enrolment.token, bytes(der)) == "ZID-1201"
    assert _refused(world, enrolment.token, b"not a CSR") == "ZID-1201"
    _nothing_issued(world)


def test_key_of_another_person_is_refused(world: World, new_phone: Callable[..., Phone]) -> None:
    phone = new_phone()
    first = world.enrol(attributes("900016528"))
    world.redeemer.redeem(first.token, phone.csr(), actor=MOBILE)
    second = world.enrol(attributes("900016529"))
    assert _refused(world, second.token, phone.csr()) == "ZID-1203"
    # The same person may certify the same phone key again (flow 5: new attributes).
    again = world.enrol(attributes("900016528", card_type="N"))
    redo = world.redeemer.redeem(again.token, phone.csr(), actor=MOBILE)
    assert redo.certificate.spki_sha256 == phone.spki_sha256
    # The second person's token was given back, not burnt.
    assert world.redeemer.redeem(second.token, new_phone().csr(), actor=MOBILE).certificate


def test_expired_token_is_refused(world: World, new_phone: Callable[..., Phone]) -> None:
    eleven_days_ago = datetime.now(UTC) - timedelta(days=11)
    enrolment = world.enrol(now=eleven_days_ago)
    assert _refused(world, enrolment.token, new_phone().csr()) == "ZID-1302"
    _nothing_issued(world)


def test_unknown_and_malformed_tokens(world: World, new_phone: Callable[..., Phone]) -> None:
    csr = new_phone().csr()
    assert _refused(world, secrets.token_urlsafe(32), csr) == "ZID-1301"
    assert _refused(world, "short", csr) == "ZID-1306"


def test_too_many_failed_attempts_block_the_token(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    enrolment = world.enrol()
    limit = world.policy.enrolment.max_failed_attempts
    for _ in range(limit):
        assert _refused(world, enrolment.token, b"garbage") == "ZID-1201"
    assert _refused(world, enrolment.token, new_phone().csr()) == "ZID-1304"
    _nothing_issued(world)


def test_used_token_is_refused_for_another_csr(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    enrolment = world.enrol()
    world.redeemer.redeem(enrolment.token, new_phone().csr(), actor=MOBILE)
    assert _refused(world, enrolment.token, new_phone().csr()) == "ZID-1303"


# -- hostile CSRs over real gRPC (issue 16, item 7) --------------------------------


def _failed_attempts(world: World, token_sha: str) -> int:
    with world.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(registrations.c.failed_attempts).where(
                    registrations.c.token_sha256 == token_sha
                )
            ).scalar_one()
        )


def test_hostile_csrs_get_their_own_code_and_count_as_failed_attempts(
    world: World, channel: Channel
) -> None:
    """Each CSR that once crashed the parser: its own ZID over gRPC, one failed attempt each."""
    cases = [(csr_inputs()[name], code) for name, (_, code) in sorted(CSR_REFUSALS.items())]
    cases.append((rsa_pss_csr_without_parameters(), PSS_WITHOUT_PARAMETERS[1]))
    assert len(cases) < world.policy.enrolment.max_failed_attempts  # none is refused as blocked
    enrolment = world.enrol()
    digest = token_sha256(enrolment.token)
    for attempts, (csr, code) in enumerate(cases, start=1):
        with pytest.raises(grpc.RpcError) as refused:
            _redeem(channel("mobile"), enrolment.token, csr)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, refused.value.details()
        assert error_info(refused.value).reason == code
        assert _failed_attempts(world, digest) == attempts
    _nothing_issued(world)


# -- the failed-attempt limit under concurrency (issue 16, item 13) -----------------


def test_concurrent_bad_redemptions_evaluate_exactly_the_limit(world: World) -> None:
    """N >> limit bad CSRs at once: exactly ``limit`` are evaluated, the rest refused as blocked."""
    limit = world.policy.enrolment.max_failed_attempts
    threads = 8 * limit
    enrolment = world.enrol()
    barrier = threading.Barrier(threads)

    def attempt(n: int) -> str:
        barrier.wait()
        return _refused(world, enrolment.token, b"not a CSR %d" % n)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        codes = Counter(pool.map(attempt, range(threads)))
    assert codes == {"ZID-1201": limit, "ZID-1304": threads - limit}
    assert _failed_attempts(world, token_sha256(enrolment.token)) == limit
    with world.engine.connect() as conn:
        counted = conn.execute(
            sa.select(sa.func.count())
            .select_from(audit_events)
            .where(audit_events.c.action == "enrolment.redeem")
        ).scalar_one()
    assert counted == limit  # one audited refusal per evaluated attempt
    _nothing_issued(world)


_HOLDER = """
import sys
from issuer.enrolment.redeem import AttemptLocks
with AttemptLocks(sys.argv[1]).hold("registration-1"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_the_sqlite_attempt_lock_excludes_another_process(tmp_path: Path) -> None:
    """``[server] processes`` > 1 on one SQLite file: one attempt per token across processes."""
    database = str(tmp_path / "zorgid.sqlite3")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, database],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        got = threading.Event()

        def take() -> None:
            with AttemptLocks(database).hold("registration-1"):
                got.set()

        taker = threading.Thread(target=take)
        taker.start()
        assert not got.wait(1.0)  # still held by the other process
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert got.wait(30)
        taker.join(30)
        assert holder.wait(30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    folder = tmp_path / "zorgid.sqlite3.attempt-locks"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
