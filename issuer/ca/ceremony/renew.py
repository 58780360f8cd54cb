"""``zorgid ca renew-ocsp``: a fresh OCSP responder certificate, the old one kept beside it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from issuer.ca.ceremony import rollback
from issuer.ca.ceremony.hierarchy import (
    cert_entry,
    pem,
    record_json,
    sign_linted,
    utcnow,
)
from issuer.ca.ceremony.lock import renewal_lock
from issuer.ca.ceremony.rollback import CeremonyToken, Clock, Out
from issuer.ca.config import CeremonyConfig, OcspResponderConfig, SubjectName
from issuer.ca.errors import KeyMismatch
from issuer.ca.material import (
    ISSUING_CA_PEM,
    OCSP_RESPONDER_PEM,
    RECORD_JSON,
    load_ca_material,
    ocsp_archive_name,
    read_record,
)
from issuer.ca.profiles import (
    Validity,
    ocsp_responder_profile,
    same_public_key,
)

_LOG = logging.getLogger(__name__)

#: Renew when less than this is left. Ten days is a third of the dev responder's
#: 30 days: a daily run has ten chances before OCSP clients start refusing.
DEFAULT_RENEW_BEFORE = timedelta(days=10)


@dataclass(frozen=True, kw_only=True)
class RenewResult:
    """A renewed OCSP responder certificate and where the previous one was kept."""

    certificate: x509.Certificate
    path: Path
    archived: Path
    key_label: str
    new_key: bool


def renew_ocsp(
    config: CeremonyConfig,
    hsm: CeremonyToken,
    *,
    new_key: bool,
    out: Out = print,
    clock: Clock = utcnow,
    reason: str | None = None,
) -> RenewResult:
    """Issue a fresh OCSP responder certificate; keep the old one as ``ocsp-responder-<serial>``.

    ``new_key=False`` certifies the current responder key again;
    ``new_key=True`` generates a key labelled ``<key_label>-<UTC time>`` (a
    label is never reused, so the old key stays usable for responses already
    being served until its certificate expires). *reason*, if given, is
    written in the record's ``renew-ocsp`` event. The record's
    ``ocsp_responder.key_label`` names the key to sign with from now on;
    :func:`load_ca_material` returns it. All or nothing, like the ceremony.
    """
    return renew_responder(
        config.data_dir,
        hsm,
        config.ocsp_responder,
        token=config.hsm.token,
        new_key=new_key,
        out=out,
        clock=clock,
        reason=reason,
    )


def renew_responder(
    data_dir: Path,
    hsm: CeremonyToken,
    base: OcspResponderConfig,
    *,
    token: str,
    new_key: bool,
    out: Out = print,
    clock: Clock = utcnow,
    reason: str | None = None,
) -> RenewResult:
    """:func:`renew_ocsp` from its parts: the engine's OCSP process renews without a
    ceremony file (:func:`current_responder_config`)."""
    now = clock()
    material = load_ca_material(data_dir)
    d = material.ca_dir
    record_path = d / RECORD_JSON
    record = read_record(d)
    old = material.ocsp_responder
    archive = d / ocsp_archive_name(old.serial_number)
    rollback.refuse_existing_files([archive])
    issuing_key = hsm.get_key(material.issuing_ca_key_label)
    if not same_public_key(material.issuing_ca, issuing_key.public_key()):
        raise KeyMismatch(
            f"token key {material.issuing_ca_key_label!r} is not the key of {d / ISSUING_CA_PEM}; "
            "expected the issuing CA key. Check [hsm] token in the ceremony file."
        )
    label = (
        f"{base.key_label}-{now:%Y%m%dT%H%M%SZ}" if new_key else material.ocsp_responder_key_label
    )
    if new_key:
        rollback.refuse_existing_keys(hsm, [label], token)
    out(f"Renewing the OCSP responder certificate in {d} ({'new key' if new_key else 'same key'})")
    journal = rollback.Journal(hsm, out)
    old_pem = (d / OCSP_RESPONDER_PEM).read_bytes()
    old_record = record_path.read_bytes()
    with rollback.all_or_nothing(journal):
        if new_key:
            with journal.running(f"generate OCSP responder key {label!r} ({base.key_spec})"):
                key = rollback.generate(hsm, label, base.key_spec, journal)
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
            rollback.write_new(archive, old_pem, journal)
        with journal.running(f"replace {d / OCSP_RESPONDER_PEM}"):
            journal.file_replaced(d / OCSP_RESPONDER_PEM, old_pem)
            rollback.atomic_replace(d / OCSP_RESPONDER_PEM, pem(cert))
        with journal.running(f"update the ceremony record {record_path}"):
            previous = record.get("ocsp_responder", {})
            record["ocsp_responder"] = cert_entry(cert, OCSP_RESPONDER_PEM, label, base.key_spec)
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
                    **({"reason": reason} if reason else {}),
                }
            )
            journal.file_replaced(record_path, old_record)
            rollback.atomic_replace(record_path, record_json(record))
        with journal.running("check the written files read back as one chain"):
            load_ca_material(data_dir)
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


def renew_ocsp_if_due(
    config: CeremonyConfig,
    open_hsm: Callable[[], CeremonyToken],
    *,
    renew_before: timedelta = DEFAULT_RENEW_BEFORE,
    new_key: bool = False,
    out: Out = print,
    clock: Clock = utcnow,
) -> RenewResult | None:
    """Renew the responder certificate if less than *renew_before* of it is left, else nothing.

    Meant to run often (cron, ``zorgid ca renew-ocsp --if-due``): the token is
    opened (*open_hsm*) only when a renewal is due, and a renewed certificate is
    not due again, so repeated runs renew once. The check and the renewal hold the CA
    directory's renewal lock (:func:`~issuer.ca.ceremony.lock.renewal_lock`), the one the
    OCSP process's renewal takes, so runs that find it due together renew once. One INFO
    log line says what changed.
    """
    with renewal_lock(load_ca_material(config.data_dir).ca_dir):
        now = clock()
        old = load_ca_material(config.data_dir).ocsp_responder
        left = old.not_valid_after_utc - now
        if left >= renew_before:
            out(
                f"OCSP responder certificate {old.serial_number:x} valid until "
                f"{old.not_valid_after_utc.isoformat()} ({left.days} days left): not due "
                f"(renews below {renew_before.days} days)"
            )
            return None
        result = renew_ocsp(
            config,
            open_hsm(),
            new_key=new_key,
            out=out,
            clock=lambda: now,
            reason=f"due: {left.days} days left, renews below {renew_before.days}",
        )
    new = result.certificate
    _LOG.info(
        "OCSP responder certificate renewed: serial %x notAfter %s -> serial %x notAfter %s",
        old.serial_number,
        old.not_valid_after_utc.isoformat(),
        new.serial_number,
        new.not_valid_after_utc.isoformat(),
    )
    return result


def current_responder_config(data_dir: Path) -> OcspResponderConfig:
    """The responder as it is now (subject, key, key type, lifetime), to renew it alike.

    Why: the OCSP process has no ceremony file; the certificate and the ceremony
    record say everything a same-key renewal needs.
    """
    material = load_ca_material(data_dir)
    cert = material.ocsp_responder
    entry = read_record(material.ca_dir).get("ocsp_responder", {})

    def name(oid: x509.ObjectIdentifier) -> str:
        return str(cert.subject.get_attributes_for_oid(oid)[0].value)

    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    return OcspResponderConfig(
        key_label=material.ocsp_responder_key_label,
        key_spec=str(entry["key_spec"]),
        subject=SubjectName(
            country=name(NameOID.COUNTRY_NAME),
            organization=name(NameOID.ORGANIZATION_NAME),
            common_name=name(NameOID.COMMON_NAME),
        ),
        validity_days=max(1, round(life / timedelta(days=1))),
    )
