"""Full CRLs per issuing CA (RFC 5280 §5), signed in the HSM by the issuing CA key.

A CRL is regenerated when a certificate is revoked and on schedule before its
``nextUpdate`` (``refresh_fraction`` of ``crl_next_update_seconds``). Numbers
come from the shared store and must strictly increase (RFC 5280 §5.2.3); two
nodes racing for one number: the loser signs again with the next.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ocsp.codec import whole_seconds
from ocsp.issuers import IssuerIndex, IssuingCa
from ocsp.model import REASON_CODES, CrlStore, OcspError, OcspTiming, StatusSource, StoredCrl
from ocsp.presign import Clock, utc_now

_REASON_FLAGS: dict[str, x509.ReasonFlags] = {
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "removeFromCRL": x509.ReasonFlags.remove_from_crl,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
    "aACompromise": x509.ReasonFlags.aa_compromise,
}
assert set(_REASON_FLAGS) | {"unspecified"} == set(REASON_CODES)

KeyFor = Callable[[IssuingCa], object]
"""Returns the issuing CA's private key (an HSM key) for a CA; called per signature."""


class CrlConflict(OcspError):
    """Another node kept taking the CRL number; gave up after a few tries."""


class CrlPublisher:
    """Build, sign and store CRLs; say when one is due."""

    def __init__(
        self,
        *,
        issuers: IssuerIndex,
        status: StatusSource,
        store: CrlStore,
        key_for: KeyFor,
        timing: OcspTiming,
        signature_hash: hashes.SHA256 | hashes.SHA384 | hashes.SHA512,
        clock: Clock = utc_now,
    ) -> None:
        """*signature_hash*: the hash the policy names for everything the issuing CA key
        signs (``profile.signature_hash``): one key, one signature algorithm, so a relying
        party that accepts the certificates accepts their CRL."""
        self._issuers = issuers
        self._status = status
        self._store = store
        self._key_for = key_for
        self._timing = timing
        self._hash = signature_hash
        self._clock = clock

    def build(self, ca: IssuingCa, number: int, now: datetime) -> StoredCrl:
        """Sign a full CRL of *ca* numbered *number* (RFC 5280 §5.1, §5.2.1, §5.2.3, §5.3.1)."""
        this_update = whole_seconds(now)
        next_update = this_update + self._timing.crl_validity
        ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.certificate.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .add_extension(x509.CRLNumber(number), critical=False)
        )
        for entry in self._status.revoked(ca.issuer_id, now=now):
            revoked = x509.RevokedCertificateBuilder().serial_number(entry.serial)
            revoked = revoked.revocation_date(whole_seconds(entry.revoked_at))
            # RFC 5280 §5.3.1: reasonCode unspecified SHOULD be absent.
            if entry.reason is not None and entry.reason != "unspecified":
                revoked = revoked.add_extension(
                    x509.CRLReason(_REASON_FLAGS[entry.reason]), critical=False
                )
            builder = builder.add_revoked_certificate(revoked.build())
        key = self._key_for(ca)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise TypeError(
                f"got a {type(key).__name__} for issuer {ca.issuer_id}; expected an EC or RSA "
                "private key (the issuing CA key in the HSM)"
            )
        crl = builder.sign(key, self._hash)
        return StoredCrl(
            number=number,
            der=crl.public_bytes(Encoding.DER),
            this_update=this_update,
            next_update=next_update,
        )

    def publish(self, issuer_id: str) -> StoredCrl:
        """Sign and store the next CRL of *issuer_id* (on revocation, on schedule)."""
        ca = self._issuers.by_id(issuer_id)
        for _ in range(5):
            number = self._store.next_number(issuer_id)
            crl = self.build(ca, number, self._clock())
            if self._store.put(issuer_id, crl):
                return crl
        raise CrlConflict(
            f"CRL number for issuer {issuer_id} was taken 5 times in a row by other nodes; "
            "expected one writer to win quickly -- check for a runaway publisher"
        )

    def is_due(self, issuer_id: str) -> bool:
        latest = self._store.latest(issuer_id)
        if latest is None:
            return True
        return self._clock() >= latest.this_update + self._timing.crl_refresh_after

    def publish_due(self) -> list[StoredCrl]:
        """Publish every CRL that is missing or past its refresh point."""
        return [
            self.publish(ca.issuer_id) for ca in self._issuers.all() if self.is_due(ca.issuer_id)
        ]
