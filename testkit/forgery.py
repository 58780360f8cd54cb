"""The attacker's card of issue 16 item 2, for tests of a path builder that must not be fooled."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["forge_card"]


def forge_card(
    genuine: x509.Certificate,
    *,
    trusted_ca: x509.Certificate,
    key: rsa.RSAPrivateKey,
    crl_url: str,
    serial_number: int | None = None,
) -> x509.Certificate:
    """The attacker's card of issue 16 item 2: ``genuine``'s fields, signed by ``key``.

    It copies only public facts of a trusted CA -- its name (as issuer) and
    its key identifier (as AKI) -- so a path builder puts it under that CA;
    the subject key and the signature are the attacker's, and its CRL
    distribution point names ``crl_url``.
    """
    builder = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject)
        .issuer_name(trusted_ca.subject)
        .public_key(key.public_key())
        .serial_number(serial_number or genuine.serial_number)
        .not_valid_before(genuine.not_valid_before_utc)
        .not_valid_after(genuine.not_valid_after_utc)
    )
    ski = trusted_ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    for ext in genuine.extensions:
        value: x509.ExtensionType = ext.value
        if isinstance(value, x509.CRLDistributionPoints):
            value = x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(crl_url)], None, None, None
                    )
                ]
            )
        elif isinstance(value, x509.AuthorityKeyIdentifier):
            value = x509.AuthorityKeyIdentifier(ski.digest, None, None)
        elif isinstance(value, x509.SubjectKeyIdentifier):
            value = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        builder = builder.add_extension(value, ext.critical)
    return builder.sign(key, hashes.SHA256())
