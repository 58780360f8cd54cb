"""The root's CRL (ARL, RFC 5280 §5): made at the ceremony, renewed before its nextUpdate.

A relying party that checks revocation of the whole chain (``openssl verify
-crl_check_all``) fetches the CRL named by the issuing CA certificate's CRL DP: the
root's. Only a self-signed root is ours to sign for; an external root's operator
publishes its own. The ARL lists the issuing CAs the root revoked (none unless the
record's ``root_crl.revoked`` names them) and lives in ``<data_dir>/ca/root.crl``
(DER, 0644); its number, times and entries are kept in ``ceremony.json``
(``root_crl``), numbers strictly increasing (§5.2.3).

Like the certificates, it is built once, signed with a throwaway key of the same
type and linted with pkilint; then the root key on the token signs the same
to-be-signed bytes and the signature is verified under the root certificate.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from issuer.ca.ceremony import rollback
from issuer.ca.ceremony.hierarchy import cert_key, record_json, throwaway_like, utcnow
from issuer.ca.ceremony.lock import renewal_lock
from issuer.ca.ceremony.rollback import CeremonyToken, Clock, Out
from issuer.ca.config import DEFAULT_ARL_NEXT_UPDATE_DAYS, RootMode
from issuer.ca.errors import CeremonyError, KeyMismatch, LintFailed
from issuer.ca.lint import lint_crl
from issuer.ca.material import RECORD_JSON, ROOT_CRL, load_ca_material, read_record
from issuer.ca.profiles import SigningKey, same_public_key, signature_hash

_LOG = logging.getLogger(__name__)

#: RFC 5280 §5.3.1 reason names a record's ``revoked`` entry may carry.
_REASONS: dict[str, x509.ReasonFlags] = {
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
}


@dataclass(frozen=True, kw_only=True)
class ArlResult:
    """A freshly signed root CRL and where it was written."""

    crl: x509.CertificateRevocationList
    path: Path
    number: int
    previous_number: int | None
    previous_next_update: datetime | None


def sign_arl(
    *,
    root: x509.Certificate,
    root_key: SigningKey,
    number: int,
    now: datetime,
    next_update_days: int,
    revoked: Sequence[Mapping[str, Any]] = (),
) -> x509.CertificateRevocationList:
    """Build, lint, have the token sign and verify the root's CRL numbered *number*.

    *revoked*: the record's entries (``serial`` hex, ``revoked_at`` ISO time,
    optional ``reason``). Raises :class:`LintFailed` on a pkilint finding at
    WARNING or above, :class:`CeremonyError` when the token's signature does not
    verify under *root*.
    """
    this_update = now.replace(microsecond=0)
    ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(this_update)
        .next_update(this_update + timedelta(days=next_update_days))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(_revoked_entry(entry))
    algorithm = signature_hash(cert_key(root))
    draft = builder.sign(throwaway_like(root_key), algorithm)
    findings = lint_crl(draft.public_bytes(Encoding.DER))
    if findings:
        raise LintFailed("root CRL (ARL)", findings)
    crl = builder.sign(root_key, algorithm)
    if crl.tbs_certlist_bytes != draft.tbs_certlist_bytes:
        raise CeremonyError(
            "the root CRL the token signed differs from the linted one; expected identical "
            "TBSCertList bytes. Report this as a bug."
        )
    if not crl.is_signature_valid(cert_key(root)):
        raise CeremonyError(
            "the root CRL the token signed does not verify under the root certificate's key; "
            "expected the root key's signature. Check root.key_label in ceremony.json."
        )
    return crl


def _revoked_entry(entry: Mapping[str, Any]) -> x509.RevokedCertificate:
    try:
        serial = int(str(entry["serial"]), 16)
        at = datetime.fromisoformat(str(entry["revoked_at"])).replace(microsecond=0)
    except (KeyError, ValueError) as exc:
        raise CeremonyError(
            f"ceremony.json root_crl.revoked entry {dict(entry)!r} is unreadable ({exc}); "
            "expected {'serial': '<hex>', 'revoked_at': '<ISO time>', 'reason': '<name>'}"
        ) from None
    built = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(at)
    reason = entry.get("reason")
    if reason is not None and reason != "unspecified":  # §5.3.1: unspecified SHOULD be absent
        if reason not in _REASONS:
            raise CeremonyError(
                f"ceremony.json root_crl.revoked reason {reason!r}; expected one of "
                f"{', '.join(_REASONS)} or 'unspecified'"
            )
        built = built.add_extension(x509.CRLReason(_REASONS[reason]), critical=False)
    return built.build()


def crl_entry(crl: x509.CertificateRevocationList, days: int, revoked: list[Any]) -> dict[str, Any]:
    """The record's ``root_crl`` section for *crl*."""
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert crl.next_update_utc is not None
    return {
        "file": ROOT_CRL,
        "number": number,
        "this_update": crl.last_update_utc.isoformat(),
        "next_update": crl.next_update_utc.isoformat(),
        "next_update_days": days,
        "sha256": hashlib.sha256(crl.public_bytes(Encoding.DER)).hexdigest(),
        "revoked": revoked,
    }


