"""Proof of presence of a UZI-pas: challenge, signature, card checks, chain, session.

Flow 1 of the architecture: the engine makes a random challenge; the desktop
app signs it with the card's *authentication* key and sends the card's
certificate (plus intermediates); the engine checks, in this order,

1. the input's size (an oversize chain is refused before any parsing);
2. the card certificate's structure and UZI identity (:mod:`issuer.uzi.card`);
3. that it is the authentication certificate (the profile: only it proves who
   holds the card) and that policy accepts the card type and role;
4. the challenge: consumed atomically (single use), not expired, same portal;
5. the signature over the challenge with the certificate's key;
6. the path to the trust set's anchor, validity at the moment, key usage and
   revocation (:mod:`issuer.uzi.validate`);
7. that the UZI otherName's CA OID, its card type and the issuing CA agree
   (the profile: take the card type from the issuing CA as well as from the
   SAN string), and that the policy OID fits the certificate kind;

and then opens a short-lived UZI session, storing only the SHA-256 of its handle.

The rules come from a policy *source* (issue 7): a fixed :class:`UziPolicy`,
or a callable returning the active version's. Each request takes one
:class:`UziRules` snapshot at its start and uses it for every step, so an
officer activating a new version never changes the rules half-way through a
request; the next request follows the new version without a restart.
The challenge is consumed at step 4, before the signature and chain checks:
an attempt that fails there also uses it up, so a retry needs a fresh
challenge ("Verversen") and a captured signature can never be replayed.
Steps 1-3 look only at what was sent (no state), so a card refused for its
kind or type leaves the challenge usable for the right certificate.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from issuer.errors import ZorgIdError
from issuer.uzi import errors
from issuer.uzi.card import (
    CertKind,
    UziCard,
    UziIdentity,
    load_certificate,
    parse_card,
)
from issuer.uzi.checks import (
    KEY_USAGE_FOR_KIND,
    SignatureScheme,
    check_card_key,
    check_issuer,
    check_kind,
    check_policy,
    verify_challenge_signature,
)
from issuer.uzi.crl import CrlRefresher
from issuer.uzi.errors import UziError
from issuer.uzi.store import ChallengeRecord, ChallengeState, UziChallengeStore, UziSessionRecord
from issuer.uzi.trust import TrustSet, load_trust_set
from issuer.uzi.validate import ChainValidator, RevocationMode, ValidatedChain
from issuer.uzi_vocabulary import CardType

_LOG = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NONCE_BYTES = 32
"""256 bits: a guess succeeds with probability 2**-256 per try."""
PARSED_CARDS_KEPT = 4096
PROOF_CARD_TYPES = frozenset({CardType.ZORGVERLENER, CardType.MEDEWERKER_OP_NAAM})
"""Only personal cards prove a person; policy may narrow this, never widen it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class UziPolicy:
    """The UZI part of the issuance policy (values, not the TOML document)."""

    trust_set: str
    """``prod``, ``acc`` or a folder of PEM files: which UZI environment is trusted."""
    revocation: RevocationMode = RevocationMode.HARD
    accepted_card_types: frozenset[CardType] = PROOF_CARD_TYPES
    accepted_roles: frozenset[str] | None = None
    """Role codes (``NN.NNN``) or profession prefixes (``NN.``); None = every role."""
    challenge_lifetime: timedelta = timedelta(minutes=5)
    session_lifetime: timedelta = timedelta(minutes=15)
    max_chain_certificates: int = 6
    """Leaf plus intermediates: the real UZI paths have 3 below the root."""
    max_certificate_bytes: int = 8192

    def __post_init__(self) -> None:
        extra = self.accepted_card_types - PROOF_CARD_TYPES
        if extra or not self.accepted_card_types:
            raise ValueError(
                f"accepted_card_types {sorted(self.accepted_card_types)}: expected a non-empty "
                f"subset of {sorted(PROOF_CARD_TYPES)}; M and S cards never prove a person"
            )
        if self.challenge_lifetime <= timedelta(0) or self.session_lifetime <= timedelta(0):
            raise ValueError("challenge and session lifetimes must be positive")


PolicySource = Callable[[], UziPolicy]
"""Returns the UZI rules of the policy version active *now* (called once per request)."""


@dataclass(frozen=True, kw_only=True)
class UziRules:
    """One request's snapshot: the policy and the trust set it names, taken together."""

    policy: UziPolicy
    trust: TrustSet


