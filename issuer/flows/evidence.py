"""Keeping the proof behind each UZI session (issue 5: "evidence ... kept").

The UZI verifier (issue 3) stores a session with the verified identity only.
A registration must keep the proof itself -- the card certificate and chain,
the challenge (id and nonce), the card's signature and the time -- and link it
to the certificates issued from it, so that an auditor can show later *why*
a mobile ID was issued (and re-verify the signature offline). This subclass
writes that evidence, keyed by the session handle's SHA-256, right after the
verifier accepted the proof; the registration copies it onto its
``registrations`` row when confirmed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from issuer.store import Engine
from issuer.store import evidence as evidence_store
from issuer.store.evidence import UziEvidence
from issuer.uzi.checks import SignatureScheme
from issuer.uzi.store import UziChallengeStore
from issuer.uzi.validate import ChainValidator
from issuer.uzi.verify import Clock, PolicySource, UziPolicy, UziProof, UziVerifier, utc_now


def card_not_after(proof: UziEvidence) -> datetime:
    """The notAfter of the UZI-pas certificate a proof was made with.

    Recorded with the proof on the registration (issue 18): a mobile ID
    issued on it never outlives this date.
    """
    return x509.load_der_x509_certificate(bytes(proof.card_certificate)).not_valid_after_utc


class EvidenceKeepingVerifier(UziVerifier):
    """A :class:`UziVerifier` that also records each accepted proof in ``uzi_evidence``."""

    def __init__(
        self,
        *,
        engine: Engine,
        policy: UziPolicy | PolicySource,
        store: UziChallengeStore,
        validator: ChainValidator | None = None,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(policy=policy, store=store, validator=validator, clock=clock)
        self.engine = engine

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
        proof = super().verify_card(
            challenge_id, chain, signature, portal=portal, purpose=purpose, scheme=scheme
        )
        self._keep(proof, challenge_id, chain, signature, portal, scheme, self.clock())
        return proof

    def _keep(
        self,
        proof: UziProof,
        challenge_id: str,
        chain: Sequence[bytes],
        signature: bytes,
        portal: str,
        scheme: SignatureScheme,
        at: datetime,
    ) -> None:
        with self.engine.begin() as conn:
            evidence_store.keep_evidence(
                conn,
                UziEvidence(
                    handle_sha256=hashlib.sha256(proof.session_handle.encode()).hexdigest(),
                    challenge_id=challenge_id,
                    nonce=evidence_store.challenge_nonce(conn, challenge_id),
                    card_certificate=proof.card.der,
                    card_chain=[base64.b64encode(bytes(c)).decode("ascii") for c in chain],
                    signature=signature,
                    signature_scheme=str(scheme),
                    portal_identity=portal,
                    proven_at=at,
                ),
            )
