"""The phone's CSR (``RedeemEnrollment``): :func:`issuer.profile.csr.check_csr`.

Documented refusals: :class:`CsrError` with one of :data:`CSR_CODES`, and
:class:`WeakKeyError`. The policy allows every key kind the schema knows, so the
RSA checks (size, exponent, ROCA, Fermat) are reached too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from fuzz.refusals import UndocumentedRefusal, refused
from issuer.profile.csr import CSR_CODES, CsrError, WeakKeyError, check_csr
from policies import default_policy
from policies.schema import KeyKind

ALL_KEY_KINDS: tuple[KeyKind, ...] = ("ec-p256", "ec-p384", "rsa")


def _code(exc: BaseException) -> None:
    if isinstance(exc, CsrError) and exc.code not in CSR_CODES:
        raise UndocumentedRefusal(f"CsrError with code {exc.code}") from exc


def build(work: Path) -> Callable[[bytes], None]:
    policy = default_policy()
    policy = replace(policy, keys=replace(policy.keys, allowed=ALL_KEY_KINDS))

    def one(data: bytes) -> None:
        with refused(CsrError, WeakKeyError, check=_code):
            check_csr(data, policy)

    return one
