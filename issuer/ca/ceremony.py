"""The key ceremony: make the CA hierarchy on the token and write its certificates.

Three entry points, each all-or-nothing:

* :func:`run_ceremony` -- self-signed root: root, issuing CA, OCSP responder
  and audit keys and certificates in one run. External root: the issuing CA
  key and a CSR, then it stops.
* :func:`import_issuing_ca` -- external root, second step: the certificate
  the external root signed is checked against the token key and the profile,
  then the OCSP responder and audit keys are made as in one run.
* :func:`renew_ocsp` -- a new short-lived responder certificate, with the
  same key or a new one; the old certificate is kept beside it.

*All-or-nothing* is kept by a journal: each key generated and each file
written or replaced in this run is recorded the moment it exists, and any
failure (an exception, Ctrl-C) undoes the journal in reverse, so the token
and the data directory are as before. Before anything is made, every key
label and every file is checked to be absent: nothing is ever overwritten.

Each certificate is built once, signed with a throwaway software key of the
same type and linted with pkilint; only then does the HSM sign, and the
to-be-signed bytes of the real certificate are compared with the linted ones
(Boulder's precertificate lint). Then the signature is verified with the
issuer's public key and the certificate's public key is compared with the
token key it certifies.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtensionOID

from hsm import KeySpec
from issuer.ca.config import CeremonyConfig, RootMode
from issuer.ca.errors import (
    AlreadyExists,
    CeremonyError,
    CeremonyFailed,
    ImportRefused,
    KeyMismatch,
    LintFailed,
)
from issuer.ca.lint import lint_certificate, lint_chain_pair
from issuer.ca.material import (
    AUDIT_PUBLIC_KEY_PEM,
    INTERMEDIATES_PEM,
    ISSUING_CA_CSR,
    ISSUING_CA_PEM,
    OCSP_RESPONDER_PEM,
    RECORD_FORMAT,
    RECORD_JSON,
    ROOT_PEM,
    STATE_AWAITING_IMPORT,
    STATE_COMPLETE,
    CaMaterial,
    load_ca_material,
    ocsp_archive_name,
    read_certificate,
    read_record,
)
from issuer.ca.profiles import (
    PublicKey,
    SigningKey,
    Validity,
    issuing_ca_profile,
    ocsp_responder_profile,
    root_profile,
    same_public_key,
    signature_hash,
    x509_name,
)
from issuer.files import PRIVATE_FILE, PUBLIC_FILE, make_private_dir, write_file
from issuer.x509util import key_usage

Out = Callable[[str], None]
Clock = Callable[[], datetime]

#: The audit checkpoint key is always EC P-256 (the audit log's signature format fixes it).
AUDIT_KEY_SPEC = "ec-p256"


class KeyAttributesView(Protocol):
    """The two PKCS#11 attributes the ceremony insists on (PKCS#11 v2.40 §4.9)."""

    @property
    def sensitive(self) -> bool: ...

    @property
    def extractable(self) -> bool: ...


class CeremonyToken(Protocol):
    """What the ceremony needs of a token; :class:`hsm.Hsm` provides it."""

    def generate_key(self, label: str, spec: KeySpec) -> SigningKey: ...

    def get_key(self, label: str) -> SigningKey: ...

    def has_key(self, label: str) -> bool: ...

    def destroy_key(self, label: str) -> None: ...

    def key_attributes(self, label: str) -> KeyAttributesView: ...


@dataclass(frozen=True, kw_only=True)
class CeremonyResult:
    """What a ceremony run made. ``material`` is None while an external root is awaited."""

    state: str
    ca_dir: Path
    files: tuple[Path, ...]
    key_labels: tuple[str, ...]
    csr_path: Path | None
    material: CaMaterial | None


@dataclass(frozen=True, kw_only=True)
class RenewResult:
    """A renewed OCSP responder certificate and where the previous one was kept."""

    certificate: x509.Certificate
    path: Path
    archived: Path
    key_label: str
    new_key: bool


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def _spki_sha256(key: PublicKey) -> str:
    return hashlib.sha256(
        key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).hexdigest()


