"""UZI-pas verifications per second: the engine's ``verify_card`` path beside raw pyhanko.

Run: ``.venv/bin/python bench/uzi_verify.py [--seconds 3]``.

All figures come from one run on the same chain (test UZI-register card,
RSA-2048, 4-certificate path, CRLs for all three CA levels served over local
HTTP and cached until ``nextUpdate``):

* ``raw``: pyhanko-certvalidator's ``CertificateValidator.async_validate_usage``
  with a fresh ``ValidationContext`` holding the same CRLs (what a caller
  without a path cache pays per verification) -- the baseline;
* ``raw shared``: the same with one ``ValidationContext`` re-used (pyhanko
  then remembers CRL verdicts, but still walks the path every time);
* ``core``: what ``verify_card`` does per card minus the database: parse and
  check the card, verify the challenge signature, validate the chain (path
  cache + cached CRLs), check issuer and policy;
* ``verify_card``: the full call with the SQL store on SQLite (consume the challenge,
  store the session), challenges and signatures made beforehand.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.context import ValidationContext
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from issuer.store import create_engine_for, upgrade
from issuer.store.uzi import SqlUziChallengeStore
from issuer.uzi.checks import SignatureScheme, verify_challenge_signature
from issuer.uzi.crl import CrlCache
from issuer.uzi.validate import ChainValidator, RevocationMode
from issuer.uzi.verify import UziPolicy, UziVerifier, challenge_message
from testkit.crl_server import crl_server
from testkit.uzi_world import UziWorld

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (after a short warm-up)."""
    for _ in range(20):
        fn()
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            fn()
        n += 50
    return n / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, crl_server() as server:
        world = UziWorld(now=NOW, base_url=server.base_url)
        card = world.issue_card("Z")
        server.publish(world)
        trust_dir = world.write_trust_set(Path(tmp) / "trust")
        chain_der = card.chain_der()
        key = card.auth_key
        assert isinstance(key, rsa.RSAPrivateKey)

        # Baseline: raw pyhanko-certvalidator with the same CRLs, fresh context each time.
        crl_ders = list(world.crls().values())
        leaf = asn1_x509.Certificate.load(chain_der[0])
        inter = [asn1_x509.Certificate.load(d) for d in chain_der[1:]]
        root = asn1_x509.Certificate.load(world.root.cert.public_bytes(Encoding.DER))
        rule = RevocationCheckingRule.CRL_REQUIRED
        loop = asyncio.new_event_loop()

        def raw() -> None:
            ctx = ValidationContext(
                trust_roots=[root],
                other_certs=inter,
                crls=crl_ders,
                moment=NOW,
                revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule)),
            )
            validator = CertificateValidator(leaf, inter, ctx)
            loop.run_until_complete(
                validator.async_validate_usage({"digital_signature"})  # type: ignore[no-untyped-call]
            )

        shared_ctx = ValidationContext(
            trust_roots=[root],
            other_certs=inter,
            crls=crl_ders,
            moment=NOW,
            revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy(rule, rule)),
        )

        def raw_shared() -> None:
            validator = CertificateValidator(leaf, inter, shared_ctx)
            loop.run_until_complete(
                validator.async_validate_usage({"digital_signature"})  # type: ignore[no-untyped-call]
            )

        engine = create_engine_for(f"sqlite:///{Path(tmp) / 'zorgid.sqlite3'}")
        upgrade(engine)
        store = SqlUziChallengeStore(engine)
        verifier = UziVerifier(
            policy=UziPolicy(trust_set=str(trust_dir), revocation=RevocationMode.HARD),
            store=store,
            validator=ChainValidator(crls=CrlCache()),
            clock=lambda: NOW,
        )
        verifier.start()  # the CRL refresher fetches the trust set's CRLs, as a server does
        message = challenge_message("bench", b"\x01" * 32)
        signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())

        def core() -> None:
            parsed = verifier.read_card(chain_der[0])
            intermediates = [verifier.read_certificate(d) for d in chain_der[1:]]
            verifier.check_card(parsed)
            verify_challenge_signature(
                parsed.certificate, message, signature, SignatureScheme.RSA_PKCS1V15_SHA256
            )
            verifier.validate(parsed, intermediates, at=NOW)

        core()  # fills the path cache (the CRLs were fetched at start)
        fetched = server.hits
        raw_rate = rate(raw, args.seconds)
        raw_shared_rate = rate(raw_shared, args.seconds)
        core_rate = rate(core, args.seconds)

        pending: list[tuple[str, bytes]] = []

        def prepare(count: int) -> None:
            for _ in range(count):
                ch = verifier.create_challenge(portal="bench")
                pending.append(
                    (
                        ch.challenge_id,
                        key.sign(ch.to_be_signed, padding.PKCS1v15(), hashes.SHA256()),
                    )
                )

        prepare(int(max(core_rate, 100) * args.seconds * 1.2) + 100)

        def full() -> None:
            challenge_id, sig = pending.pop()
            verifier.verify_card(
                challenge_id, chain_der, sig, portal="bench", purpose="registration"
            )

        full_rate = rate(full, args.seconds) if pending else 0.0
        assert server.hits == fetched, "CRLs must come from the cache during the run"

        print(f"raw pyhanko-certvalidator (fresh context, same CRLs): {raw_rate:10.1f} /s  1.00x")
        print(
            f"raw pyhanko-certvalidator (one shared context):       {raw_shared_rate:10.1f} /s  "
            f"{raw_shared_rate / raw_rate:.2f}x"
        )
        print(
            f"engine core (signature + chain + cached CRL):          {core_rate:10.1f} /s  "
            f"{core_rate / raw_rate:.2f}x"
        )
        print(
            f"engine verify_card (+ SQLite challenge and session):    {full_rate:10.1f} /s  "
            f"{full_rate / raw_rate:.2f}x"
        )
        print(f"CRL downloads during the run: {server.hits - fetched} (after {fetched} at start)")
        verifier.stop()
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
