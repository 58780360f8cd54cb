"""What the ceremony leaves in ``<data_dir>/ca`` and how the rest of the engine reads it.

The server hands the certificates to callers (CaService), the issuer signs
under the issuing CA key and the OCSP responder signs under its delegated
key; all three find their certificates and token key labels here, through
:func:`load_ca_material`, which also checks that the files still belong
together (a half-replaced file must fail loudly at start-up, not at the
first issuance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from issuer.ca.errors import CaMaterialError, KeyMismatch

ROOT_PEM = "root.pem"
ISSUING_CA_PEM = "issuing-ca.pem"
#: Only with an external root that certified us through intermediate CAs (issuer first).
INTERMEDIATES_PEM = "intermediates.pem"
ISSUING_CA_CSR = "issuing-ca.csr.pem"
OCSP_RESPONDER_PEM = "ocsp-responder.pem"
AUDIT_PUBLIC_KEY_PEM = "audit-checkpoint.pub.pem"
RECORD_JSON = "ceremony.json"
#: The root's CRL (ARL), DER; self-signed root only (an external root publishes its own).
ROOT_CRL = "root.crl"

#: ``ceremony.json`` ``state`` values.
STATE_COMPLETE = "complete"
STATE_AWAITING_IMPORT = "awaiting-issuing-ca-certificate"
RECORD_FORMAT = 1


def ca_dir_of(data_dir: Path) -> Path:
    """``<data_dir>/ca``: the one folder the ceremony writes."""
    return Path(data_dir) / "ca"


def ocsp_archive_name(serial: int) -> str:
    """Name of a replaced responder certificate: ``ocsp-responder-<serial hex>.pem``."""
    return f"ocsp-responder-{serial:x}.pem"


def generation_file_name(generation: int) -> str:
    """Name of a retired issuing CA certificate: ``issuing-ca-g<generation>.pem``."""
    return f"issuing-ca-g{generation}.pem"


@dataclass(frozen=True, kw_only=True)
class IssuingGeneration:
    """One issuing CA of the hierarchy: the ceremony's is 1, each rollover adds one.

    Why kept after a rollover: its certificates stay valid until they expire, so
    login, OCSP and its CRL keep answering for them with its key.
    """

    generation: int
    certificate: x509.Certificate
    key_label: str


@dataclass(frozen=True, kw_only=True)
class CaMaterial:
    """The CA certificates and the token labels of their keys, checked to belong together."""

    ca_dir: Path
    token_label: str
    root: x509.Certificate
    issuing_ca: x509.Certificate
    ocsp_responder: x509.Certificate
    audit_public_key: ec.EllipticCurvePublicKey
    issuing_ca_key_label: str
    ocsp_responder_key_label: str
    audit_key_label: str
    intermediates: tuple[x509.Certificate, ...] = ()
    generation: int = 1
    """The current issuing CA's generation (``zorgid ca rollover`` adds one)."""
    earlier: tuple[IssuingGeneration, ...] = ()
    """Retired issuing CAs, oldest first: they issue nothing new, but still answer."""

    def generations(self) -> tuple[IssuingGeneration, ...]:
        """Every issuing CA whose certificates may still be in use, the current one last."""
        current = IssuingGeneration(
            generation=self.generation,
            certificate=self.issuing_ca,
            key_label=self.issuing_ca_key_label,
        )
        return (*self.earlier, current)

    def chain(self) -> tuple[x509.Certificate, ...]:
        """Issuing CA, any intermediates, root: the path above a mobile-ID certificate."""
        return (self.issuing_ca, *self.intermediates, self.root)


def read_record(ca_dir: Path) -> dict[str, Any]:
    """Parse ``ceremony.json``; raise :class:`CaMaterialError` when absent or unreadable."""
    path = ca_dir / RECORD_JSON
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CaMaterialError(
            f"no ceremony record at {path}; expected the output of 'zorgid ca init'. "
            "Run 'zorgid ca init --config FILE' (or 'zorgid dev' for a development setup)."
        ) from None
    except (OSError, ValueError) as exc:
        raise CaMaterialError(
            f"cannot read the ceremony record {path}: {exc}; restore it from the ceremony backup"
        ) from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise CaMaterialError(
            f"{path} is not a format-{RECORD_FORMAT} ceremony record; restore it from the backup"
        )
    return record