class _Journal:
    """Everything this run made, and how to unmake it, in order."""

    def __init__(self, token: CeremonyToken, out: Out) -> None:
        self.token = token
        self.out = out
        self.step = "preflight checks"
        self._undo: list[tuple[str, Callable[[], None]]] = []

    @contextmanager
    def running(self, step: str) -> Iterator[None]:
        self.step = step
        self.out(f"  - {step}")
        yield

    def key_made(self, label: str) -> None:
        self._undo.append((f"token key {label!r}", lambda: self.token.destroy_key(label)))

    def path_made(self, path: Path) -> None:
        if path.is_dir():
            self._undo.append((f"directory {path}", path.rmdir))
        else:
            self._undo.append((f"file {path}", lambda: path.unlink(missing_ok=True)))

    def file_replaced(self, path: Path, old: bytes) -> None:
        def restore() -> None:
            _atomic_replace(path, old)

        self._undo.append((f"change to {path} (restored)", restore))

    def rollback(self) -> tuple[list[str], list[str]]:
        removed: list[str] = []
        left: list[str] = []
        for what, undo in reversed(self._undo):
            try:
                undo()
                removed.append(what)
            except Exception as exc:
                left.append(f"{what} ({type(exc).__name__}: {exc})")
        self._undo.clear()
        return removed, left

    def commit(self) -> None:
        self._undo.clear()


@contextmanager
def _all_or_nothing(journal: _Journal) -> Iterator[None]:
    """Undo the journal on any failure and raise :class:`CeremonyFailed` naming the step."""
    try:
        yield
    except BaseException as exc:
        removed, left = journal.rollback()
        failed = CeremonyFailed(journal.step, exc, removed, left)
        journal.out(f"  FAILED at '{journal.step}'; rolled back {len(removed)} item(s)")
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt / SystemExit: rolled back, now let it through
        raise failed from exc
    journal.commit()


def _ensure_dir(path: Path, journal: _Journal) -> None:
    """Create ``path`` and missing parents (0700: the data folder holds the database),
    journaling each directory this run created."""
    for directory in make_private_dir(path):
        journal.path_made(directory)


def _mode_of(path: Path) -> int:
    """The ceremony's files: the record 0600 (it names the token, the key labels and the
    PIN's source: nobody else's business); certificates, the audit public key and the
    CSR 0644 (public material, served over HTTP anyway)."""
    return PRIVATE_FILE if path.name == RECORD_JSON else PUBLIC_FILE


def _write_new(path: Path, data: bytes, journal: _Journal) -> None:
    """Create ``path`` exclusively (``O_EXCL``): an existing file is never overwritten."""
    _ensure_dir(path.parent, journal)
    try:
        write_file(path, data, mode=_mode_of(path), exclusive=True)
    except FileExistsError:
        raise AlreadyExists(
            f"{path} appeared while the ceremony ran; expected it absent. Someone else may be "
            "running a ceremony on this data directory: stop and check."
        ) from None
    journal.path_made(path)


def _atomic_replace(path: Path, data: bytes) -> None:
    """Write a sibling temp file and rename it over ``path`` (POSIX rename is atomic)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write_file(tmp, data, mode=_mode_of(path), exclusive=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _refuse_existing_files(paths: list[Path]) -> None:
    present = [p for p in paths if p.exists()]
    if present:
        raise AlreadyExists(
            "refusing to overwrite: "
            + ", ".join(str(p) for p in present)
            + " exist(s) already; expected none. A ceremony never replaces CA material: "
            "use a new data_dir, or move these files away if they are from a failed test run "
            "(keep them if they are real: they may be the only copy)."
        )


def _refuse_existing_keys(token: CeremonyToken, labels: list[str], token_label: str) -> None:
    present = [label for label in labels if token.has_key(label)]
    if present:
        raise AlreadyExists(
            f"refusing to overwrite: key(s) {', '.join(repr(p) for p in present)} exist(s) "
            f"already on token {token_label!r}; expected none. Choose other key_label values "
            "in the ceremony file, or destroy the old keys deliberately (pkcs11-tool "
            "--delete-object) if they belong to an abandoned hierarchy."
        )


def _generate(token: CeremonyToken, label: str, spec: str, journal: _Journal) -> SigningKey:
    """Generate on the token, journal it at once, and insist it is sensitive and non-extractable."""
    key = token.generate_key(label, KeySpec(spec))
    journal.key_made(label)
    attrs = token.key_attributes(label)
    if not attrs.sensitive or attrs.extractable:
        raise CeremonyError(
            f"token key {label!r} came back with CKA_SENSITIVE={attrs.sensitive}, "
            f"CKA_EXTRACTABLE={attrs.extractable}; expected true/false (ARCHITECTURE §4). "
            "The token or its policy is not fit for CA keys."
        )
    return key


def _throwaway_like(key: SigningKey) -> SigningKey:
    """A software key whose signatures carry the same AlgorithmIdentifier as ``key``'s."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(key.curve)
    # sha256WithRSAEncryption has NULL parameters whatever the modulus size (RFC 4055 §5).
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign_linted(
    builder: x509.CertificateBuilder,
    *,
    issuer_key: SigningKey,
    issuer_cert: x509.Certificate | None,
    subject_key: PublicKey,
    what: str,
) -> x509.Certificate:
    """Lint the exact to-be-signed bytes, then have the token sign those bytes.

    ``issuer_cert`` None means self-signed. Raises :class:`LintFailed` on any
    pkilint finding at WARNING or above, :class:`KeyMismatch` when the
    certificate does not carry ``subject_key``.
    """
    algorithm = signature_hash(issuer_key.public_key())
    precert = builder.sign(_throwaway_like(issuer_key), algorithm)
    findings = lint_certificate(_der(precert))
    if findings:
        raise LintFailed(what, findings)
    cert = builder.sign(issuer_key, algorithm)
    if cert.tbs_certificate_bytes != precert.tbs_certificate_bytes:
        raise CeremonyError(
            f"the {what} certificate the token signed differs from the linted one; "
            "expected identical TBSCertificate bytes. Report this as a bug."
        )
    _check_signed(cert, issuer_cert or cert, subject_key, what)
    return cert


