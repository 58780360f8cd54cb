"""Per-certificate cost of pkilint vs the lints, and of the whole of step 3.

ARCHITECTURE §5 step 3: pkilint alone (~2.4 ms a certificate) would cap
issuance near 400/s a core; the per-certificate lint must be a small fraction
of that. Two lints are timed: the certificate checks (``fast_lint``, every
check on a whole certificate: profile activation, tests) and the issuing
path's (``lint_inputs`` + ``lint_encoded``: the profile's rules asked of the
inputs, serial/version/issuer/validity read back from the encoded TBS).
Prints figures and ratios measured in this run (the baseline is pkilint on the
same certificates), never asserts a time.

Step 3 is timed two ways in the same run, interleaved round by round so load
from other processes hits both alike, with a software CA key standing in for
the HSM (its signature is the same in both): the ``CertificateBuilder`` path
(build_tbs, lint-sign, the checks, a second build signed by the CA key) and
the issuing path (``Presigner.build_and_lint``: the TBS DER spliced once, both keys sign
those bytes, the input rules).

    .venv/bin/python bench/lint.py [N]
    .venv/bin/python bench/lint.py --cycle [N]   # real cycle: steps 1, 3, OCSP pre-sign
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from issuer.lint import (
    Expected,
    Presigner,
    fast_lint,
    lint_encoded,
    lint_inputs,
    lint_sign,
    pkilint_cert,
)
from issuer.profile import VerifiedAttributes, build_tbs, draw_serial, signature_hash
from issuer.uzi_vocabulary import AgbCode, RoleCode, Ura, UziNumber
from policies import default_policy

T = TypeVar("T")


def _ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256()),
        key,
    )


def _attrs(i: int) -> VerifiedAttributes:
    return VerifiedAttributes(
        uzi_number=UziNumber(f"{900000000 + i:09d}"),
        card_type="Z",
        subscriber_number=Ura("90000382"),
        role=RoleCode("01.015"),
        agb_code=AgbCode(f"{i:08d}"),
        given_name=f"Zoë {i}",
        surname="van der Berg",
        common_name=f"Zoë {i} van der Berg",
        title="dr.",
        organization="Huisartsenpraktijk Ëlst",
    )


def _per_cert_us(func: Callable[[T], object], items: Sequence[T], rounds: int = 3) -> float:
    best = []
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            func(item)
        best.append((time.perf_counter() - start) / len(items) * 1e6)
    return min(best)


def cycle_cpu(n: int) -> int:
    """CPU per certificate of the real cycle's step 1, step 3 and the OCSP pre-sign.

    The dev ceremony in a temporary SoftHSM token (as ``bench/issuance.py``,
    with the OCSP service's hooks), then ``step1_check_request``,
    ``step3_build_lint_sign`` and ``hooks.before_store`` (the first OCSP
    response, signed by the responder key in the HSM) on ``n`` requests with
    made-up reservations (no database writes): ``thread_time`` per step, best
    of 3, so other processes' load inflates it less than wall time; ``HSM
    signs`` is the share of the two inside ``Hsm._sign`` (python-pkcs11 and
    SoftHSM). To compare two commits, run each tree in turn
    (PYTHONPATH=<tree>).
    """
    import tempfile
    from datetime import UTC, datetime

    from bench.issuance import ACTOR, attrs, csrs, p256_cycle
    from hsm.token import Hsm
    from issuer.issuance.records import IssuanceRequest, Reservation

    hsm_spent = [0.0]
    real_sign = Hsm._sign

    def timed_sign(self: Hsm, *args: object, **kwargs: object) -> bytes:
        start = time.thread_time()
        try:
            return real_sign(self, *args, **kwargs)  # type: ignore[arg-type]
        finally:
            hsm_spent[0] += time.thread_time() - start

    with tempfile.TemporaryDirectory(prefix="zorgid-bench-") as tmp:
        _setup, engine, cycle = p256_cycle(Path(tmp), "cpu")
        hooks = cycle.hooks
        requests = [
            IssuanceRequest(attrs=attrs(i), csr=csr, person_id=f"p{i}", actor=ACTOR)
            for i, csr in enumerate(csrs(n))
        ]
        now = datetime.now(UTC)

        def run() -> tuple[float, float, float, float]:
            step1 = step3 = ocsp = 0.0
            hsm_spent[0] = 0.0
            for request in requests:
                t0 = time.thread_time()
                checked = cycle.step1_check_request(request)
                t1 = time.thread_time()
                reservation = Reservation(
                    issuer=cycle.issuer, serial=draw_serial(), reserved_at=now
                )
                t2 = time.thread_time()
                cycle.step3_build_lint_sign(checked, reservation)
                t3 = time.thread_time()
                hooks.before_store(cycle.issuer, reservation.serial_hex)
                ocsp += time.thread_time() - t3
                step3 += t3 - t2
                step1 += t1 - t0
            return step1 / n * 1e6, step3 / n * 1e6, ocsp / n * 1e6, hsm_spent[0] / n * 1e6

        Hsm._sign = timed_sign  # type: ignore[method-assign]
        try:
            run()
            runs = [run() for _ in range(3)]
        finally:
            Hsm._sign = real_sign  # type: ignore[method-assign]
        engine.dispose()
    best = min(runs, key=lambda r: r[0] + r[1] + r[2])
    step1_us, step3_us, ocsp_us, hsm_us = best
    print(f"cycle CPU per certificate, EC P-256 CA in SoftHSM, {n} requests, best of 3:")
    print(f"  step1_check_request      {step1_us:8.1f} us")
    print(f"  step3_build_lint_sign    {step3_us:8.1f} us  (HSM signature included)")
    print(f"  OCSP pre-sign            {ocsp_us:8.1f} us  (hooks.before_store, HSM signature)")
    print(f"  step 1 + step 3          {step1_us + step3_us:8.1f} us")
    print(f"  step 1 + 3 + pre-sign    {step1_us + step3_us + ocsp_us:8.1f} us")
    print(f"    of which 2 HSM signs   {hsm_us:8.1f} us  (Hsm._sign: python-pkcs11 + SoftHSM)")
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--cycle":
        return cycle_cpu(int(sys.argv[2]) if len(sys.argv) > 2 else 500)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    policy = default_policy()
    now = dt.datetime.now(dt.UTC)
    ca, ca_key = _ca(now)
    digest = signature_hash(policy)
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    jobs = [(_attrs(i), draw_serial()) for i in range(n)]

    def build_and_sign(job: tuple[VerifiedAttributes, int]) -> x509.Certificate:
        attrs, serial = job
        return lint_sign(build_tbs(attrs, key, serial, policy, ca, now), policy, ca)

    build_and_sign(jobs[0])  # lint key made once per process, outside the timing
    certs = [build_and_sign(job) for job in jobs]
    ders = [c.public_bytes(serialization.Encoding.DER) for c in certs]
    pairs = [
        (c, Expected(attrs=a, public_key=key, serial=s, policy=policy, issuer_cert=ca, now=now))
        for c, (a, s) in zip(certs, jobs, strict=True)
    ]
    # Made once per profile, as the issuance cycle does (Presigner), outside the timing.
    presigner = Presigner.for_profile(policy, ca)
    shape = presigner.shape

    pkilint_us = _per_cert_us(pkilint_cert, ders[: min(n, 200)])
    fast_us = _per_cert_us(lambda p: fast_lint(*p, shape), pairs)
    fast_der_us = _per_cert_us(
        lambda p: fast_lint(p[0].public_bytes(serialization.Encoding.DER), p[1], shape),
        pairs,
    )
    build_us = _per_cert_us(build_and_sign, jobs)
    assert all(not fast_lint(*p, shape) for p in pairs)
    inputs_us = _per_cert_us(
        lambda p: lint_inputs(p[1], shape) + lint_encoded(p[0], p[1], shape), pairs
    )
    assert all(not (lint_inputs(p[1], shape) + lint_encoded(p[0], p[1], shape)) for p in pairs)

    def step3_builder(job: tuple[VerifiedAttributes, int]) -> x509.Certificate:
        attrs, serial = job
        builder = build_tbs(attrs, key, serial, policy, ca, now)
        linted = lint_sign(builder, policy, ca)
        exp = Expected(
            attrs=attrs, public_key=key, serial=serial, policy=policy, issuer_cert=ca, now=now
        )
        assert not fast_lint(linted, exp, shape)
        signed = builder.sign(ca_key, digest)
        signed.verify_directly_issued_by(ca)
        return signed

    def step3_issuing(job: tuple[VerifiedAttributes, int]) -> x509.Certificate:
        attrs, serial = job
        tbs, _linted = presigner.build_and_lint(attrs, key, serial, now)
        signed = tbs.sign(ca_key, digest)
        tbs.verify(signed, ca.public_key(), digest)
        return signed

    step3_issuing(jobs[0])
    old_runs, new_runs = [], []
    for _ in range(5):
        old_runs.append(_per_cert_us(step3_builder, jobs, rounds=1))
        new_runs.append(_per_cert_us(step3_issuing, jobs, rounds=1))
    old_us, new_us = min(old_runs), min(new_runs)

    print(f"certificates: {n} (EC P-256 issuing CA, SHA-256), 1 core, best of 3")
    print(f"pkilint (baseline)          {pkilint_us:9.1f} us/cert  {1e6 / pkilint_us:8.0f} certs/s")
    print(f"certificate checks (parsed) {fast_us:9.1f} us/cert  {1e6 / fast_us:8.0f} certs/s")
    der_rate = 1e6 / fast_der_us
    print(f"certificate checks (DER)    {fast_der_us:9.1f} us/cert  {der_rate:8.0f} certs/s")
    print(f"input rules + DER reads     {inputs_us:9.1f} us/cert  {1e6 / inputs_us:8.0f} certs/s")
    print(f"build TBS + lint-key sign   {build_us:9.1f} us/cert  {1e6 / build_us:8.0f} certs/s")
    print(f"ratio pkilint / input lint  {pkilint_us / inputs_us:9.1f} x")
    total = inputs_us + build_us
    print(
        f"build + sign + input lint   {total:9.1f} us/cert  {1e6 / total:8.0f} certs/s "
        f"(vs {1e6 / (pkilint_us + build_us):.0f}/s with pkilint per cert)"
    )
    print("step 3, software CA key for the HSM, best of 5 interleaved rounds:")
    print(f"  CertificateBuilder path   {old_us:9.1f} us/cert  {1e6 / old_us:8.0f} certs/s")
    print(f"  issuing path (DER)        {new_us:9.1f} us/cert  {1e6 / new_us:8.0f} certs/s")
    print(f"  ratio                     {old_us / new_us:9.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
