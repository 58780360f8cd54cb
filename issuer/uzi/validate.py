"""The engine's certificate path validation: pyhanko-certvalidator plus CRLs and a path cache.

Path validation itself is RFC 5280 section 6 as implemented by
pyhanko-certvalidator (the maintained fork; ``certvalidator`` no longer
imports on OpenSSL 3). This module adds what the engine needs around it:

* CRLs come from :class:`~issuer.uzi.crl.CrlCache` only; validation never
  fetches (issue 16). A distribution point (RFC 5280 4.2.1.13) whose CRL is
  not cached is named for the background refresher only when the
  certificate naming it lies on a path whose every signature verified up to
  a trust anchor -- a forged certificate's URL is never fetched. In ``hard``
  mode a verified certificate without a current CRL refuses the card
  (ZID-1150 while it is being fetched, ZID-1111 when the last download
  failed); in ``soft`` mode the card is checked against whatever is cached;
  ``off`` checks nothing.
* Every refusal becomes a :class:`~issuer.uzi.errors.UziError` with a stable code.
* A cache of validated paths: a positive result is a pure function of the
  exact certificates, the trust anchors, the CRLs in force and the moment --
  and the moment matters only through the validity windows of the
  certificates and CRLs. So a result is re-used for a moment inside
  ``[max(notBefore, thisUpdate), min(notAfter, nextUpdate))`` while the very
  same CRLs are in force. Refusals and soft-mode results with a missing CRL
  are never cached.

The same entry point (:meth:`ChainValidator.validate`) is what the NIST PKITS
suite runs through in ``tests/uzi/test_pkits.py``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.context import ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathError,
    PathValidationError,
    RevokedError,
    ValidationError,
)
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    DisallowWeakAlgorithmsPolicy,
    PKIXValidationParams,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from issuer.uzi import errors
from issuer.uzi.crl import CrlCache, CrlEntry
from issuer.uzi.errors import UziError

T = TypeVar("T")


class RevocationMode(enum.StrEnum):
    """How revocation is checked (policy ``uzi.revocation``)."""

    OFF = "off"
    """No revocation check at all (development only)."""
    SOFT = "soft"
    """Check against the CRLs that could be obtained; proceed without the others."""
    HARD = "hard"
    """Every certificate in the path must be checked against a current CRL."""


_RULES = {
    RevocationMode.OFF: RevocationCheckingPolicy(
        RevocationCheckingRule.NO_CHECK, RevocationCheckingRule.NO_CHECK
    ),
    RevocationMode.SOFT: RevocationCheckingPolicy(
        RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
        RevocationCheckingRule.CHECK_IF_DECLARED_SOFT,
    ),
    RevocationMode.HARD: RevocationCheckingPolicy(
        RevocationCheckingRule.CRL_REQUIRED, RevocationCheckingRule.CRL_REQUIRED
    ),
}


@dataclass(frozen=True, kw_only=True)
class AlgorithmRules:
    """Which algorithms a path may use. Defaults: no MD2/MD5/SHA-1, RSA >= 2048 bits."""

    weak_hashes: frozenset[str] = frozenset({"md2", "md5", "sha1"})
    min_rsa_bits: int = 2048
    min_dsa_bits: int = 2048


@dataclass(frozen=True, kw_only=True)
class PkixParams:
    """RFC 5280 section 6.1.1 (c), (e), (f), (g): the user's initial policy inputs."""

    user_initial_policy_set: frozenset[str] = frozenset({"any_policy"})
    initial_explicit_policy: bool = False
    initial_any_policy_inhibit: bool = False
    initial_policy_mapping_inhibit: bool = False


@dataclass(frozen=True, kw_only=True)
class ValidatedChain:
    """A validated path, leaf first, anchor last."""

    path: tuple[x509.Certificate, ...] = field(repr=False)
    subjects: tuple[str, ...]
    """RFC 4514 subjects, leaf first."""
    crl_sha256: tuple[str, ...]
    from_cache: bool


