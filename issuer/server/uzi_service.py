"""``zorgid.v1.UziService``: proof of a UZI-pas over gRPC (issue 3, flow 1).

Thin (STYLE.md, "For the gRPC layer"): protobuf in, one call of
:class:`issuer.uzi.verify.UziVerifier`, protobuf out. The portal the challenge
and the session are bound to is ``current_caller().identity`` -- the SHA-256 of
the verified mTLS client certificate -- never anything the caller writes.
Refusals are :class:`issuer.uzi.errors.UziError` (a ``ZorgIdError``); the one
interceptor turns them into ``google.rpc.Status`` with ``ErrorInfo`` and
``LocalizedMessage`` (en, nl-NL). This module only adds ``ZID-0005`` for
request fields no domain call could make sense of (an unset enum, an id longer
than any id the engine hands out).

Wiring (``issuer.wiring.build_uzi_verifier``): the store is the configured database
(``[database] url``), checked with :func:`issuer.store.check_schema` first, so
a server never starts against a schema it does not know and says which command
fixes it; the UZI rules come from the policy version active *at each request*
(issue 7, :class:`ActiveUziPolicy`: the signed ``policy_versions`` row,
verified with ``<data_dir>/ca/audit-checkpoint.pub.pem``), mapped by
:func:`uzi_policy_from`. Before any version exists (the issuance runtime
bootstraps version 1 on first use) they come from ``[policy] file``, else the
packaged default policy -- the document that bootstrap records.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import grpc
import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp

import policies
from issuer.api.zorgid.v1 import uzi_pb2, uzi_pb2_grpc
from issuer.audit import AuditKeyError, CheckpointVerifier, load_public_key
from issuer.config import Config
from issuer.errors import Code, ZorgIdError
from issuer.errors.policy import AUDIT_KEY_UNREADABLE
from issuer.policy_store import verify_row
from issuer.server.roles import current_caller
from issuer.store.schema import policy_versions
from issuer.store.types import UtcDateTime
from issuer.uzi.card import CertKind, UziIdentity
from issuer.uzi.validate import RevocationMode
from issuer.uzi.verify import (
    Clock,
    SignatureScheme,
    UziPolicy,
    UziProof,
    UziVerifier,
    utc_now,
)
from issuer.uzi_vocabulary import CardType

__all__ = [
    "AUDIT_PUBLIC_KEY_PEM",
    "PURPOSE_ATTRIBUTE_REGISTRATION",
    "PURPOSE_ORGANISATION_VALIDATION",
    "PURPOSE_REGISTRATION",
    "ActiveUziPolicy",
    "UziServicer",
    "active_policy",
    "policy_source",
    "uzi_policy_from",
]

PURPOSE_REGISTRATION: Final = "registration"
PURPOSE_ORGANISATION_VALIDATION: Final = "organisation_validation"
PURPOSE_ATTRIBUTE_REGISTRATION: Final = "attribute_registration"
"""The purposes a UZI session is opened for; other flows pass them to ``UziVerifier.session``."""

_PURPOSES: Final = {
    uzi_pb2.UZI_PURPOSE_REGISTRATION: PURPOSE_REGISTRATION,
    uzi_pb2.UZI_PURPOSE_ORGANISATION_VALIDATION: PURPOSE_ORGANISATION_VALIDATION,
    uzi_pb2.UZI_PURPOSE_ATTRIBUTE_REGISTRATION: PURPOSE_ATTRIBUTE_REGISTRATION,
}
_SCHEMES: Final = {
    uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256: SignatureScheme.RSA_PKCS1V15_SHA256,
    uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PSS_SHA256: SignatureScheme.RSA_PSS_SHA256,
    uzi_pb2.UZI_SIGNATURE_SCHEME_ECDSA_SHA256: SignatureScheme.ECDSA_SHA256,
}
_CARD_TYPES: Final = {
    CardType.ZORGVERLENER: uzi_pb2.UZI_CARD_TYPE_ZORGVERLENER,
    CardType.MEDEWERKER_OP_NAAM: uzi_pb2.UZI_CARD_TYPE_MEDEWERKER_OP_NAAM,
    CardType.MEDEWERKER_NIET_OP_NAAM: uzi_pb2.UZI_CARD_TYPE_MEDEWERKER_NIET_OP_NAAM,
    CardType.SERVER: uzi_pb2.UZI_CARD_TYPE_SERVER,
}
_KINDS: Final = {
    CertKind.AUTHENTICATION: uzi_pb2.UZI_CERTIFICATE_KIND_AUTHENTICATION,
    CertKind.SIGNATURE: uzi_pb2.UZI_CERTIFICATE_KIND_SIGNATURE,
    CertKind.ENCRYPTION: uzi_pb2.UZI_CERTIFICATE_KIND_ENCRYPTION,
}
AUDIT_PUBLIC_KEY_PEM: Final = "audit-checkpoint.pub.pem"
"""In ``<data_dir>/ca/`` (``issuer.ca.material``): verifies the signed policy rows."""
MAX_CHALLENGE_ID_CHARS: Final = 64
"""The ``uzi_challenges.id`` column's width; the engine's own ids are 24 characters."""


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _identity(identity: UziIdentity) -> uzi_pb2.UziIdentity:
    reply = uzi_pb2.UziIdentity(
        uzi_number=identity.uzi_number,
        card_type=_CARD_TYPES[identity.card_type],
        subscriber_number=identity.subscriber_number,
        role=identity.role,
        agb_code=identity.agb_code,
        common_name=identity.common_name,
        organization=identity.organization,
    )
    if identity.given_name is not None:
        reply.given_name = identity.given_name
    if identity.surname is not None:
        reply.surname = identity.surname
    if identity.title is not None:
        reply.title = identity.title
    return reply


def to_proto(proof: UziProof) -> uzi_pb2.VerifyUziCardResponse:
    """The protobuf form of a verified proof (the handle is the one secret in it)."""
    return uzi_pb2.VerifyUziCardResponse(
        identity=_identity(proof.identity),
        certificate_kind=_KINDS[proof.card.kind],
        certificate_serial=format(proof.card.serial, "x"),
        certificate_issuer=proof.card.issuer,
        session_handle=proof.session_handle,
        session_expires_at=_timestamp(proof.session_expires_at),
        chain=list(proof.chain),
    )


class UziServicer(uzi_pb2_grpc.UziServiceServicer):
    """Protobuf in, :class:`UziVerifier` call, protobuf out."""

    def __init__(self, verifier: UziVerifier) -> None:
        self._verifier = verifier

    def CreateUziChallenge(
        self, request: uzi_pb2.CreateUziChallengeRequest, context: grpc.ServicerContext
    ) -> uzi_pb2.CreateUziChallengeResponse:
        challenge = self._verifier.create_challenge(portal=current_caller().identity)
        return uzi_pb2.CreateUziChallengeResponse(
            challenge_id=challenge.challenge_id,
            nonce=challenge.nonce,
            to_be_signed=challenge.to_be_signed,
            expires_at=_timestamp(challenge.expires_at),
        )

    def VerifyUziCard(
        self, request: uzi_pb2.VerifyUziCardRequest, context: grpc.ServicerContext
    ) -> uzi_pb2.VerifyUziCardResponse:
        purpose = _PURPOSES.get(request.purpose)
        if purpose is None:
            raise ZorgIdError(
                Code.ZID_0005,
                f"purpose: got value {request.purpose}; expected UZI_PURPOSE_REGISTRATION, "
                "UZI_PURPOSE_ORGANISATION_VALIDATION or UZI_PURPOSE_ATTRIBUTE_REGISTRATION",
            )
        scheme = _SCHEMES.get(request.signature_scheme)
        if scheme is None:
            raise ZorgIdError(
                Code.ZID_0005,
                f"signature_scheme: got value {request.signature_scheme}; expected "
                "UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256, _RSA_PSS_SHA256 or _ECDSA_SHA256",
            )
        if not 0 < len(request.challenge_id) <= MAX_CHALLENGE_ID_CHARS:
            raise ZorgIdError(
                Code.ZID_0005,
                f"challenge_id: got {len(request.challenge_id)} characters; expected the id "
                f"CreateUziChallenge returned (1..{MAX_CHALLENGE_ID_CHARS} characters)",
            )
        proof = self._verifier.verify_card(
            request.challenge_id,
            list(request.certificate_chain),
            request.signature,
            portal=current_caller().identity,
            purpose=purpose,
            scheme=scheme,
        )
        return to_proto(proof)


# -- wiring -----------------------------------------------------------------------------------


def active_policy(config: Config) -> policies.Policy:
    """``[policy] file`` of the configuration, else the packaged development policy.

    The same document the issuance runtime records in ``policy_versions`` and
    issues under (``issuer.issuance.runtime.load_active_policy``), read here
    without importing that module: the gRPC front end loads no PKCS#11.
    """
    if config.policy.file is not None:
        return policies.load_policy(config.policy.file)
    return policies.default_policy()


def uzi_policy_from(policy: policies.Policy) -> UziPolicy:
    """The verifier's :class:`UziPolicy` from the ``[uzi]`` and ``[qr]`` of a policy document.

    Role patterns: ``*`` accepts every role (None), ``NN.*`` a profession
    (``NN.``), ``NN.NNN`` one role -- the forms ``UziVerifier.check_card`` reads.
    """
    roles: frozenset[str] | None = frozenset(
        pattern[:-1] if pattern.endswith(".*") else pattern for pattern in policy.uzi.roles
    )
    if roles is not None and "*" in roles:
        roles = None
    return UziPolicy(
        trust_set=policy.uzi.trust_set,
        revocation=RevocationMode(policy.uzi.revocation_mode),
        accepted_card_types=frozenset(CardType(t) for t in policy.uzi.card_types),
        accepted_roles=roles,
        challenge_lifetime=timedelta(seconds=policy.qr.uzi_challenge_seconds),
        session_lifetime=timedelta(seconds=policy.qr.uzi_session_seconds),
    )


_IN_FORCE = sa.select(
    policy_versions.c.version,
    policy_versions.c.state,
    policy_versions.c.signature,
    policy_versions.c.activate_at,
).where(
    sa.or_(
        policy_versions.c.state == "active",
        sa.and_(
            policy_versions.c.state == "approved",
            policy_versions.c.activate_at <= sa.bindparam("now", type_=UtcDateTime),
        ),
    )
)
"""The active row and any approved row now due, in *one* statement (one snapshot)."""


class ActiveUziPolicy:
    """A :data:`~issuer.uzi.verify.PolicySource`: the UZI rules of the version in force now.

    Issue 7: "issuance always uses the active version at the moment of the
    request". One small query per call reads the (version, signature) of the
    version in force; only when that changes is the row read again and its
    audit-key signature verified with the public key alone
    (:func:`issuer.policy_store.verify_row`, ZID-1508 on an edited row), so a
    new version is followed at the next request and a steady state costs one
    indexed read. A scheduled version whose time has come is in force even
    before the engine (which holds the HSM audit key) marks it active: the
    last due one by (``activate_at``, version), the one
    :meth:`issuer.policy_store.PolicyStore.active` would activate last.

    ``fallback`` gives the rules while no version exists yet (the issuance
    runtime bootstraps version 1 from the same configured document).
    ``clock`` is wall time (``activate_at`` is), not a verifier's test clock.
    """

    def __init__(
        self,
        engine: sa.Engine,
        *,
        public_key: Path,
        fallback: Callable[[], policies.Policy],
        clock: Clock = utc_now,
    ) -> None:
        self._engine = engine
        self._public_key_path = public_key
        self._fallback_source = fallback
        self._clock = clock
        self._fallback: UziPolicy | None = None
        self._key: CheckpointVerifier | None = None
        self._cached: tuple[tuple[int, bytes], UziPolicy] | None = None
        self._lock = threading.Lock()

    def _public_key(self) -> CheckpointVerifier:
        if self._key is None:
            try:
                self._key = load_public_key(self._public_key_path.read_bytes())
            except (OSError, AuditKeyError) as exc:
                raise ZorgIdError(
                    AUDIT_KEY_UNREADABLE,
                    f"cannot verify the active policy version: the audit public key "
                    f"{self._public_key_path} is unreadable ({type(exc).__name__}); expected "
                    "the PEM written by the key ceremony -- restore it from the ceremony backup",
                ) from None
        return self._key

    def _bootstrap(self) -> UziPolicy:
        if self._fallback is None:
            self._fallback = uzi_policy_from(self._fallback_source())
        return self._fallback

    def __call__(self) -> UziPolicy:
        with self._engine.connect() as conn:
            rows = conn.execute(_IN_FORCE, {"now": self._clock()}).all()
        if not rows:
            return self._bootstrap()
        due = sorted(
            (r for r in rows if r.state == "approved"), key=lambda r: (r.activate_at, r.version)
        )
        chosen = due[-1] if due else rows[0]
        key = (int(chosen.version), bytes(chosen.signature or b""))
        cached = self._cached
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._lock:
            with self._engine.connect() as conn:
                row = conn.execute(
                    sa.select(policy_versions).where(policy_versions.c.version == key[0])
                ).one()
            stored = verify_row(row, self._public_key())
            mapped = uzi_policy_from(stored.policy)
            if bytes(row.signature or b"") == key[1]:
                self._cached = (key, mapped)
            return mapped


def policy_source(config: Config, engine: sa.Engine, *, clock: Clock = utc_now) -> ActiveUziPolicy:
    """The server's rules: the version in force on ``engine``, else the configured document."""
    return ActiveUziPolicy(
        engine,
        public_key=config.ca_dir / AUDIT_PUBLIC_KEY_PEM,
        fallback=lambda: active_policy(config),
        clock=clock,
    )