def read_certificate(path: Path) -> x509.Certificate:
    """Load one PEM certificate, naming the file in any error."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise CaMaterialError(
            f"missing {path}; expected the ceremony's certificate there. "
            "Restore it from the ceremony backup or run 'zorgid ca init'."
        ) from None
    except ValueError as exc:
        raise CaMaterialError(f"{path} is not a PEM certificate ({exc})") from None


def _label(record: dict[str, Any], section: str, path: Path) -> str:
    entry = record.get(section)
    label = entry.get("key_label") if isinstance(entry, dict) else None
    if not isinstance(label, str) or not label:
        raise CaMaterialError(f"{path}: {section}.key_label missing; restore the record")
    return label


def load_ca_material(data_dir: Path | str) -> CaMaterial:
    """Read the finished ceremony's certificates and key labels from ``<data_dir>/ca``.

    Checks, so a broken set fails at start-up: the record says the ceremony
    is complete; the issuing CA is signed by the root and the responder by
    the issuing CA (names and signatures, RFC 5280 §6.1.3 (a)(1) and (a)(4)).
    """
    ca_dir = ca_dir_of(Path(data_dir))
    record = read_record(ca_dir)
    record_path = ca_dir / RECORD_JSON
    if record.get("state") != STATE_COMPLETE:
        raise CaMaterialError(
            f"{record_path} says state {record.get('state')!r}, expected {STATE_COMPLETE!r}: "
            "the ceremony is waiting for the externally signed issuing CA certificate. "
            "Run 'zorgid ca import-issuing --config FILE --cert ISSUING.pem --root ROOT.pem'."
        )
    root = read_certificate(ca_dir / ROOT_PEM)
    issuing = read_certificate(ca_dir / ISSUING_CA_PEM)
    ocsp = read_certificate(ca_dir / OCSP_RESPONDER_PEM)
    intermediates = _read_intermediates(ca_dir / INTERMEDIATES_PEM)
    above = [*intermediates, root]
    links = [
        (issuing, above[0], f"issuing-ca.pem is not issued by {_where(0, intermediates)}"),
        *(
            (
                cert,
                above[i + 1],
                f"{_where(i, intermediates)} is not issued by {_where(i + 1, intermediates)}",
            )
            for i, cert in enumerate(intermediates)
        ),
        (ocsp, issuing, "ocsp-responder.pem is not issued by issuing-ca.pem"),
    ]
    generation, earlier = _read_generations(record, ca_dir)
    links += [
        (
            g.certificate,
            above[0],
            f"{generation_file_name(g.generation)} is not issued by {_where(0, intermediates)}",
        )
        for g in earlier
    ]
    for child, parent, what in links:
        try:
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise CaMaterialError(
                f"{ca_dir}: {what} ({type(exc).__name__}: {exc}); expected a chain made by "
                "the ceremony. Restore the files from the ceremony backup."
            ) from None
    pub_path = ca_dir / AUDIT_PUBLIC_KEY_PEM
    try:
        audit_key = serialization.load_pem_public_key(pub_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CaMaterialError(f"cannot read the audit public key {pub_path}: {exc}") from None
    if not isinstance(audit_key, ec.EllipticCurvePublicKey):
        raise CaMaterialError(
            f"{pub_path} holds a {type(audit_key).__name__}, expected an EC P-256 public key"
        )
    token = record.get("hsm", {}).get("token") if isinstance(record.get("hsm"), dict) else None
    if not isinstance(token, str):
        raise CaMaterialError(f"{record_path}: hsm.token missing; restore the record")
    return CaMaterial(
        ca_dir=ca_dir,
        token_label=token,
        root=root,
        issuing_ca=issuing,
        ocsp_responder=ocsp,
        audit_public_key=audit_key,
        issuing_ca_key_label=_label(record, "issuing_ca", record_path),
        ocsp_responder_key_label=_label(record, "ocsp_responder", record_path),
        audit_key_label=_label(record, "audit", record_path),
        intermediates=tuple(intermediates),
        generation=generation,
        earlier=earlier,
    )


def _read_generations(
    record: dict[str, Any], ca_dir: Path
) -> tuple[int, tuple[IssuingGeneration, ...]]:
    """The current generation (``issuing_ca.generation``, absent: 1) and the retired ones
    (``earlier_issuing_cas``), each below the current one and each once."""
    path = ca_dir / RECORD_JSON
    section = record.get("issuing_ca")
    current = section.get("generation", 1) if isinstance(section, dict) else 1
    entries = record.get("earlier_issuing_cas", [])
    if not isinstance(current, int) or current < 1 or not isinstance(entries, list):
        raise CaMaterialError(
            f"{path}: issuing_ca.generation {current!r} / earlier_issuing_cas: expected a "
            "generation >= 1 and a list; restore the record from the backup"
        )
    earlier: list[IssuingGeneration] = []
    for entry in entries:
        number = entry.get("generation") if isinstance(entry, dict) else None
        file = entry.get("certificate") if isinstance(entry, dict) else None
        label = entry.get("key_label") if isinstance(entry, dict) else None
        seen = {g.generation for g in earlier}
        if (
            not isinstance(number, int)
            or not 1 <= number < current
            or number in seen
            or not isinstance(file, str)
            or not isinstance(label, str)
            or not label
        ):
            raise CaMaterialError(
                f"{path}: earlier_issuing_cas entry {entry!r}: expected generation (1 to "
                f"{current - 1}, each once), certificate and key_label; restore the record"
            )
        earlier.append(
            IssuingGeneration(
                generation=number, certificate=read_certificate(ca_dir / file), key_label=label
            )
        )
    return current, tuple(sorted(earlier, key=lambda g: g.generation))


KEY_PROOF = b"zorgid: does this key belong to its certificate?"
"""What :func:`check_key` has a key sign: fixed, never a certificate or response."""


def check_key(what: str, label: str, key: PrivateKeyTypes, expected: PublicKeyTypes) -> None:
    """Raise :class:`KeyMismatch` unless *key* signs what *expected* verifies.

    Why a signature and not a comparison of public keys: the token's public
    key object is found by label like the private one, and a token whose two
    objects under one label disagree would pass a comparison and still sign
    with the wrong key. One signature at start-up proves the private key
    itself (issue 16 item 8: a wrong label made the issuing CA key sign
    certificates that did not verify).
    """
    try:
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(
            expected, ec.EllipticCurvePublicKey
        ):
            signature = key.sign(KEY_PROOF, ec.ECDSA(hashes.SHA256()))
            expected.verify(signature, KEY_PROOF, ec.ECDSA(hashes.SHA256()))
            return
        if isinstance(key, rsa.RSAPrivateKey) and isinstance(expected, rsa.RSAPublicKey):
            signature = key.sign(KEY_PROOF, padding.PKCS1v15(), hashes.SHA256())
            expected.verify(signature, KEY_PROOF, padding.PKCS1v15(), hashes.SHA256())
            return
        problem = (
            f"is a {type(key).__name__.removeprefix('Hsm')}, its certificate holds a "
            f"{type(expected).__name__}"
        )
    except InvalidSignature:
        problem = "signs what its certificate's public key does not verify"
    raise KeyMismatch(
        f"the {what} key {label!r} {problem}; expected the key of its certificate. "
        "Correct the label in ceremony.json or restore the token from the ceremony backup."
    )


class _KeySource(Protocol):
    """What :func:`check_keys` needs of the HSM: a key by label (``hsm.Hsm`` fits)."""

    def get_key(self, label: str) -> Any: ...


def check_keys(material: CaMaterial, hsm: _KeySource) -> dict[str, Any]:
    """Prove each configured key is its certificate's (:func:`check_key`); the keys by label.

    The issuing CA key against the issuing CA certificate, the OCSP responder
    key against the responder certificate, the audit checkpoint key against
    ``audit-checkpoint.pub.pem``, each retired issuing CA's key against its certificate
    (it still signs its CRL and OCSP responses). Every process that signs with them calls
    this before its first signature: :class:`KeyMismatch` names the one that
    does not belong.
    """
    wanted = (
        ("issuing CA", material.issuing_ca_key_label, material.issuing_ca.public_key()),
        (
            "OCSP responder",
            material.ocsp_responder_key_label,
            material.ocsp_responder.public_key(),
        ),
        ("audit checkpoint", material.audit_key_label, material.audit_public_key),
        *(
            (f"issuing CA generation {g.generation}", g.key_label, g.certificate.public_key())
            for g in material.earlier
        ),
    )
    keys: dict[str, Any] = {}
    for what, label, public in wanted:
        keys[label] = hsm.get_key(label)
        check_key(what, label, keys[label], public)
    return keys


def _where(index: int, intermediates: list[x509.Certificate]) -> str:
    if index < len(intermediates):
        return f"certificate {index + 1} of {INTERMEDIATES_PEM}"
    return ROOT_PEM


def _read_intermediates(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CaMaterialError(f"cannot read {path}: {exc}") from None
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CaMaterialError(f"{path} holds no PEM certificates ({exc})") from None