def make_first_arl(
    journal: rollback.Journal,
    ca_dir: Path,
    *,
    root: x509.Certificate,
    root_key: SigningKey,
    now: datetime,
    next_update_days: int,
) -> dict[str, Any]:
    """The ceremony's step: CRL number 1, written in the run's journal; its record section."""
    with journal.running("sign the root's CRL (ARL) with the root key"):
        crl = sign_arl(
            root=root, root_key=root_key, number=1, now=now, next_update_days=next_update_days
        )
    with journal.running(f"write {ca_dir / ROOT_CRL}"):
        rollback.write_new(ca_dir / ROOT_CRL, crl.public_bytes(Encoding.DER), journal)
    return crl_entry(crl, next_update_days, [])


def root_key_label(record: Mapping[str, Any], ca_dir: Path) -> str:
    """The self-signed root's token label; :class:`CeremonyError` for an external root."""
    root = record.get("root")
    if not isinstance(root, dict) or root.get("mode") != RootMode.SELF_SIGNED.value:
        raise CeremonyError(
            f"{ca_dir / RECORD_JSON} names an external root: its CRL is published by the "
            "root's operator, not here. Nothing to renew."
        )
    label = root.get("key_label")
    if not isinstance(label, str) or not label:
        raise CeremonyError(f"{ca_dir / RECORD_JSON}: root.key_label missing; restore the record")
    return label


def renew_arl(
    data_dir: Path,
    hsm: CeremonyToken,
    *,
    next_update_days: int | None = None,
    out: Out = print,
    clock: Clock = utcnow,
    reason: str | None = None,
) -> ArlResult:
    """Sign the next root CRL (number + 1) and replace ``root.crl``; all or nothing.

    *next_update_days* None keeps the record's (the ceremony file's
    ``[root] crl_next_update_days`` at the ceremony). A CA made before ARLs
    existed gets its first one here (number 1). Caller holds the renewal lock.
    """
    now = clock()
    material = load_ca_material(data_dir)
    d = material.ca_dir
    record = read_record(d)
    label = root_key_label(record, d)
    key = hsm.get_key(label)
    if not same_public_key(material.root, key.public_key()):
        raise KeyMismatch(
            f"token key {label!r} is not the key of {d / 'root.pem'}; expected the root key. "
            "Check [hsm] token (the root key's token) in the ceremony file."
        )
    previous = record.get("root_crl") if isinstance(record.get("root_crl"), dict) else None
    old_number = _current_number(d / ROOT_CRL, previous)
    days = next_update_days or (previous or {}).get("next_update_days")
    days = int(days or DEFAULT_ARL_NEXT_UPDATE_DAYS)
    revoked = list((previous or {}).get("revoked", []))
    number = (old_number or 0) + 1
    out(f"Renewing the root CRL (ARL) in {d}: number {number}, next update in {days} days")
    journal = rollback.Journal(hsm, out)
    record_path = d / RECORD_JSON
    old_record = record_path.read_bytes()
    with rollback.all_or_nothing(journal):
        with journal.running("sign the root's CRL (ARL) with the root key"):
            crl = sign_arl(
                root=material.root,
                root_key=key,
                number=number,
                now=now,
                next_update_days=days,
                revoked=revoked,
            )
        der = crl.public_bytes(Encoding.DER)
        with journal.running(f"write {d / ROOT_CRL}"):
            if (d / ROOT_CRL).exists():
                journal.file_replaced(d / ROOT_CRL, (d / ROOT_CRL).read_bytes())
                rollback.atomic_replace(d / ROOT_CRL, der)
            else:
                rollback.write_new(d / ROOT_CRL, der, journal)
        with journal.running(f"update the ceremony record {record_path}"):
            record["root_crl"] = crl_entry(crl, days, revoked)
            record["updated"] = now.isoformat()
            record.setdefault("events", []).append(
                {
                    "at": now.isoformat(),
                    "event": "renew-arl",
                    "number": number,
                    **({"reason": reason} if reason else {}),
                }
            )
            journal.file_replaced(record_path, old_record)
            rollback.atomic_replace(record_path, record_json(record))
    assert crl.next_update_utc is not None
    out(
        f"Root CRL (ARL) renewed: number {number}, next update "
        f"{crl.next_update_utc.isoformat()} ({d / ROOT_CRL})"
    )
    return ArlResult(
        crl=crl,
        path=d / ROOT_CRL,
        number=number,
        previous_number=old_number,
        previous_next_update=_next_update(previous),
    )