def _check_signed(
    cert: x509.Certificate, issuer: x509.Certificate, subject_key: PublicKey, what: str
) -> None:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CeremonyError(
            f"the {what} certificate does not verify under its issuer's key "
            f"({type(exc).__name__}: {exc}); expected a valid signature from the token"
        ) from None
    if not same_public_key(cert, subject_key):
        raise KeyMismatch(
            f"the {what} certificate carries public key sha256:"
            f"{_spki_sha256(_cert_key(cert))}, expected the token key's sha256:"
            f"{_spki_sha256(subject_key)}"
        )
    if issuer is not cert:
        findings = lint_chain_pair(_der(issuer), _der(cert))
        if findings:
            raise LintFailed(f"{what} (chain to its issuer)", findings)


def _cert_key(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ImportRefused(
            f"certificate {cert.subject.rfc4514_string()} has a {type(key).__name__}, "
            "expected an EC or RSA public key"
        )
    return key


def _cert_entry(
    cert: x509.Certificate, file: str, key_label: str | None, spec: str | None
) -> dict[str, Any]:
    return {
        "certificate": file,
        "subject": cert.subject.rfc4514_string(),
        "serial": f"{cert.serial_number:x}",
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "key_label": key_label,
        "key_spec": spec,
        "spki_sha256": _spki_sha256(_cert_key(cert)),
    }


def _record_json(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, indent=2, sort_keys=False) + "\n").encode("utf-8")


def _issuing_builder(
    config: CeremonyConfig, public_key: PublicKey, root: x509.Certificate, now: datetime
) -> x509.CertificateBuilder:
    ica = config.issuing_ca
    return issuing_ca_profile(
        subject=ica.subject,
        public_key=public_key,
        issuer=root,
        validity=Validity.starting(now, ica.validity_days).clipped_to(root),
        policy_oids=ica.policy_oids,
        ca_issuers_url=ica.ca_issuers_url,
        ocsp_url=ica.ocsp_url,
        crl_urls=ica.crl_urls,
    )


def _make_ocsp_and_audit(
    config: CeremonyConfig,
    token: CeremonyToken,
    journal: _Journal,
    issuing: x509.Certificate,
    issuing_key: SigningKey,
    now: datetime,
) -> tuple[x509.Certificate, PublicKey]:
    oc = config.ocsp_responder
    with journal.running(f"generate OCSP responder key {oc.key_label!r} ({oc.key_spec})"):
        ocsp_key = _generate(token, oc.key_label, oc.key_spec, journal)
    with journal.running("sign the OCSP responder certificate with the issuing CA key"):
        ocsp_pub = ocsp_key.public_key()
        ocsp_cert = sign_linted(
            ocsp_responder_profile(
                subject=oc.subject,
                public_key=ocsp_pub,
                issuer=issuing,
                validity=Validity.starting(now, oc.validity_days),
            ),
            issuer_key=issuing_key,
            issuer_cert=issuing,
            subject_key=ocsp_pub,
            what="OCSP responder",
        )
    with journal.running(f"generate audit checkpoint key {config.audit.key_label!r} (ec-p256)"):
        audit_key = _generate(token, config.audit.key_label, AUDIT_KEY_SPEC, journal)
    return ocsp_cert, audit_key.public_key()


def _final_files(config: CeremonyConfig) -> list[Path]:
    d = config.ca_dir
    return [
        d / ROOT_PEM,
        d / INTERMEDIATES_PEM,
        d / ISSUING_CA_PEM,
        d / OCSP_RESPONDER_PEM,
        d / AUDIT_PUBLIC_KEY_PEM,
    ]


