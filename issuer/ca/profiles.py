"""Certificate profiles of the CA hierarchy: root, issuing CA, OCSP responder.

Each profile is a function from plain values to an unsigned
:class:`cryptography.x509.CertificateBuilder`; signing happens elsewhere
(:func:`sign_linted`) so that the exact to-be-signed bytes can be linted
before the HSM signs them (the Boulder "lint the precertificate" habit).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from issuer.ca.config import SubjectName
from issuer.ca.errors import CeremonyError
from issuer.x509util import key_usage

#: The private-key types the ceremony signs with (HSM keys subclass these).
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey

#: Serial numbers carry at least 64 bits from a CSPRNG (CA/B BR §7.1, a good habit outside
#: the Web PKI too); 127 random bits keep the DER INTEGER positive and at most 16 octets,
#: well inside RFC 5280 §4.1.2.2's limit of 20.
SERIAL_BITS = 127
MIN_SERIAL_BITS = 64


def random_serial() -> int:
    """Draw a positive serial of at most 16 octets with at least 64 bits of entropy."""
    while True:
        serial = secrets.randbits(SERIAL_BITS)
        if serial.bit_length() > MIN_SERIAL_BITS:
            return serial


def x509_name(subject: SubjectName) -> x509.Name:
    """``C, O, CN`` with C as PrintableString and the others UTF8String (RFC 5280 §4.1.2.6).

    RFC 5280 Appendix A.1 fixes countryName to PrintableString; for the other
    attributes §4.1.2.4 says new certificates MUST use UTF8String.
    """
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, subject.country, _ASN1Type.PrintableString),
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, subject.organization, _ASN1Type.UTF8String
            ),
            x509.NameAttribute(NameOID.COMMON_NAME, subject.common_name, _ASN1Type.UTF8String),
        ]
    )


def signature_hash(issuer_public_key: PublicKey) -> hashes.SHA256 | hashes.SHA384:
    """The hash that goes with the *issuer's* key.

    ecdsa-with-SHA384 for P-384 and ecdsa-with-SHA256 for P-256 (the hash
    matched to the curve's strength, RFC 5480 §4 and CA/B BR §7.1.3.2.2),
    sha256WithRSAEncryption for every RSA size (RFC 4055, widest support).
    """
    if isinstance(issuer_public_key, ec.EllipticCurvePublicKey):
        if isinstance(issuer_public_key.curve, ec.SECP384R1):
            return hashes.SHA384()
        if isinstance(issuer_public_key.curve, ec.SECP256R1):
            return hashes.SHA256()
        raise CeremonyError(
            f"issuer key is on curve {issuer_public_key.curve.name}, expected P-256 or P-384"
        )
    return hashes.SHA256()


def same_public_key(a: x509.Certificate | PublicKey, b: PublicKey) -> bool:
    """Compare two public keys by their SubjectPublicKeyInfo DER."""
    left = a.public_key() if isinstance(a, x509.Certificate) else a
    fmt = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return left.public_bytes(*fmt) == b.public_bytes(*fmt)


@dataclass(frozen=True, kw_only=True)
class Validity:
    """``notBefore``/``notAfter`` in UTC, whole seconds (DER time has no fractions)."""

    not_before: datetime
    not_after: datetime

    @classmethod
    def starting(cls, now: datetime, days: int) -> Validity:
        start = now.replace(microsecond=0)
        return cls(not_before=start, not_after=start + timedelta(days=days))

    def clipped_to(self, issuer: x509.Certificate) -> Validity:
        """End no later than the issuer (RFC 5280 §6.1.3: a chain is valid only inside both)."""
        end = min(self.not_after, issuer.not_valid_after_utc)
        return Validity(not_before=self.not_before, not_after=end)


def _base(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    issuer_public_key: PublicKey,
    validity: Validity,
) -> x509.CertificateBuilder:
    """The fields every profile shares: serial, names, validity, SKI, AKI (RFC 5280 §4.2.1.1-2)."""
    return (
        x509.CertificateBuilder()
        .serial_number(random_serial())
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .not_valid_before(validity.not_before)
        .not_valid_after(validity.not_after)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False
        )
    )


def root_profile(
    *, subject: SubjectName, public_key: PublicKey, validity: Validity
) -> x509.CertificateBuilder:
    """Self-signed root (RFC 5280 §4.2.1.9 CA:TRUE critical; §4.2.1.3 keyCertSign+cRLSign critical).

    No pathLenConstraint: the root may later certify a second issuing CA or an
    intermediate. The AKI equals the SKI, which RFC 5280 §4.2.1.1 allows for
    self-signed certificates and which helps path builders.
    """
    name = x509_name(subject)
    return (
        _base(
            subject=name,
            issuer=name,
            public_key=public_key,
            issuer_public_key=public_key,
            validity=validity,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
    )


def _ca_key_usage() -> x509.KeyUsage:
    return key_usage("key_cert_sign", "crl_sign")


def issuing_ca_profile(
    *,
    subject: SubjectName,
    public_key: PublicKey,
    issuer: x509.Certificate,
    validity: Validity,
    policy_oids: tuple[str, ...],
    ca_issuers_url: str,
    ocsp_url: str | None,
    crl_urls: tuple[str, ...],
) -> x509.CertificateBuilder:
    """The issuing CA for mobile IDs; *ocsp_url* None leaves AIA with caIssuers only.

    pathLen 0 (RFC 5280 §4.2.1.9): it issues end-entity certificates only,
    like the UZI-register's own issuing CAs. certificatePolicies lists the
    policies its subscribers' certificates may assert (§4.2.1.4); AIA and CRL
    DP point at the issuer's services (§4.2.2.1, §4.2.1.13).
    """
    issuer_key = issuer.public_key()
    if not isinstance(issuer_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise CeremonyError(f"issuer key type {type(issuer_key).__name__} is not EC or RSA")
    return (
        _base(
            subject=x509_name(subject),
            issuer=issuer.subject,
            public_key=public_key,
            issuer_public_key=issuer_key,
            validity=validity,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(oid), None) for oid in policy_oids]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    *(
                        [
                            x509.AccessDescription(
                                AuthorityInformationAccessOID.OCSP,
                                x509.UniformResourceIdentifier(ocsp_url),
                            )
                        ]
                        if ocsp_url is not None
                        else []
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(ca_issuers_url),
                    ),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(url)],
                        relative_name=None,
                        reasons=None,
                        crl_issuer=None,
                    )
                    for url in crl_urls
                ]
            ),
            critical=False,
        )
    )


def ocsp_responder_profile(
    *,
    subject: SubjectName,
    public_key: PublicKey,
    issuer: x509.Certificate,
    validity: Validity,
) -> x509.CertificateBuilder:
    """Delegated OCSP responder (RFC 6960 §4.2.2.2).

    EKU id-kp-OCSPSigning is what makes the issuing CA's delegation explicit;
    id-pkix-ocsp-nocheck (§4.2.2.2.1) tells clients not to check the
    responder's own status, which is why the validity is short; keyUsage
    digitalSignature critical (RFC 5280 §4.2.1.3). basicConstraints is left
    out: RFC 5280 §4.2.1.9 makes it optional for end entities, and without
    keyCertSign the key cannot certify anyway (§4.2.1.3).
    """
    issuer_key = issuer.public_key()
    if not isinstance(issuer_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise CeremonyError(f"issuer key type {type(issuer_key).__name__} is not EC or RSA")
    validity = validity.clipped_to(issuer)
    return (
        _base(
            subject=x509_name(subject),
            issuer=issuer.subject,
            public_key=public_key,
            issuer_public_key=issuer_key,
            validity=validity,
        )
        .add_extension(
            key_usage("digital_signature"),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
    )