@dataclass(frozen=True)
class _Request:
    leaf: x509.Certificate
    leaf_der: bytes
    anchor_ders: tuple[bytes, ...]
    inter_ders: tuple[bytes, ...]
    revocation: RevocationMode
    key_usage: frozenset[str]
    extended_key_usage: frozenset[str] | None
    pkix: PkixParams | None
    static: tuple[CrlEntry, ...]
    key: bytes


@dataclass(frozen=True)
class _CacheEntry:
    path: tuple[x509.Certificate, ...]
    subjects: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    crl_requirements: tuple[tuple[str, bytes, str], ...]  # (url, issuer DER, sha256)


def _crl_urls(cert: asn1_x509.Certificate) -> list[str]:
    urls: list[str] = []
    for dp in cert.crl_distribution_points or []:
        name = dp["distribution_point"]
        if name.name != "full_name":
            continue
        for general in name.chosen:
            if general.name == "uniform_resource_identifier":
                url = str(general.native)
                if url.startswith("http://"):
                    urls.append(url)
    return urls


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code.

    On this thread's private loop (cheaper than ``asyncio.run``); when called
    from inside a running event loop (a sync call from async code), on a
    helper thread instead, so the sync API works everywhere -- it blocks that
    loop meanwhile, as any sync call does; async callers should use ``avalidate``.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _LOOPS.loop.run_until_complete(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class _ThreadLoops(threading.local):
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()


_LOOPS = _ThreadLoops()


class ChainValidator:
    """Validate certificate paths against given anchors; one instance per process."""

    def __init__(
        self,
        *,
        crls: CrlCache | None = None,
        algorithms: AlgorithmRules | None = None,
        cache_size: int = 10_000,
    ) -> None:
        self.crls = crls if crls is not None else CrlCache()
        self.algorithms = algorithms if algorithms is not None else AlgorithmRules()
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, _CacheEntry] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _der(cert: x509.Certificate) -> bytes:
        """DER of a certificate (the form the path cache and the validator take)."""
        return cert.public_bytes(Encoding.DER)

    def clear_cache(self) -> None:
        """Forget every validated path (e.g. after the trust set changed)."""
        with self._lock:
            self._cache.clear()

    @staticmethod
    def _to_asn1(der: bytes) -> asn1_x509.Certificate:
        """A fresh asn1crypto object for every validation, never a shared one.

        asn1crypto parses lazily and remembers what was read; after one
        validation an object may re-encode differently (seen with PKITS 4.3.6,
        certificates with unique identifiers), which breaks the signature
        check of the next validation. Loading is cheap; the path cache makes
        re-validation rare anyway.
        """
        return asn1_x509.Certificate.load(der)

    def validate(
        self,
        leaf: x509.Certificate,
        *,
        anchors: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        at: datetime,
        revocation: RevocationMode,
        key_usage: frozenset[str] = frozenset(),
        extended_key_usage: frozenset[str] | None = None,
        pkix: PkixParams | None = None,
    ) -> ValidatedChain:
        """Validate ``leaf`` at ``at``; raise :class:`UziError` with the refusal's code."""
        request = self._request(
            leaf, anchors, intermediates, revocation, key_usage, extended_key_usage, pkix
        )
        hit = self._cached(request.key, at)
        if hit is not None:
            return hit
        return _run(self._validate_uncached(request, at))

    def _cache_key(
        self,
        leaf_der: bytes,
        anchors: Sequence[bytes],
        intermediates: Sequence[bytes],
        revocation: RevocationMode,
        key_usage: frozenset[str],
        extended_key_usage: frozenset[str] | None,
        pkix: PkixParams | None,
        static: Sequence[CrlEntry],
    ) -> bytes:
        digest = hashlib.sha256()
        for part in (leaf_der, b"|A", *sorted(anchors), b"|I", *sorted(intermediates)):
            digest.update(hashlib.sha256(part).digest())
        digest.update(
            repr(
                (
                    revocation.value,
                    sorted(key_usage),
                    sorted(extended_key_usage) if extended_key_usage is not None else None,
                    pkix,
                    self.algorithms,
                    sorted(e.sha256 for e in static),
                )
            ).encode()
        )
        return digest.digest()

    def _cached(self, key: bytes, at: datetime) -> ValidatedChain | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
        if entry is None or not (entry.not_before <= at < entry.not_after):
            return None
        for url, issuer_der, sha in entry.crl_requirements:
            if self.crls.fingerprint_for(url, issuer_der, at) != sha:
                return None
        return ValidatedChain(
            path=entry.path,
            subjects=entry.subjects,
            crl_sha256=tuple(sha for _, _, sha in entry.crl_requirements),
            from_cache=True,
        )

    def _store(self, key: bytes, entry: _CacheEntry) -> None:
        with self._lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    async def avalidate(
        self,
        leaf: x509.Certificate,
        *,
        anchors: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        at: datetime,
        revocation: RevocationMode,
        key_usage: frozenset[str] = frozenset(),
        extended_key_usage: frozenset[str] | None = None,
        pkix: PkixParams | None = None,
    ) -> ValidatedChain:
        """Async form of :meth:`validate` (for callers already inside an event loop)."""
        request = self._request(
            leaf, anchors, intermediates, revocation, key_usage, extended_key_usage, pkix
        )
        hit = self._cached(request.key, at)
        if hit is not None:
            return hit
        return await self._validate_uncached(request, at)

    def _request(
        self,
        leaf: x509.Certificate,
        anchors: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate],
        revocation: RevocationMode,
        key_usage: frozenset[str],
        extended_key_usage: frozenset[str] | None,
        pkix: PkixParams | None,
    ) -> _Request:
        leaf_der = self._der(leaf)
        anchor_ders = tuple(self._der(c) for c in anchors)
        inter_ders = tuple(self._der(c) for c in intermediates)
        static = self.crls.static
        key = self._cache_key(
            leaf_der,
            anchor_ders,
            inter_ders,
            revocation,
            key_usage,
            extended_key_usage,
            pkix,
            static,
        )
        return _Request(
            leaf,
            leaf_der,
            anchor_ders,
            inter_ders,
            revocation,
            key_usage,
            extended_key_usage,
            pkix,
            static,
            key,
        )

    async def _validate_uncached(self, request: _Request, at: datetime) -> ValidatedChain:
        leaf, leaf_der = request.leaf, request.leaf_der
        anchor_ders, inter_ders = request.anchor_ders, request.inter_ders
        revocation, key_usage = request.revocation, request.key_usage
        extended_key_usage, pkix = request.extended_key_usage, request.pkix
        static, key = request.static, request.key
        leaf_asn1 = self._to_asn1(leaf_der)
        roots = [self._to_asn1(d) for d in anchor_ders]
        others = [self._to_asn1(d) for d in inter_ders]
        algorithm_policy = DisallowWeakAlgorithmsPolicy(  # type: ignore[no-untyped-call]
            weak_hash_algos=set(self.algorithms.weak_hashes),
            rsa_key_size_threshold=self.algorithms.min_rsa_bits,
            dsa_key_size_threshold=self.algorithms.min_dsa_bits,
        )

        params = (
            PKIXValidationParams(
                user_initial_policy_set=pkix.user_initial_policy_set,
                initial_explicit_policy=pkix.initial_explicit_policy,
                initial_any_policy_inhibit=pkix.initial_any_policy_inhibit,
                initial_policy_mapping_inhibit=pkix.initial_policy_mapping_inhibit,
            )
            if pkix is not None
            else None
        )

        # Step 1: the CRLs of the candidate paths, from the cache only (nothing is fetched here).
        fetched: list[CrlEntry] = []
        requirements: list[tuple[str, bytes, str]] = []
        missing: set[str] = set()
        unchecked: list[str] = []
        if revocation is not RevocationMode.OFF:
            # Fresh objects: reading extensions of asn1crypto objects can change how
            # they re-encode, which would break signature checks of the real run.
            probe = ValidationContext(
                trust_roots=[asn1_x509.Certificate.load(d) for d in anchor_ders],
                other_certs=[asn1_x509.Certificate.load(d) for d in inter_ders],
                moment=at,
                revinfo_policy=CertRevTrustPolicy(_RULES[RevocationMode.OFF]),
                algorithm_usage_policy=algorithm_policy,
            )
            try:
                paths = await probe.path_builder.async_build_paths(
                    asn1_x509.Certificate.load(leaf_der)
                )
            except PathBuildingError as exc:
                raise _unknown_ca(leaf, exc) from None
            except (ValueError, TypeError, KeyError) as exc:
                raise UziError(
                    errors.INVALID_CHAIN, f"malformed certificate while building the path: {exc}"
                ) from None
            seen: set[bytes] = set()
            for path in paths:
                for cert in path.iter_certs(include_root=False):
                    der = cert.dump()
                    if der in seen:
                        continue
                    seen.add(der)
                    issuer_der = cert.issuer.dump()
                    for url in _crl_urls(cert):
                        entry = self.crls.lookup(url, issuer_der, at)
                        if entry is None:
                            missing.add(url)
                            continue
                        fetched.append(entry)
                        requirements.append((url, issuer_der, entry.sha256))

        # Step 2 (issue 16): a CRL not in the cache is asked for only when the certificate
        # naming it is on a path whose every signature verified up to a trust anchor; a
        # forged certificate's distribution point is never fetched, now or later.
        if missing:
            verified = await self._verified_path(request, at, algorithm_policy, params)
            named = [(cert, url) for cert in verified for url in _crl_urls(cert)]
            unchecked = [url for _, url in named if url in missing]
            refusal = (  # read before want() wakes the refresher: this request's state
                self._no_current_crl([c for c, url in named if url in unchecked])
                if revocation is RevocationMode.HARD and unchecked
                else None
            )
            self.crls.want(unchecked)
            if refusal is not None:
                raise refusal

        # Step 3: RFC 5280 section 6 path validation with the CRLs in force.
        crl_ders = {e.sha256: e.der for e in (*static, *fetched)}
        context = ValidationContext(
            trust_roots=roots,
            other_certs=others,
            moment=at,
            crls=list(crl_ders.values()),
            revinfo_policy=CertRevTrustPolicy(_RULES[revocation]),
            algorithm_usage_policy=algorithm_policy,
            allow_fetching=False,
        )
        validator = CertificateValidator(leaf_asn1, others, context, pkix_params=params)
        try:
            if key_usage or extended_key_usage:
                vpath = await validator.async_validate_usage(  # type: ignore[no-untyped-call]
                    set(key_usage), set(extended_key_usage or ()), extended_key_usage is None
                )
            else:
                vpath = await validator.async_validate_path()
        except (ValidationError, PathError) as exc:
            raise _refusal(leaf, exc, revocation) from None
        except (ValueError, TypeError, KeyError) as exc:
            # asn1crypto raises these on malformed extensions deep inside validation.
            raise UziError(errors.INVALID_CHAIN, f"malformed certificate in path: {exc}") from None

        path_der = tuple(c.dump() for c in reversed(list(vpath.iter_certs(include_root=True))))
        chain = tuple(x509.load_der_x509_certificate(d) for d in path_der)
        subjects = tuple(c.subject.rfc4514_string() for c in chain)
        if not unchecked:
            lo = max(c.not_valid_before_utc for c in chain)
            hi = min(c.not_valid_after_utc for c in chain)
            for entry in (*fetched, *static):
                lo = max(lo, entry.this_update)
                if entry.next_update is not None:
                    hi = min(hi, entry.next_update)
            self._store(key, _CacheEntry(chain, subjects, lo, hi, tuple(requirements)))
        return ValidatedChain(
            path=chain,
            subjects=subjects,
            crl_sha256=tuple(r[2] for r in requirements),
            from_cache=False,
        )

    async def _verified_path(
        self,
        request: _Request,
        at: datetime,
        algorithm_policy: DisallowWeakAlgorithmsPolicy,
        params: PKIXValidationParams | None,
    ) -> list[asn1_x509.Certificate]:
        """The path's certificates below the anchor, every signature verified (RFC 5280 6.1.3).

        Path validation without revocation: a card that does not chain to a
        trust anchor by signature is refused here, with the code of its fault,
        before any of its distribution points is named for fetching.
        """
        context = ValidationContext(
            trust_roots=[self._to_asn1(d) for d in request.anchor_ders],
            other_certs=[self._to_asn1(d) for d in request.inter_ders],
            moment=at,
            revinfo_policy=CertRevTrustPolicy(_RULES[RevocationMode.OFF]),
            algorithm_usage_policy=algorithm_policy,
            allow_fetching=False,
        )
        others = [self._to_asn1(d) for d in request.inter_ders]
        validator = CertificateValidator(
            self._to_asn1(request.leaf_der), others, context, pkix_params=params
        )
        try:
            vpath = await validator.async_validate_path()
        except (ValidationError, PathError) as exc:
            raise _refusal(request.leaf, exc, request.revocation) from None
        except (ValueError, TypeError, KeyError) as exc:
            raise UziError(errors.INVALID_CHAIN, f"malformed certificate in path: {exc}") from None
        return list(vpath.iter_certs(include_root=False))

    def _no_current_crl(self, certs: Sequence[asn1_x509.Certificate]) -> UziError:
        """Hard mode without a current CRL: retry later, or the register is unreachable.

        The detail names the verified certificates whose CRL is missing, never
        why a download failed (that is logged): a caller must not learn what a
        fetch met on the network.
        """
        subjects = ", ".join(sorted({repr(c.subject.human_friendly) for c in certs}))
        failed = [u for c in certs for u in _crl_urls(c) if self.crls.failure(u) is not None]
        if failed:
            return UziError(
                errors.REVOCATION_UNAVAILABLE,
                f"no current CRL for {subjects}: the last download from the register failed and "
                "is retried in the background; revocation mode 'hard' requires a current CRL",
            )
        return UziError(
            errors.REVOCATION_PENDING,
            f"the CRL for {subjects} is being fetched in the background; "
            "revocation mode 'hard' requires a current CRL",
        )