def _write_hierarchy(
    config: CeremonyConfig,
    journal: _Journal,
    root: x509.Certificate,
    issuing: x509.Certificate,
    ocsp_cert: x509.Certificate,
    audit_pub: PublicKey,
) -> list[Path]:
    d = config.ca_dir
    written = []
    for name, data in (
        (ROOT_PEM, _pem(root)),
        (ISSUING_CA_PEM, _pem(issuing)),
        (OCSP_RESPONDER_PEM, _pem(ocsp_cert)),
        (
            AUDIT_PUBLIC_KEY_PEM,
            audit_pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        ),
    ):
        with journal.running(f"write {d / name}"):
            _write_new(d / name, data, journal)
            written.append(d / name)
    return written


def _complete_record(
    config: CeremonyConfig,
    *,
    created: str,
    now: datetime,
    root: x509.Certificate,
    issuing: x509.Certificate,
    ocsp_cert: x509.Certificate,
    audit_pub: PublicKey,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "state": STATE_COMPLETE,
        "created": created,
        "updated": now.isoformat(),
        "hsm": {"module": config.hsm.module, "token": config.hsm.token},
        "root": {
            "mode": config.root.mode.value,
            **_cert_entry(root, ROOT_PEM, config.root.key_label, config.root.key_spec),
        },
        "issuing_ca": _cert_entry(
            issuing, ISSUING_CA_PEM, config.issuing_ca.key_label, config.issuing_ca.key_spec
        ),
        "ocsp_responder": _cert_entry(
            ocsp_cert,
            OCSP_RESPONDER_PEM,
            config.ocsp_responder.key_label,
            config.ocsp_responder.key_spec,
        ),
        "audit": {
            "key_label": config.audit.key_label,
            "key_spec": AUDIT_KEY_SPEC,
            "public_key": AUDIT_PUBLIC_KEY_PEM,
            "spki_sha256": _spki_sha256(audit_pub),
        },
        "events": events,
    }


def run_ceremony(
    config: CeremonyConfig,
    hsm: CeremonyToken,
    out: Out = print,
    *,
    clock: Clock = _utcnow,
) -> CeremonyResult:
    """Make the hierarchy the ceremony file describes; all or nothing.

    Self-signed root: every key and certificate, ``state = complete``.
    External root: the issuing CA key and ``issuing-ca.csr.pem``,
    ``state = awaiting-issuing-ca-certificate``; continue with
    :func:`import_issuing_ca`. Raises :class:`AlreadyExists` (nothing changed)
    or :class:`CeremonyFailed` (everything made in this run removed).
    """
    now = clock()
    d = config.ca_dir
    external = config.root.mode is RootMode.EXTERNAL
    out(f"Key ceremony on token {config.hsm.token!r}, data directory {config.data_dir}")
    out(f"  root: {config.root.mode.value}; time {now.isoformat()}")
    files = [*_final_files(config), d / ISSUING_CA_CSR, d / RECORD_JSON]
    _refuse_existing_files(files)
    _refuse_existing_keys(hsm, list(config.key_labels()), config.hsm.token)
    out("  - checked: no key label in use on the token, no file present in the data directory")
    journal = _Journal(hsm, out)
    if external:
        return _run_external_first_step(config, hsm, journal, now)

    root_cfg = config.root
    assert root_cfg.key_label and root_cfg.key_spec and root_cfg.subject and root_cfg.validity_days
    ica = config.issuing_ca
    with _all_or_nothing(journal):
        with journal.running(f"generate root key {root_cfg.key_label!r} ({root_cfg.key_spec})"):
            root_key = _generate(hsm, root_cfg.key_label, root_cfg.key_spec, journal)
        with journal.running("sign the self-signed root certificate"):
            root_pub = root_key.public_key()
            root = sign_linted(
                root_profile(
                    subject=root_cfg.subject,
                    public_key=root_pub,
                    validity=Validity.starting(now, root_cfg.validity_days),
                ),
                issuer_key=root_key,
                issuer_cert=None,
                subject_key=root_pub,
                what="root",
            )
        with journal.running(f"generate issuing CA key {ica.key_label!r} ({ica.key_spec})"):
            issuing_key = _generate(hsm, ica.key_label, ica.key_spec, journal)
        with journal.running("sign the issuing CA certificate with the root key"):
            issuing_pub = issuing_key.public_key()
            issuing = sign_linted(
                _issuing_builder(config, issuing_pub, root, now),
                issuer_key=root_key,
                issuer_cert=root,
                subject_key=issuing_pub,
                what="issuing CA",
            )
        ocsp_cert, audit_pub = _make_ocsp_and_audit(config, hsm, journal, issuing, issuing_key, now)
        written = _write_hierarchy(config, journal, root, issuing, ocsp_cert, audit_pub)
        record = _complete_record(
            config,
            created=now.isoformat(),
            now=now,
            root=root,
            issuing=issuing,
            ocsp_cert=ocsp_cert,
            audit_pub=audit_pub,
            events=[{"at": now.isoformat(), "event": "ceremony", "root_mode": "self-signed"}],
        )
        with journal.running(f"write the ceremony record {d / RECORD_JSON}"):
            _write_new(d / RECORD_JSON, _record_json(record), journal)
        with journal.running("check the written files read back as one chain"):
            material = load_ca_material(config.data_dir)
    _print_summary(out, material)
    return CeremonyResult(
        state=STATE_COMPLETE,
        ca_dir=d,
        files=(*written, d / RECORD_JSON),
        key_labels=config.key_labels(),
        csr_path=None,
        material=material,
    )


