"""A ZORG-ID smartcard and the desktop app's card side (portal manual §6, issue 19).

The card is a SoftHSM token of its own (own label, own user PIN, no objects:
a blank card). The desktop app generates one RSA-2048 key pair per certificate
slot ON the card through the project's ``hsm`` package -- the private key is a
sensitive, never-extractable, private token object -- builds a CSR per key
signed on the card, and writes the certificates the engine issues back onto
the card as X.509 certificate objects carrying their key's ``CKA_ID``. Card
software (PKCS#11 middleware, openssl's ``pkcs11`` engine) then finds key and
certificate together, as on a UZI-pas.

Object layout (``docs/uzi-profile.md`` names the three certificates of a card
but not their PKCS#11 ids or labels, so this is ours): key pair and
certificate of a slot share ``CKA_ID`` (one byte, 01/02/03) and ``CKA_LABEL``
(the slot's name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from asn1crypto import core as asn1_core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from hsm import Hsm, HsmRsaPrivateKey, KeySpec
from hsm.certificates import CertificateObject, read_certificates, store_certificate
from issuer.dev.softhsm import SoftHsmDir, SoftHsmToken
from issuer.files import PUBLIC_FILE, write_file
from testkit.uzi_world import Kind


@dataclass(frozen=True)
class CardSlot:
    """Where one certificate and its key live on the card."""

    kind: Kind
    key_id: bytes
    label: str


AUTHENTICATION = CardSlot(Kind.AUTHENTICATION, b"\x01", "authentication")
SIGNATURE = CardSlot(Kind.SIGNATURE, b"\x02", "non-repudiation")
ENCRYPTION = CardSlot(Kind.ENCRYPTION, b"\x03", "encryption")
SLOTS = (AUTHENTICATION, SIGNATURE, ENCRYPTION)
"""The three certificates of a UZI-pas (``docs/uzi-profile.md``), in card order."""


@dataclass(frozen=True)
class SmartCard:
    """A card: its own token in a SoftHSM directory, and how card software reaches it."""

    token: SoftHsmToken = field(repr=False)
    softhsm_conf: Path

    @classmethod
    def blank(cls, softhsm: SoftHsmDir, label: str) -> SmartCard:
        """A freshly initialised card: new label, random user and SO PIN, no objects."""
        return cls(token=softhsm.init_token(label), softhsm_conf=softhsm.conf)

    @property
    def label(self) -> str:
        return self.token.label

    @property
    def module(self) -> str:
        return self.token.module

    def environment(self) -> dict[str, str]:
        """What a child process needs to see this card's token directory."""
        return {"SOFTHSM2_CONF": str(self.softhsm_conf)}

    def key_uri(self, slot: CardSlot, *, pin: bool = False) -> str:
        """RFC 7512 URI of the slot's private key; with ``pin`` the test card's PIN as
        ``pin-value`` (what a card reader's PIN prompt supplies; test cards only)."""
        uri = f"pkcs11:token={quote(self.label)};object={quote(slot.label)};type=private"
        return f"{uri}?pin-value={quote(self.token.pin)}" if pin else uri


def write_openssl_engine_conf(path: Path, module: str) -> Path:
    """An ``OPENSSL_CONF`` that loads libp11's ``pkcs11`` engine on *module*.

    Without ``MODULE_PATH`` the Debian engine loads p11-kit's proxy, which sees only
    modules registered system-wide; a relying party's or user's software names its module.
    """
    text = (
        "openssl_conf = openssl_init\n"
        "[openssl_init]\n"
        "engines = engine_section\n"
        "[engine_section]\n"
        "pkcs11 = pkcs11_section\n"
        "[pkcs11_section]\n"
        "engine_id = pkcs11\n"
        f"MODULE_PATH = {module}\n"
        "init = 0\n"
    )
    write_file(path, text.encode(), mode=PUBLIC_FILE, exclusive=False)
    return path


def _der_integer(value: int) -> bytes:
    return bytes(asn1_core.Integer(value).dump())


@dataclass(frozen=True)
class CardApp:
    """The desktop app with the card inserted and the user's PIN entered."""

    card: SmartCard
    hsm: Hsm = field(repr=False)

    @classmethod
    def insert(cls, card: SmartCard) -> CardApp:
        """Log in to the card (PIN from the card's PIN file, as the PIN pad would give it)."""
        hsm = Hsm.open(
            module_path=card.module,
            token_label=card.label,
            pin_source=f"file:{card.token.pin_file}",
        )
        return cls(card=card, hsm=hsm)

    def generate_key(self, slot: CardSlot) -> HsmRsaPrivateKey:
        """RSA-2048 on the card: sensitive, never extractable, private; the encryption
        slot's key also decrypts (what its keyEncipherment certificate is for)."""
        self.hsm.generate_key(
            slot.label, KeySpec.RSA_2048, key_id=slot.key_id, decrypt=slot is ENCRYPTION
        )
        return self.key(slot)

    def key(self, slot: CardSlot) -> HsmRsaPrivateKey:
        """The slot's private key as a ``cryptography`` key that signs on the card."""
        return self.hsm.get_rsa_key(slot.label, key_id=slot.key_id)

    def csr(self, slot: CardSlot) -> bytes:
        """A DER PKCS#10 request for the slot's key, signed on the card (SHA-256, PKCS#1 v1.5)."""
        name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, f"{self.card.label} {slot.label}")]
        )
        request = x509.CertificateSigningRequestBuilder().subject_name(name)
        return request.sign(self.key(slot), hashes.SHA256()).public_bytes(
            serialization.Encoding.DER
        )

    def write_certificate(self, slot: CardSlot, der: bytes) -> x509.Certificate:
        """Write an issued certificate onto the card next to its key (same id and label)."""
        cert = x509.load_der_x509_certificate(der)
        if cert.public_key() != self.key(slot).public_key():
            raise ValueError(
                f"certificate {cert.serial_number:x} does not certify the key in slot "
                f"{slot.label!r} of card {self.card.label!r}; write it to the slot whose key "
                "made its CSR"
            )
        store_certificate(
            self.hsm,
            CertificateObject(
                label=slot.label,
                key_id=slot.key_id,
                value=der,
                subject=cert.subject.public_bytes(),
                issuer=cert.issuer.public_bytes(),
                serial_number=_der_integer(cert.serial_number),
            ),
        )
        return cert

    def certificates(self) -> dict[bytes, x509.Certificate]:
        """The certificates on the card, by key id."""
        return {
            obj.key_id: x509.load_der_x509_certificate(obj.value)
            for obj in read_certificates(self.hsm)
        }
