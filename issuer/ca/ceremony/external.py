"""``zorgid ca import-issuing``: the external root's certificate checked, the hierarchy finished."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtensionOID

from issuer.ca.ceremony import rollback
from issuer.ca.ceremony.hierarchy import (
    cert_entry,
    cert_key,
    complete_record,
    der,
    final_files,
    make_ocsp_and_audit,
    pem,
    print_summary,
    record_json,
    spki_sha256,
    utcnow,
    write_hierarchy,
)
from issuer.ca.ceremony.rollback import CeremonyToken, Clock, Out
from issuer.ca.ceremony.run import CeremonyResult
from issuer.ca.config import CeremonyConfig, RootMode
from issuer.ca.errors import (
    ImportRefused,
    KeyMismatch,
    LintFailed,
)
from issuer.ca.lint import lint_certificate, lint_chain_pair
from issuer.ca.material import (
    INTERMEDIATES_PEM,
    ISSUING_CA_CSR,
    RECORD_JSON,
    STATE_AWAITING_IMPORT,
    STATE_COMPLETE,
    load_ca_material,
    read_record,
)
from issuer.ca.profiles import (
    same_public_key,
    x509_name,
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
        findings = lint_chain_pair(der(parent), der(child))
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
        findings = lint_certificate(der(cert))
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
    clock: Clock = utcnow,
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
    rollback.refuse_existing_files(final_files(config))
    rollback.refuse_existing_keys(
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
            f"public key sha256:{spki_sha256(cert_key(issuing))}, but token key "
            f"{ica.key_label!r} is sha256:{spki_sha256(token_pub)}; expected the certificate "
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

    journal = rollback.Journal(hsm, out)
    old_record = record_path.read_bytes()
    with rollback.all_or_nothing(journal):
        ocsp_cert, audit_pub = make_ocsp_and_audit(config, hsm, journal, issuing, issuing_key, now)
        written = write_hierarchy(config, journal, root, issuing, ocsp_cert, audit_pub)
        if chain:
            with journal.running(f"write {d / INTERMEDIATES_PEM}"):
                rollback.write_new(d / INTERMEDIATES_PEM, b"".join(pem(c) for c in chain), journal)
                written.append(d / INTERMEDIATES_PEM)
        events = list(record.get("events", []))
        events.append({"at": now.isoformat(), "event": "import-issuing-ca"})
        new_record = complete_record(
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
        new_record["intermediates"] = [cert_entry(c, INTERMEDIATES_PEM, None, None) for c in chain]
        with journal.running(f"update the ceremony record {record_path}"):
            journal.file_replaced(record_path, old_record)
            rollback.atomic_replace(record_path, record_json(new_record))
        with journal.running("check the written files read back as one chain"):
            material = load_ca_material(config.data_dir)
    print_summary(out, material)
    return CeremonyResult(
        state=STATE_COMPLETE,
        ca_dir=d,
        files=(*written, record_path),
        key_labels=(config.ocsp_responder.key_label, config.audit.key_label),
        csr_path=d / ISSUING_CA_CSR,
        material=material,
    )


def read_pem_file(path: Path) -> bytes:
    """Read a certificate file offered for import, naming it in the error."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"cannot read {path}: {exc.strerror or exc}") from None