def _print_summary(out: Out, material: CaMaterial) -> None:
    out("Ceremony complete:")
    for what, cert in (
        ("root", material.root),
        ("issuing CA", material.issuing_ca),
        ("OCSP responder", material.ocsp_responder),
    ):
        out(
            f"  {what}: {cert.subject.rfc4514_string()} serial {cert.serial_number:x} "
            f"sha256 {cert.fingerprint(hashes.SHA256()).hex()} "
            f"valid until {cert.not_valid_after_utc.isoformat()}"
        )
    out(f"  audit checkpoint public key: sha256 {_spki_sha256(material.audit_public_key)}")


def _csr_for_issuing_ca(config: CeremonyConfig, key: SigningKey) -> x509.CertificateSigningRequest:
    """PKCS#10 for the external root (RFC 2986), signed by the token key (proof of possession).

    The extensionRequest names the profile we expect back (CA, pathLen 0,
    keyCertSign+cRLSign, our policies); :func:`import_issuing_ca` checks the
    returned certificate against it, so a root operator who ignores it is
    caught there.
    """
    ica = config.issuing_ca
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509_name(ica.subject))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage("key_cert_sign", "crl_sign"),
            critical=True,
        )
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(o), None) for o in ica.policy_oids]
            ),
            critical=False,
        )
    )
    return builder.sign(key, signature_hash(key.public_key()))


def _run_external_first_step(
    config: CeremonyConfig, token: CeremonyToken, journal: _Journal, now: datetime
) -> CeremonyResult:
    d = config.ca_dir
    ica = config.issuing_ca
    with _all_or_nothing(journal):
        with journal.running(f"generate issuing CA key {ica.key_label!r} ({ica.key_spec})"):
            key = _generate(token, ica.key_label, ica.key_spec, journal)
        with journal.running(f"write the CSR for the external root to {d / ISSUING_CA_CSR}"):
            csr = _csr_for_issuing_ca(config, key)
            if not csr.is_signature_valid:
                raise CeremonyError("the CSR the token signed does not verify; report a bug")
            _write_new(d / ISSUING_CA_CSR, csr.public_bytes(Encoding.PEM), journal)
        record = {
            "format": RECORD_FORMAT,
            "state": STATE_AWAITING_IMPORT,
            "created": now.isoformat(),
            "updated": now.isoformat(),
            "hsm": {"module": config.hsm.module, "token": config.hsm.token},
            "root": {"mode": RootMode.EXTERNAL.value},
            "issuing_ca": {
                "key_label": ica.key_label,
                "key_spec": ica.key_spec,
                "csr": ISSUING_CA_CSR,
                "spki_sha256": _spki_sha256(key.public_key()),
            },
            "events": [{"at": now.isoformat(), "event": "ceremony", "root_mode": "external"}],
        }
        with journal.running(f"write the ceremony record {d / RECORD_JSON}"):
            _write_new(d / RECORD_JSON, _record_json(record), journal)
    journal.out(
        f"Stopped: send {d / ISSUING_CA_CSR} to the external root. When the signed issuing CA "
        "certificate is back, run: zorgid ca import-issuing --config FILE "
        "--cert ISSUING.pem --root ROOT.pem"
    )
    return CeremonyResult(
        state=STATE_AWAITING_IMPORT,
        ca_dir=d,
        files=(d / ISSUING_CA_CSR, d / RECORD_JSON),
        key_labels=(ica.key_label,),
        csr_path=d / ISSUING_CA_CSR,
        material=None,
    )


