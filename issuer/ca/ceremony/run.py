"""``zorgid ca init``: the ceremony run (self-signed root), or its first step (external root)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from issuer.ca.ceremony import rollback
from issuer.ca.ceremony.arl import make_first_arl
from issuer.ca.ceremony.hierarchy import (
    complete_record,
    final_files,
    issuing_builder,
    make_ocsp_and_audit,
    print_summary,
    record_json,
    sign_linted,
    spki_sha256,
    utcnow,
    write_hierarchy,
)
from issuer.ca.ceremony.rollback import CeremonyToken, Clock, Out
from issuer.ca.config import CeremonyConfig, RootMode
from issuer.ca.errors import CeremonyError
from issuer.ca.material import (
    ISSUING_CA_CSR,
    RECORD_FORMAT,
    RECORD_JSON,
    ROOT_CRL,
    STATE_AWAITING_IMPORT,
    STATE_COMPLETE,
    CaMaterial,
    load_ca_material,
)
from issuer.ca.profiles import (
    SigningKey,
    Validity,
    root_profile,
    signature_hash,
    x509_name,
)
from issuer.x509util import key_usage


@dataclass(frozen=True, kw_only=True)
class CeremonyResult:
    """What a ceremony run made. ``material`` is None while an external root is awaited."""

    state: str
    ca_dir: Path
    files: tuple[Path, ...]
    key_labels: tuple[str, ...]
    csr_path: Path | None
    material: CaMaterial | None


def run_ceremony(
    config: CeremonyConfig,
    hsm: CeremonyToken,
    out: Out = print,
    *,
    clock: Clock = utcnow,
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
    files = [*final_files(config), d / ROOT_CRL, d / ISSUING_CA_CSR, d / RECORD_JSON]
    rollback.refuse_existing_files(files)
    rollback.refuse_existing_keys(hsm, list(config.key_labels()), config.hsm.token)
    out("  - checked: no key label in use on the token, no file present in the data directory")
    journal = rollback.Journal(hsm, out)
    if external:
        return _run_external_first_step(config, hsm, journal, now)

    root_cfg = config.root
    assert root_cfg.key_label and root_cfg.key_spec and root_cfg.subject and root_cfg.validity_days
    assert root_cfg.crl_next_update_days
    ica = config.issuing_ca
    with rollback.all_or_nothing(journal):
        with journal.running(f"generate root key {root_cfg.key_label!r} ({root_cfg.key_spec})"):
            root_key = rollback.generate(hsm, root_cfg.key_label, root_cfg.key_spec, journal)
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
            issuing_key = rollback.generate(hsm, ica.key_label, ica.key_spec, journal)
        with journal.running("sign the issuing CA certificate with the root key"):
            issuing_pub = issuing_key.public_key()
            issuing = sign_linted(
                issuing_builder(config, issuing_pub, root, now),
                issuer_key=root_key,
                issuer_cert=root,
                subject_key=issuing_pub,
                what="issuing CA",
            )
        ocsp_cert, audit_pub = make_ocsp_and_audit(config, hsm, journal, issuing, issuing_key, now)
        written = write_hierarchy(config, journal, root, issuing, ocsp_cert, audit_pub)
        root_crl = make_first_arl(
            journal,
            d,
            root=root,
            root_key=root_key,
            now=now,
            next_update_days=root_cfg.crl_next_update_days,
        )
        record = complete_record(
            config,
            created=now.isoformat(),
            now=now,
            root=root,
            issuing=issuing,
            ocsp_cert=ocsp_cert,
            audit_pub=audit_pub,
            events=[{"at": now.isoformat(), "event": "ceremony", "root_mode": "self-signed"}],
        )
        record["root_crl"] = root_crl
        with journal.running(f"write the ceremony record {d / RECORD_JSON}"):
            rollback.write_new(d / RECORD_JSON, record_json(record), journal)
        with journal.running("check the written files read back as one chain"):
            material = load_ca_material(config.data_dir)
    print_summary(out, material)
    return CeremonyResult(
        state=STATE_COMPLETE,
        ca_dir=d,
        files=(*written, d / ROOT_CRL, d / RECORD_JSON),
        key_labels=config.key_labels(),
        csr_path=None,
        material=material,
    )


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
    config: CeremonyConfig, token: CeremonyToken, journal: rollback.Journal, now: datetime
) -> CeremonyResult:
    d = config.ca_dir
    ica = config.issuing_ca
    with rollback.all_or_nothing(journal):
        with journal.running(f"generate issuing CA key {ica.key_label!r} ({ica.key_spec})"):
            key = rollback.generate(token, ica.key_label, ica.key_spec, journal)
        with journal.running(f"write the CSR for the external root to {d / ISSUING_CA_CSR}"):
            csr = _csr_for_issuing_ca(config, key)
            if not csr.is_signature_valid:
                raise CeremonyError("the CSR the token signed does not verify; report a bug")
            rollback.write_new(d / ISSUING_CA_CSR, csr.public_bytes(Encoding.PEM), journal)
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
                "spki_sha256": spki_sha256(key.public_key()),
            },
            "events": [{"at": now.isoformat(), "event": "ceremony", "root_mode": "external"}],
        }
        with journal.running(f"write the ceremony record {d / RECORD_JSON}"):
            rollback.write_new(d / RECORD_JSON, record_json(record), journal)
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
