"""Many threads signing at once through one loaded module (the module lock at work)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from hsm import Hsm, HsmEcPrivateKey, HsmPrivateKey, HsmRsaPrivateKey, KeySpec

THREADS = 16
ROUNDS = 25


def _run_all(work: list[HsmPrivateKey]) -> list[tuple[HsmPrivateKey, bytes, bytes]]:
    """Start one thread per entry at the same instant; each signs ROUNDS times."""
    barrier = threading.Barrier(len(work))

    def one(index: int) -> list[tuple[HsmPrivateKey, bytes, bytes]]:
        key = work[index]
        barrier.wait()
        out: list[tuple[HsmPrivateKey, bytes, bytes]] = []
        for n in range(ROUNDS):
            data = f"thread {index} round {n}".encode()
            if isinstance(key, HsmEcPrivateKey):
                out.append((key, data, key.sign(data, ec.ECDSA(hashes.SHA256()))))
            else:
                assert isinstance(key, HsmRsaPrivateKey)
                out.append((key, data, key.sign(data, padding.PKCS1v15(), hashes.SHA256())))
        return out

    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        results = list(pool.map(one, range(len(work))))
    return [item for batch in results for item in batch]


def _verify(key: HsmPrivateKey, data: bytes, signature: bytes) -> None:
    if isinstance(key, HsmEcPrivateKey):
        key.public_key().verify(signature, data, ec.ECDSA(hashes.SHA256()))
    else:
        key.public_key().verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def test_sixteen_threads_sign_at_once(hsm_keys: dict[KeySpec, HsmPrivateKey]) -> None:
    key = hsm_keys[KeySpec.EC_P256]
    results = _run_all([key] * THREADS)
    assert len(results) == THREADS * ROUNDS
    for signer, data, signature in results:
        _verify(signer, data, signature)


def test_threads_mix_keys_and_two_tokens(
    hsm_keys: dict[KeySpec, HsmPrivateKey], second_hsm: Hsm
) -> None:
    label = "hsm-thread-mix"
    other = second_hsm.get_key(label) if second_hsm.has_key(label) else None
    if other is None:
        other = second_hsm.generate_key(label, KeySpec.EC_P384)
    pool = [hsm_keys[KeySpec.EC_P256], hsm_keys[KeySpec.RSA_2048], other, hsm_keys[KeySpec.EC_P384]]
    work = [pool[i % len(pool)] for i in range(THREADS)]
    results = _run_all(work)
    assert len(results) == THREADS * ROUNDS
    for signer, data, signature in results:
        _verify(signer, data, signature)
    tokens = {signer.hsm.token_label for signer, _, _ in results}
    assert tokens == {hsm_keys[KeySpec.EC_P256].hsm.token_label, second_hsm.token_label}
