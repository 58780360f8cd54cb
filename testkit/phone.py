"""A simulated phone: its key pair lives in its own SoftHSM token, like a phone's key store.

The engine never sees the phone's private key; the phone proves possession
with a PKCS#10 CSR (RFC 2986) signed through :mod:`hsm`, just as the real app
signs with the Android Keystore / iOS Secure Enclave. A phone may put
anything in its CSR (subject, SANs, extensions): the tests use that to show
none of it reaches the certificate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from hsm import Hsm, HsmPrivateKey, KeySpec


@dataclass(frozen=True, kw_only=True)
class Phone:
    """One phone: a key on its token, by label."""

    hsm: Hsm = field(repr=False)
    key_label: str
    key: HsmPrivateKey = field(repr=False)

    @classmethod
    def create(cls, hsm: Hsm, key_label: str, spec: KeySpec | str = KeySpec.EC_P256) -> Phone:
        """Generate the phone's key pair on its token (unextractable, like a key store)."""
        key = hsm.generate_key(key_label, spec)
        return cls(hsm=hsm, key_label=key_label, key=key)

    @property
    def spki_der(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def spki_sha256(self) -> str:
        return hashlib.sha256(self.spki_der).hexdigest()

    def csr(
        self,
        *,
        subject: str = "mobile-id",
        dns_names: Sequence[str] = (),
        extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    ) -> bytes:
        """A DER CSR signed by the phone's key; subject/SANs/extensions as the phone likes."""
        builder = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        )
        if dns_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(d) for d in dns_names]), critical=False
            )
        for ext, critical in extensions:
            builder = builder.add_extension(ext, critical=critical)
        csr = builder.sign(self.key, hashes.SHA256())
        return csr.public_bytes(serialization.Encoding.DER)
