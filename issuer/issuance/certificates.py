"""Reading and revoking issued certificates (CertificateService, ``zorgid certs``).

Revocation (RFC 5280 §5.3.1 reasons) is a state change: it is written with
its audit event in one transaction, once (the first time and reason stay,
§5.3.2 / ``issuer.store.repo.revoke_certificate``), and the OCSP/CRL side is
told afterwards through :meth:`CertificateHooks.on_revoked`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography import x509

from issuer.audit import AuditEvent, AuditLog, JsonValue
from issuer.errors import Code, ZorgIdError
from issuer.issuance.records import Actor, CertificateHooks, IssuedCertificate, NoHooks
from issuer.store import Connection, Engine
from issuer.store import certificates as store
from issuer.store.registrations import card_of
from issuer.store.repo import REVOCATION_REASONS, revoke_certificate
from issuer.store.transactions import read_transaction, write_transaction

_LOG = logging.getLogger(__name__)

REASON_CODES: dict[str, int] = {
    "unspecified": 0,
    "keyCompromise": 1,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "privilegeWithdrawn": 9,
}
"""RFC 5280 §5.3.1 CRLReason numbers of the reasons this engine accepts."""
REASON_NAMES = {code: name for name, code in REASON_CODES.items()}


def reason_name(code_or_name: int | str) -> str:
    """The RFC 5280 name of a reason given by number or name; ZID-1211 otherwise."""
    name = REASON_NAMES.get(code_or_name) if isinstance(code_or_name, int) else code_or_name
    if name is None or name not in REVOCATION_REASONS:
        raise ZorgIdError(
            Code.ZID_1211,
            f"got reason {code_or_name!r}; expected one of "
            f"{', '.join(f'{n} ({c})' for n, c in REASON_CODES.items())}",
        )
    return name


def get_certificate(
    engine: Engine,
    *,
    certificate_id: str | None = None,
    serial: str | None = None,
    acting_portal: str | None = None,
) -> IssuedCertificate:
    """One certificate by id or by serial (hex, any case, leading zeros ignored).

    With ``acting_portal`` (a portal's identity) only one of a person that
    portal acts for: another is "not found" (ZID-1210), as an unknown one, so
    a portal learns nothing of other portals' persons. ``None`` is for the
    operator, the auditor and the engine itself.
    """
    if (certificate_id is None) == (serial is None):
        raise ZorgIdError(Code.ZID_0005, "give exactly one of id or serial")
    if serial is not None:
        try:
            normal = format(int(serial, 16), "x")
        except ValueError:
            raise ZorgIdError(Code.ZID_0005, f"serial {serial[:48]!r} is not hexadecimal") from None
        what = f"serial {normal}"
    else:
        normal = None
        what = f"id {certificate_id}"
    found = store.find_certificate(
        engine, certificate_id=certificate_id, serial=normal, acting_portal=acting_portal
    )
    if found is None:
        raise ZorgIdError(Code.ZID_1210, f"no certificate with {what}")
    return IssuedCertificate.from_row(found)


def validity_reason(engine: Engine, cert: IssuedCertificate) -> str:
    """Why the certificate's notAfter is what it is (``zorgid certs show``, issue 18).

    The cycle chose the earlier of the policy's validity and the notAfter of
    the UZI-pas certificate the registration recorded: "capped by UZI-pas
    <card serial, hex> notAfter" when the certificate ends at the card's date,
    else "policy <N> days" (notBefore to notAfter; the backdate, at most an
    hour, rounds away).
    """
    card_end: datetime | None = None
    card_der: bytes | None = None
    if cert.registration_id is not None:
        with read_transaction(engine) as conn:
            card_end, card_der = card_of(conn, cert.registration_id)
    if card_end is not None and card_der is not None and cert.not_after == card_end:
        serial = x509.load_der_x509_certificate(card_der).serial_number
        return f"capped by UZI-pas {serial:x} notAfter"
    days = round((cert.not_after - cert.not_before).total_seconds() / 86400)
    return f"policy {days} days"


def list_certificates(
    engine: Engine,
    *,
    person_id: str | None = None,
    mobile_id_id: str | None = None,
    acting_portal: str | None = None,
) -> list[IssuedCertificate]:
    """Certificates of one person or one mobile ID, newest first.

    ``acting_portal`` as for :func:`get_certificate`: a portal gets an empty
    list for a person it does not act for, as for an unknown one.
    """
    if (person_id is None) == (mobile_id_id is None):
        raise ZorgIdError(Code.ZID_0005, "give exactly one of person_id or mobile_id")
    rows = store.certificates_of(
        engine, person_id=person_id, mobile_id_id=mobile_id_id, acting_portal=acting_portal
    )
    return [IssuedCertificate.from_row(row) for row in rows]


def stale_reservations(engine: Engine, *, older_than: datetime) -> list[store.Row]:
    """Reservations still ``reserved`` before *older_than*: issuances a crash interrupted."""
    return store.stale_reservations(engine, older_than=older_than)


def revoke(
    engine: Engine,
    audit: AuditLog,
    *,
    certificate_id: str,
    reason: int | str,
    actor: Actor,
    hooks: CertificateHooks | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> IssuedCertificate:
    """Revoke once, audit it in the same transaction, then tell OCSP/CRL (``on_revoked``).

    keyCompromise is about the key, not one certificate (issue 16 item 6): every
    other good certificate of the same key is revoked with it, for the same
    reason, in the same transaction, each with its own audit event (Boulder
    does the same); the issuance cycle then refuses the key for good (ZID-1850).
    """
    name = reason_name(reason)
    cert = get_certificate(engine, certificate_id=certificate_id)
    now = clock()
    with write_transaction(engine) as conn:
        if not revoke_certificate(
            conn, issuer=cert.issuer, serial=cert.serial, at=now, reason=name
        ):
            raise ZorgIdError(
                Code.ZID_1212, f"certificate {cert.id} (serial {cert.serial}) was revoked already"
            )
        _audit_revoked(conn, audit, actor, cert, name)
        siblings = []
        if name == "keyCompromise":
            # After the append, which holds the audit head lock that step 4 of the
            # cycle holds while it re-checks the key: a certificate of this key
            # stored meanwhile is committed and seen here (PostgreSQL; SQLite has
            # one writer).
            for row in store.good_certificates_of_key(conn, cert.spki_sha256):
                sibling = IssuedCertificate.from_row(row)
                if revoke_certificate(
                    conn, issuer=sibling.issuer, serial=sibling.serial, at=now, reason=name
                ):
                    _audit_revoked(conn, audit, actor, sibling, name, same_key_as=cert.id)
                    siblings.append(sibling.id)
    revoked = get_certificate(engine, certificate_id=certificate_id)
    for done in [revoked, *(get_certificate(engine, certificate_id=i) for i in siblings)]:
        try:
            (hooks or NoHooks()).on_revoked(done)
        except Exception:
            _LOG.exception("on_revoked hook failed for serial %s (revocation stays)", done.serial)
    return revoked


def _audit_revoked(
    conn: Connection,
    audit: AuditLog,
    actor: Actor,
    cert: IssuedCertificate,
    name: str,
    *,
    same_key_as: str | None = None,
) -> None:
    """The ``certificate.revoke`` event; ``same_key_as`` names the keyCompromise that caused it."""
    details: dict[str, JsonValue] = {
        "certificate_id": cert.id,
        "serial": cert.serial,
        "reason": name,
        "reason_code": REASON_CODES[name],
    }
    if same_key_as is not None:
        details["same_key_as"] = same_key_as
    audit.append(
        conn,
        AuditEvent(
            actor_role=actor.role,
            actor_identity=actor.identity,
            action="certificate.revoke",
            subject=f"certificate:{cert.issuer[:16]}:{cert.serial}",
            details=details,
        ),
    )


def lint_scan(
    engine: Engine, *, issued_after: datetime | None = None
) -> list[tuple[IssuedCertificate, list[str]]]:
    """pkilint every stored certificate (issued after *issued_after*); findings >= WARNING.

    The conformance scan of ARCHITECTURE §5 step 3: the cycle fast-lints each
    certificate and pkilints each profile at activation; this re-checks what
    was actually issued with the reference linter, off the hot path (cron or
    ``zorgid issuance lint-scan``). An empty result means every one passed.
    """
    from issuer.lint import Severity, at_or_above, pkilint_cert

    bad: list[tuple[IssuedCertificate, list[str]]] = []
    for row in store.certificates_issued_after(engine, issued_after):
        cert = IssuedCertificate.from_row(row)
        findings = at_or_above(pkilint_cert(cert.der), Severity.WARNING)
        if findings:
            bad.append((cert, [str(f) for f in findings]))
    return bad