@dataclass(frozen=True, kw_only=True)
class Challenge:
    """What the portal hands to the desktop app."""

    challenge_id: str
    nonce: bytes = field(repr=False)
    expires_at: datetime

    @property
    def to_be_signed(self) -> bytes:
        return challenge_message(self.challenge_id, self.nonce)


def challenge_message(challenge_id: str, nonce: bytes) -> bytes:
    """The exact bytes the card signs: domain-separated so no other protocol's data fits."""
    return b"ZORG-ID UZI-pas proof v1\n" + challenge_id.encode("ascii") + b"\n" + nonce


@dataclass(frozen=True, kw_only=True)
class UziProof:
    """The result of a verified UZI-pas: who, and a handle for the next step of the flow."""

    identity: UziIdentity
    card: UziCard
    chain: tuple[str, ...]
    session_handle: str = field(repr=False)
    session_expires_at: datetime


def _check_size(chain: Sequence[bytes], policy: UziPolicy) -> None:
    if not chain:
        raise UziError(errors.BAD_ENCODING, "got no certificate; expected the card's certificate")
    if len(chain) > policy.max_chain_certificates:
        raise UziError(
            errors.OVERSIZE_CHAIN,
            f"got {len(chain)} certificates; at most {policy.max_chain_certificates} accepted",
        )
    for i, item in enumerate(chain):
        if len(item) > policy.max_certificate_bytes:
            raise UziError(
                errors.OVERSIZE_CHAIN,
                f"certificate {i} is {len(item)} bytes; at most {policy.max_certificate_bytes}",
            )