def _load_pem_cert(data: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError as exc:
            raise ImportRefused(
                f"the {what} is neither a PEM nor a DER certificate ({exc}); "
                "expected the certificate file the external root sent"
            ) from None


def _check_ca_extensions(cert: x509.Certificate, what: str, below: int) -> None:
    """CA:TRUE critical, keyCertSign+cRLSign, room for ``below`` CA certificates under it.

    RFC 5280 §4.2.1.9 and §4.2.1.3. For the issuing CA ``below`` is 0 and
    pathLen must be exactly 0: it issues end-entity mobile-ID certificates only.
    """
    try:
        bc = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
        ku = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    except x509.ExtensionNotFound as exc:
        raise ImportRefused(
            f"the {what} certificate lacks {exc.oid.dotted_string}; expected basicConstraints "
            "CA:TRUE and keyUsage keyCertSign+cRLSign"
        ) from None
    assert isinstance(bc.value, x509.BasicConstraints) and isinstance(ku.value, x509.KeyUsage)
    if not bc.value.ca or not bc.critical:
        raise ImportRefused(
            f"the {what} certificate has basicConstraints ca={bc.value.ca} "
            f"critical={bc.critical}; expected CA:TRUE, critical"
        )
    path_len = bc.value.path_length
    if below == 0 and path_len != 0:
        raise ImportRefused(
            f"the {what} certificate has pathLenConstraint {path_len}, expected 0 "
            "(it issues end-entity mobile-ID certificates only)"
        )
    if path_len is not None and path_len < below:
        raise ImportRefused(
            f"the {what} certificate has pathLenConstraint {path_len}, but {below} CA "
            f"certificate(s) sit below it; expected at least {below}"
        )
    if not (ku.value.key_cert_sign and ku.value.crl_sign):
        raise ImportRefused(
            f"the {what} certificate's keyUsage lacks keyCertSign or cRLSign; expected both"
        )


def _load_pem_bundle(data: bytes) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ImportRefused(
            f"the intermediates file holds no PEM certificates ({exc}); expected the CA "
            "certificates between the root and the issuing CA, the issuing CA's issuer first"
        ) from None
    return certs


def _check_imported_path(
    root: x509.Certificate,
    intermediates: list[x509.Certificate],
    issuing: x509.Certificate,
    now: datetime,
) -> None:
    """The externally made path ``issuing <- intermediates... <- root``, checked link by link.

    The root is self-signed; each certificate is signed by the next and names
    it as issuer (RFC 5280 §6.1.3 (a)); each issuer is CA:TRUE critical with
    keyCertSign+cRLSign and a pathLenConstraint that allows the CA
    certificates below it (§4.2.1.9), the issuing CA itself pathLen 0; all are
    valid now and the issuing CA ends inside its issuer; pkilint finds nothing
    at WARNING or above on any certificate or pair.
    """
    if root.subject != root.issuer:
        raise ImportRefused(
            f"the root certificate is issued by {root.issuer.rfc4514_string()}, not by itself; "
            "expected the self-signed external root (the trust anchor)"
        )
    path = [issuing, *intermediates, root]
    names = ["issuing CA"] + [f"intermediate {i + 1}" for i in range(len(intermediates))]
    names.append("root")
    _check_ca_extensions(issuing, "issuing CA", 0)
    for below, (child, parent) in enumerate(pairwise(path)):
        what, parent_what = names[below], names[below + 1]
        try:
            child.verify_directly_issued_by(parent)
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise ImportRefused(
                f"the {what} certificate is not signed by the offered {parent_what} "
                f"({type(exc).__name__}: {exc}); expected the root (and intermediates, "
                "issuing CA's issuer first) that signed our CSR"
            ) from None
        _check_ca_extensions(parent, parent_what, below + 1)
        findings = lint_chain_pair(_der(parent), _der(child))
        if findings:
            raise LintFailed(f"{what} (chain to the {parent_what})", findings)
    try:
        root.verify_directly_issued_by(root)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise ImportRefused(
            f"the root certificate's self-signature does not verify ({exc}); expected a root"
        ) from None
    for cert, what in zip(path, names, strict=True):
        if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            raise ImportRefused(
                f"the {what} certificate is valid {cert.not_valid_before_utc.isoformat()} to "
                f"{cert.not_valid_after_utc.isoformat()}, not now ({now.isoformat()})"
            )
        findings = lint_certificate(_der(cert))
        if findings:
            raise LintFailed(what, findings)
    if issuing.not_valid_after_utc > path[1].not_valid_after_utc:
        raise ImportRefused(
            f"the issuing CA certificate ends {issuing.not_valid_after_utc.isoformat()}, after "
            f"its issuer ({path[1].not_valid_after_utc.isoformat()}); expected it inside"
        )


def import_issuing_ca(
    config: CeremonyConfig,
    hsm: CeremonyToken,
    *,
    issuing_cert: bytes,
    root_cert: bytes,
    intermediates: bytes | None = None,
    out: Out = print,
    clock: Clock = _utcnow,
) -> CeremonyResult:
    """External root, step two: accept the externally signed issuing CA certificate and finish.

    ``intermediates`` is an optional PEM bundle of the CA certificates between
    the root and the issuing CA, the issuing CA's issuer first (a national
    root usually certifies a domain CA, which certifies ours). Refused
    (nothing changed) unless: the record awaits it; the issuing CA key is on
    the token and *is* the certificate's key; see :func:`_check_imported_path`
    for the path. Then the OCSP responder and audit keys are made as in
    :func:`run_ceremony`, all or nothing.
    """
    now = clock()
    d = config.ca_dir
    if config.root.mode is not RootMode.EXTERNAL:
        raise ImportRefused(
            "root.mode is 'self-signed' in this ceremony file; expected 'external'. "
            "Importing is only for an issuing CA signed by an external root."
        )
    record_path = d / RECORD_JSON
    record = read_record(d)
    if record.get("state") != STATE_AWAITING_IMPORT:
        raise ImportRefused(
            f"{record_path} says state {record.get('state')!r}, expected "
            f"{STATE_AWAITING_IMPORT!r}; there is nothing to import into"
        )
    ica = config.issuing_ca
    if not hsm.has_key(ica.key_label):
        raise ImportRefused(
            f"issuing CA key {ica.key_label!r} is not on token {config.hsm.token!r}; expected "
            "the key the first step made. Check [hsm] and issuing_ca.key_label."
        )
    _refuse_existing_files(_final_files(config))
    _refuse_existing_keys(
        hsm, [config.ocsp_responder.key_label, config.audit.key_label], config.hsm.token
    )

    root = _load_pem_cert(root_cert, "root certificate")
    issuing = _load_pem_cert(issuing_cert, "issuing CA certificate")
    chain = _load_pem_bundle(intermediates) if intermediates else []
    issuing_key = hsm.get_key(ica.key_label)
    token_pub = issuing_key.public_key()
    if not same_public_key(issuing, token_pub):
        raise KeyMismatch(
            f"the offered issuing CA certificate ({issuing.subject.rfc4514_string()}) carries "
            f"public key sha256:{_spki_sha256(_cert_key(issuing))}, but token key "
            f"{ica.key_label!r} is sha256:{_spki_sha256(token_pub)}; expected the certificate "
            f"for the CSR {d / ISSUING_CA_CSR}. Ask the root operator for the right certificate."
        )
    _check_imported_path(root, chain, issuing, now)
    if issuing.subject != x509_name(ica.subject):
        out(
            f"  note: the root named the issuing CA {issuing.subject.rfc4514_string()}, the "
            f"ceremony file asked for {x509_name(ica.subject).rfc4514_string()}; accepted"
        )
    out(f"Importing the issuing CA certificate into {d}")
    out(
        "  - checked: key matches the token key, path to the root verifies "
        f"({len(chain)} intermediate(s)), CA pathLen 0, pkilint clean"
    )

    journal = _Journal(hsm, out)
    old_record = record_path.read_bytes()
    with _all_or_nothing(journal):
        ocsp_cert, audit_pub = _make_ocsp_and_audit(config, hsm, journal, issuing, issuing_key, now)
        written = _write_hierarchy(config, journal, root, issuing, ocsp_cert, audit_pub)
        if chain:
            with journal.running(f"write {d / INTERMEDIATES_PEM}"):
                _write_new(d / INTERMEDIATES_PEM, b"".join(_pem(c) for c in chain), journal)
                written.append(d / INTERMEDIATES_PEM)
        events = list(record.get("events", []))
        events.append({"at": now.isoformat(), "event": "import-issuing-ca"})
        new_record = _complete_record(
            config,
            created=str(record.get("created", now.isoformat())),
            now=now,
            root=root,
            issuing=issuing,
            ocsp_cert=ocsp_cert,
            audit_pub=audit_pub,
            events=events,
        )
        new_record["issuing_ca"]["csr"] = ISSUING_CA_CSR
        new_record["intermediates"] = [_cert_entry(c, INTERMEDIATES_PEM, None, None) for c in chain]
        with journal.running(f"update the ceremony record {record_path}"):
            journal.file_replaced(record_path, old_record)
            _atomic_replace(record_path, _record_json(new_record))
        with journal.running("check the written files read back as one chain"):
            material = load_ca_material(config.data_dir)
    _print_summary(out, material)
    return CeremonyResult(
        state=STATE_COMPLETE,
        ca_dir=d,
        files=(*written, record_path),
        key_labels=(config.ocsp_responder.key_label, config.audit.key_label),
        csr_path=d / ISSUING_CA_CSR,
        material=material,
    )


def renew_ocsp(
    config: CeremonyConfig,
    hsm: CeremonyToken,
    *,
    new_key: bool,
    out: Out = print,
    clock: Clock = _utcnow,
) -> RenewResult:
    """Issue a fresh OCSP responder certificate; keep the old one as ``ocsp-responder-<serial>``.

    ``new_key=False`` certifies the current responder key again;
    ``new_key=True`` generates a key labelled ``<key_label>-<UTC time>`` (a
    label is never reused, so the old key stays usable for responses already
    being served until its certificate expires). The record's
    ``ocsp_responder.key_label`` names the key to sign with from now on;
    :func:`load_ca_material` returns it. All or nothing, like the ceremony.
    """
    now = clock()
    material = load_ca_material(config.data_dir)
    d = material.ca_dir
    record_path = d / RECORD_JSON
    record = read_record(d)
    old = material.ocsp_responder
    archive = d / ocsp_archive_name(old.serial_number)
    _refuse_existing_files([archive])
    issuing_key = hsm.get_key(material.issuing_ca_key_label)
    if not same_public_key(material.issuing_ca, issuing_key.public_key()):
        raise KeyMismatch(
            f"token key {material.issuing_ca_key_label!r} is not the key of {d / ISSUING_CA_PEM}; "
            "expected the issuing CA key. Check [hsm] token in the ceremony file."
        )
    base = config.ocsp_responder
    label = (
        f"{base.key_label}-{now:%Y%m%dT%H%M%SZ}" if new_key else material.ocsp_responder_key_label
    )
    if new_key:
        _refuse_existing_keys(hsm, [label], config.hsm.token)
    out(f"Renewing the OCSP responder certificate in {d} ({'new key' if new_key else 'same key'})")
    journal = _Journal(hsm, out)
    old_pem = (d / OCSP_RESPONDER_PEM).read_bytes()
    old_record = record_path.read_bytes()
    with _all_or_nothing(journal):
        if new_key:
            with journal.running(f"generate OCSP responder key {label!r} ({base.key_spec})"):
                key = _generate(hsm, label, base.key_spec, journal)
        else:
            with journal.running(f"find OCSP responder key {label!r}"):
                key = hsm.get_key(label)
                if not same_public_key(old, key.public_key()):
                    raise KeyMismatch(
                        f"token key {label!r} is not the key of the current {OCSP_RESPONDER_PEM}; "
                        "expected the same key. Renew with --new-key instead."
                    )
        with journal.running("sign the new OCSP responder certificate with the issuing CA key"):
            pub = key.public_key()
            cert = sign_linted(
                ocsp_responder_profile(
                    subject=base.subject,
                    public_key=pub,
                    issuer=material.issuing_ca,
                    validity=Validity.starting(now, base.validity_days),
                ),
                issuer_key=issuing_key,
                issuer_cert=material.issuing_ca,
                subject_key=pub,
                what="OCSP responder",
            )
        with journal.running(f"keep the old certificate as {archive}"):
            _write_new(archive, old_pem, journal)
        with journal.running(f"replace {d / OCSP_RESPONDER_PEM}"):
            journal.file_replaced(d / OCSP_RESPONDER_PEM, old_pem)
            _atomic_replace(d / OCSP_RESPONDER_PEM, _pem(cert))
        with journal.running(f"update the ceremony record {record_path}"):
            previous = record.get("ocsp_responder", {})
            record["ocsp_responder"] = _cert_entry(cert, OCSP_RESPONDER_PEM, label, base.key_spec)
            record["ocsp_responder"]["previous"] = [
                *previous.pop("previous", []),
                {**previous, "certificate": archive.name},
            ]
            record["updated"] = now.isoformat()
            record.setdefault("events", []).append(
                {
                    "at": now.isoformat(),
                    "event": "renew-ocsp",
                    "new_key": new_key,
                    "serial": f"{cert.serial_number:x}",
                    "key_label": label,
                }
            )
            journal.file_replaced(record_path, old_record)
            _atomic_replace(record_path, _record_json(record))
        with journal.running("check the written files read back as one chain"):
            load_ca_material(config.data_dir)
    out(
        f"OCSP responder renewed: serial {cert.serial_number:x}, key {label!r}, valid until "
        f"{cert.not_valid_after_utc.isoformat()}; previous kept as {archive.name}"
    )
    return RenewResult(
        certificate=cert,
        path=d / OCSP_RESPONDER_PEM,
        archived=archive,
        key_label=label,
        new_key=new_key,
    )


def read_pem_file(path: Path) -> bytes:
    """Read a certificate file offered for import, naming it in the error."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"cannot read {path}: {exc.strerror or exc}") from None


__all__ = [
    "CeremonyResult",
    "CeremonyToken",
    "RenewResult",
    "import_issuing_ca",
    "read_certificate",
    "read_pem_file",
    "renew_ocsp",
    "run_ceremony",
    "sign_linted",
]