def _unknown_ca(leaf: x509.Certificate, exc: Exception) -> UziError:
    return UziError(
        errors.UNKNOWN_CA,
        f"no path from issuer {leaf.issuer.rfc4514_string()!r} to a trusted anchor ({exc})",
    )


def _refusal(leaf: x509.Certificate, exc: Exception, revocation: RevocationMode) -> UziError:
    text = str(exc)
    if isinstance(exc, PathBuildingError):
        return _unknown_ca(leaf, exc)
    if isinstance(exc, RevokedError):
        return UziError(errors.REVOKED, text)
    if isinstance(exc, ExpiredError):
        return UziError(errors.EXPIRED, text)
    if isinstance(exc, NotYetValidError):
        return UziError(errors.NOT_YET_VALID, text)
    if isinstance(exc, InsufficientRevinfoError):
        return UziError(errors.REVOCATION_UNAVAILABLE, f"{text} (revocation mode {revocation})")
    if isinstance(exc, DisallowedAlgorithmError):
        return UziError(errors.WEAK_ALGORITHM, text)
    if isinstance(exc, InvalidCertificateError):
        return UziError(errors.NOT_A_CARD_CERTIFICATE, text)
    if isinstance(exc, PathValidationError):
        return UziError(errors.INVALID_CHAIN, text)
    return UziError(errors.INVALID_CHAIN, text)