class UziVerifier:
    """Challenges and UZI-pas proofs under a policy source; share one per process.

    ``policy`` is a fixed :class:`UziPolicy` or a :data:`PolicySource` (the
    active version's rules, issue 7). The validator, its caches and the parsed
    certificates are shared across versions; trust sets are loaded once per
    trust-set name, so a version change costs no re-validation warm-up.
    """

    def __init__(
        self,
        *,
        policy: UziPolicy | PolicySource,
        store: UziChallengeStore,
        validator: ChainValidator | None = None,
        refresher: CrlRefresher | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if isinstance(policy, UziPolicy):
            fixed = policy
            self._source: PolicySource = lambda: fixed
        else:
            self._source = policy
        self.store = store
        self.validator = validator if validator is not None else ChainValidator()
        self.refresher = (
            refresher if refresher is not None else CrlRefresher(self.validator.crls, clock=clock)
        )
        self.clock = clock
        self._trusts: dict[str, TrustSet] = {}
        self._last: UziRules | None = None
        self._rules_lock = threading.Lock()
        self._parsed: OrderedDict[bytes, UziCard] = OrderedDict()
        self._certs: OrderedDict[bytes, x509.Certificate] = OrderedDict()
        self._parsed_lock = threading.Lock()
        if isinstance(policy, UziPolicy):
            self.rules()  # a fixed policy's unusable trust set fails at construction

    def rules(self) -> UziRules:
        """A snapshot of the rules in force now: take one per request and keep it.

        Cheap when nothing changed (the source's own cache, then an equality
        check); a trust set is loaded only the first time its name is seen.
        """
        policy = self._source()
        last = self._last
        if last is not None and (last.policy is policy or last.policy == policy):
            return last
        with self._rules_lock:
            trust = self._trusts.get(policy.trust_set)
            if trust is None:
                trust = load_trust_set(policy.trust_set)
                self._trusts[policy.trust_set] = trust
            if policy.revocation is RevocationMode.HARD:
                # Hard mode refuses without a current CRL, so the trust set's own are kept
                # fresh from the start. Soft and off modes fetch only what verified cards
                # name: a server on the packaged development policy (the real register's
                # acceptance set) reaches out to nobody until a card of it verifies.
                self.validator.crls.want(trust.crl_urls)
            rules = UziRules(policy=policy, trust=trust)
            self._last = rules
            return rules

    def start(self) -> None:
        """Start the CRL refresher with the server; in hard mode wait for its first CRLs.

        The wait is bounded by one fetch deadline: a register that is down
        delays the start by that much, then verifications answer "retry
        later" (ZID-1150) or "unavailable" (ZID-1111) until it is back.
        """
        self.refresher.start()
        try:
            rules = self.rules()
        except ZorgIdError as exc:  # the first request reports it to the caller
            _LOG.warning("UZI rules not loaded at start: %s", exc)
            return
        if rules.policy.revocation is RevocationMode.HARD:
            self.refresher.refresh_now(timeout=self.refresher.limits.deadline_seconds)

    def stop(self) -> None:
        """Stop the CRL refresher (with the server)."""
        self.refresher.stop()

    @property
    def policy(self) -> UziPolicy:
        """The rules in force now (for display and tests; requests use :meth:`rules`)."""
        return self.rules().policy

    @property
    def trust(self) -> TrustSet:
        """The trust set in force now (for display and tests; requests use :meth:`rules`)."""
        return self.rules().trust

    def read_card(self, data: bytes) -> UziCard:
        """:func:`parse_card` of the input, memoised: it is a pure function of the bytes."""
        key = hashlib.sha256(data).digest()
        with self._parsed_lock:
            card = self._parsed.get(key)
        if card is not None:
            return card
        card = parse_card(load_certificate(data))
        with self._parsed_lock:
            self._parsed[key] = card
            if len(self._parsed) > PARSED_CARDS_KEPT:
                self._parsed.popitem(last=False)
        return card

    def read_certificate(self, data: bytes) -> x509.Certificate:
        """:func:`load_certificate`, memoised like :meth:`read_card` (intermediates repeat)."""
        key = hashlib.sha256(data).digest()
        with self._parsed_lock:
            cert = self._certs.get(key)
        if cert is not None:
            return cert
        cert = load_certificate(data)
        with self._parsed_lock:
            self._certs[key] = cert
            if len(self._certs) > PARSED_CARDS_KEPT:
                self._certs.popitem(last=False)
        return cert

    def create_challenge(self, *, portal: str) -> Challenge:
        """A fresh single-use challenge for ``portal`` (the verified mTLS caller)."""
        challenge = Challenge(
            challenge_id=secrets.token_urlsafe(18),
            nonce=secrets.token_bytes(NONCE_BYTES),
            expires_at=self.clock() + self.rules().policy.challenge_lifetime,
        )
        self.store.create_challenge(
            ChallengeRecord(
                challenge_id=challenge.challenge_id,
                nonce=challenge.nonce,
                expires_at=challenge.expires_at,
                portal=portal,
            )
        )
        return challenge

    def _consume(self, challenge_id: str, portal: str, at: datetime) -> ChallengeRecord:
        # The binding is checked by the consume itself: another portal's attempt
        # leaves the challenge open for the portal it was made for (issue 16 item 11).
        record = self.store.consume_challenge(challenge_id, at, portal=portal)
        if record is None:
            state = self.store.challenge_state(challenge_id)
            if state is ChallengeState.USED:
                raise UziError(errors.CHALLENGE_USED, "each challenge can be answered once")
            raise UziError(errors.CHALLENGE_UNKNOWN, "no challenge with that id for this portal")
        if at >= record.expires_at:
            raise UziError(
                errors.CHALLENGE_EXPIRED,
                f"expired at {record.expires_at:%Y-%m-%dT%H:%M:%SZ}, answered at "
                f"{at:%Y-%m-%dT%H:%M:%SZ}",
            )
        return record

    def check_card(self, card: UziCard, rules: UziRules | None = None) -> None:
        """Kind, card type and role against the policy (step 3) of ``rules`` (default: now)."""
        policy = (rules or self.rules()).policy
        check_kind(card, CertKind.AUTHENTICATION)
        check_card_key(card.certificate)
        card_type = card.identity.card_type
        if card_type not in policy.accepted_card_types:
            raise UziError(
                errors.CARD_TYPE_REFUSED,
                f"got card type {card_type}; accepted: "
                f"{', '.join(sorted(policy.accepted_card_types))}",
            )
        roles = policy.accepted_roles
        role = card.identity.role
        if roles is not None and role not in roles and role[:3] not in roles:
            raise UziError(errors.ROLE_REFUSED, f"got role {role}; accepted: {sorted(roles)}")

    @staticmethod
    def _validate_args(
        rules: UziRules, intermediates: Sequence[x509.Certificate], kind: CertKind
    ) -> dict[str, Any]:
        return {
            "anchors": rules.trust.anchors,
            "intermediates": [*intermediates, *rules.trust.intermediates],
            "revocation": rules.policy.revocation,
            "key_usage": KEY_USAGE_FOR_KIND[kind],
        }

    def validate(
        self,
        card: UziCard,
        intermediates: Sequence[x509.Certificate],
        *,
        at: datetime,
        kind: CertKind = CertKind.AUTHENTICATION,
        rules: UziRules | None = None,
    ) -> ValidatedChain:
        """Steps 6 and 7: path, validity, key usage, revocation, issuer agreement."""
        rules = rules or self.rules()
        chain = self.validator.validate(
            card.certificate, at=at, **self._validate_args(rules, intermediates, kind)
        )
        check_issuer(card, chain, rules.trust)
        check_policy(card, rules.trust)
        return chain

    async def avalidate(
        self,
        card: UziCard,
        intermediates: Sequence[x509.Certificate],
        *,
        at: datetime,
        kind: CertKind = CertKind.AUTHENTICATION,
        rules: UziRules | None = None,
    ) -> ValidatedChain:
        """:meth:`validate` for callers inside an event loop (e.g. a grpc.aio servicer)."""
        rules = rules or self.rules()
        chain = await self.validator.avalidate(
            card.certificate, at=at, **self._validate_args(rules, intermediates, kind)
        )
        check_issuer(card, chain, rules.trust)
        check_policy(card, rules.trust)
        return chain

    def _before_chain(
        self,
        rules: UziRules,
        challenge_id: str,
        chain: Sequence[bytes],
        signature: bytes,
        portal: str,
        scheme: SignatureScheme,
    ) -> tuple[UziCard, list[x509.Certificate], datetime]:
        """Steps 1-5 (no I/O but the store)."""
        at = self.clock()
        _check_size(chain, rules.policy)
        card = self.read_card(chain[0])
        intermediates = [self.read_certificate(c) for c in chain[1:]]
        self.check_card(card, rules)
        record = self._consume(challenge_id, portal, at)
        verify_challenge_signature(
            card.certificate,
            challenge_message(record.challenge_id, record.nonce),
            signature,
            scheme,
        )
        return card, intermediates, at

    def _open_session(
        self,
        rules: UziRules,
        card: UziCard,
        validated: ValidatedChain,
        at: datetime,
        portal: str,
        purpose: str,
    ) -> UziProof:
        handle = secrets.token_urlsafe(32)
        expires = at + rules.policy.session_lifetime
        self.store.create_session(
            UziSessionRecord(
                handle_sha256=hashlib.sha256(handle.encode()).digest(),
                expires_at=expires,
                purpose=purpose,
                portal=portal,
                identity=card.identity,
            )
        )
        return UziProof(
            identity=card.identity,
            card=card,
            chain=validated.subjects,
            session_handle=handle,
            session_expires_at=expires,
        )

    def verify_card(
        self,
        challenge_id: str,
        chain: Sequence[bytes],
        signature: bytes,
        *,
        portal: str,
        purpose: str,
        scheme: SignatureScheme = SignatureScheme.RSA_PKCS1V15_SHA256,
    ) -> UziProof:
        """Verify a UZI-pas proof and open a UZI session; raise :class:`UziError` if refused.

        ``chain`` is the card's certificate first, then any intermediates the
        desktop app sent (DER or PEM each). ``portal`` is the verified mTLS
        caller that made the challenge; ``purpose`` names the flow the session
        is for (``registration``, ``validation``, ...).
        """
        rules = self.rules()  # one snapshot for the whole request (issue 7)
        card, intermediates, at = self._before_chain(
            rules, challenge_id, chain, signature, portal, scheme
        )
        validated = self.validate(card, intermediates, at=at, rules=rules)
        return self._open_session(rules, card, validated, at, portal, purpose)

    async def averify_card(
        self,
        challenge_id: str,
        chain: Sequence[bytes],
        signature: bytes,
        *,
        portal: str,
        purpose: str,
        scheme: SignatureScheme = SignatureScheme.RSA_PKCS1V15_SHA256,
    ) -> UziProof:
        """:meth:`verify_card` for callers inside an event loop (same checks, same order).

        The store is called synchronously (it is the engine's blocking DB layer).
        """
        rules = self.rules()  # one snapshot for the whole request (issue 7)
        card, intermediates, at = self._before_chain(
            rules, challenge_id, chain, signature, portal, scheme
        )
        validated = await self.avalidate(card, intermediates, at=at, rules=rules)
        return self._open_session(rules, card, validated, at, portal, purpose)

    def session(self, handle: str, *, portal: str, purpose: str) -> UziIdentity:
        """The identity behind a UZI session handle, for the flow it was opened for."""
        record = self.store.find_session(hashlib.sha256(handle.encode()).digest(), self.clock())
        if record is None or record.portal != portal or record.purpose != purpose:
            raise UziError(errors.SESSION_UNKNOWN, "no live UZI session for this portal and flow")
        return record.identity