def _current_number(path: Path, section: Mapping[str, Any] | None) -> int | None:
    """The highest number in use: the record's and the file's (never go back, §5.2.3)."""
    numbers = []
    if section is not None and isinstance(section.get("number"), int):
        numbers.append(int(section["number"]))
    try:
        crl = x509.load_der_x509_crl(path.read_bytes())
        numbers.append(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except FileNotFoundError:
        pass
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise CeremonyError(
            f"{path} is not a numbered CRL ({exc}); expected the root CRL the ceremony wrote. "
            "Restore it from the ceremony backup."
        ) from None
    return max(numbers) if numbers else None


def _next_update(section: Mapping[str, Any] | None) -> datetime | None:
    if section is None or not isinstance(section.get("next_update"), str):
        return None
    return datetime.fromisoformat(section["next_update"])


def arl_due(ca_dir: Path, now: datetime, renew_before: timedelta | None) -> tuple[bool, str]:
    """Whether the root CRL must be renewed now, and why (for the record and the output).

    Due when absent, or when less than *renew_before* is left before its
    nextUpdate; *renew_before* None: a third of its validity, so a daily run has
    about ten chances with the default 30 days before relying parties refuse it.
    """
    section = read_record(ca_dir).get("root_crl")
    if not isinstance(section, dict) or not (ca_dir / ROOT_CRL).exists():
        return True, f"no root CRL in {ca_dir}: the first one is made"
    this_update = datetime.fromisoformat(section["this_update"])
    next_update = datetime.fromisoformat(section["next_update"])
    threshold = renew_before if renew_before is not None else (next_update - this_update) / 3
    left = next_update - now
    text = (
        f"root CRL number {section['number']} next update {next_update.isoformat()} "
        f"({_days(left)} left, renews below {_days(threshold)})"
    )
    return left < threshold, text


def _days(delta: timedelta) -> str:
    return f"{delta / timedelta(days=1):.1f} days"


def renew_arl_if_due(
    data_dir: Path,
    open_hsm: Callable[[], CeremonyToken],
    *,
    renew_before: timedelta | None = None,
    next_update_days: int | None = None,
    out: Out = print,
    clock: Clock = utcnow,
) -> ArlResult | None:
    """Renew the root CRL if :func:`arl_due`, else nothing; under the renewal lock.

    Meant to run often (cron, ``zorgid ca renew-arl --if-due``, the OCSP process):
    the token is opened only when due, and the check is repeated under the lock, so
    two runs that find it due together renew once. One INFO log line says what changed.
    """
    ca_dir = load_ca_material(data_dir).ca_dir
    root_key_label(read_record(ca_dir), ca_dir)  # an external root: say so, change nothing
    with renewal_lock(ca_dir):
        now = clock()
        due, why = arl_due(ca_dir, now, renew_before)
        if not due:
            out(f"{why}: not due")
            return None
        result = renew_arl(
            data_dir,
            open_hsm(),
            next_update_days=next_update_days,
            out=out,
            clock=lambda: now,
            reason=f"due: {why}",
        )
    assert result.crl.next_update_utc is not None
    _LOG.info(
        "root CRL (ARL) renewed: number %s nextUpdate %s -> number %d nextUpdate %s",
        result.previous_number if result.previous_number is not None else "none",
        result.previous_next_update.isoformat() if result.previous_next_update else "none",
        result.number,
        result.crl.next_update_utc.isoformat(),
    )
    return result
