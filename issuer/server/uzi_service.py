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
fixes it; the UZI rules come from the policy version in force *at each request*
(issue 7, :func:`issuer.uzi.policy.policy_source`: the one active-policy reader,
:class:`issuer.policy_store.ActivePolicy`, mapped by
:func:`issuer.uzi.policy.uzi_policy_from`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from issuer.api.zorgid.v1 import uzi_pb2, uzi_pb2_grpc
from issuer.errors import Code, ZorgIdError
from issuer.server.roles import current_caller
from issuer.uzi.card import CertKind, UziIdentity
from issuer.uzi.checks import SignatureScheme
from issuer.uzi.verify import UziProof, UziVerifier
from issuer.uzi_vocabulary import CardType

__all__ = [
    "PURPOSE_ATTRIBUTE_REGISTRATION",
    "PURPOSE_ORGANISATION_VALIDATION",
    "PURPOSE_REGISTRATION",
    "UziServicer",
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
