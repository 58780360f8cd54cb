"""Mobile IDs and their certificates, as the portal flows read them.

A mobile ID (``mobile_ids``) is a phone key of a person; its certificates
(``certificates``) carry the person's attributes. The flows ask: which
certificate is current for a key, a mobile ID or a person (the newest
``good`` one), and is a certificate one this engine issued. Storing and
revoking certificates is the issuance cycle's (:mod:`issuer.store.repo`,
:mod:`issuer.store.issuance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from issuer.store.records import record, record_or_none
from issuer.store.schema import certificates, mobile_ids


@dataclass(frozen=True, kw_only=True)
class MobileIdRecord:
    """A ``mobile_ids`` row."""

    id: str
    person_id: str
    spki_sha256: str
    public_key: bytes
    """SubjectPublicKeyInfo DER."""
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class StoredCertificate:
    """A ``certificates`` row (``IssuedCertificate.from_row`` reads it)."""

    id: str
    issuer: str
    serial: str
    der: bytes
    not_before: datetime
    not_after: datetime
    status: str
    """good | revoked."""
    revoked_at: datetime | None
    revocation_reason: str | None
    policy_version: int
    spki_sha256: str
    mobile_id_id: str | None
    person_id: str | None
    registration_id: str | None
    superseded_by: str | None
    issued_at: datetime
    held_by: str | None = None
    """Who placed a ``certificateHold`` (migration 0009); None otherwise."""
    usage: str = "mobile-id"
    """What the certificate is for (migration 0010; ``CertificateUsage`` values)."""


def get_mobile_id(conn: sa.Connection, mobile_id: str) -> MobileIdRecord:
    """The mobile ID of this id (it exists: a login session names it)."""
    row = conn.execute(sa.select(mobile_ids).where(mobile_ids.c.id == mobile_id)).one()
    return record(MobileIdRecord, row)


def public_key_of(conn: sa.Connection, spki_sha256: str) -> bytes | None:
    """The stored public key (SPKI DER) of the mobile ID with this key hash, or None."""
    der: Any = conn.execute(
        sa.select(mobile_ids.c.public_key).where(mobile_ids.c.spki_sha256 == spki_sha256)
    ).scalar_one_or_none()
    return None if der is None else bytes(der)


def certificate_by_id(conn: sa.Connection, certificate_id: str) -> StoredCertificate:
    """The certificate of this id (it exists: a challenge or certificate names it)."""
    row = conn.execute(sa.select(certificates).where(certificates.c.id == certificate_id)).one()
    return record(StoredCertificate, row)


def certificates_by_ids(conn: sa.Connection, ids: Sequence[str]) -> list[StoredCertificate]:
    """The certificates of these ids, in no particular order."""
    rows = conn.execute(sa.select(certificates).where(certificates.c.id.in_(list(ids))))
    return [record(StoredCertificate, row) for row in rows]


def certificate_by_serial(
    conn: sa.Connection, *, issuer: str, serial: str
) -> StoredCertificate | None:
    """The certificate *issuer* issued with this serial (hex), or None."""
    row = conn.execute(
        sa.select(certificates).where(
            certificates.c.issuer == issuer, certificates.c.serial == serial
        )
    ).first()
    return record_or_none(StoredCertificate, row)


def _newest_good(conn: sa.Connection, where: sa.ColumnElement[bool]) -> StoredCertificate | None:
    row = conn.execute(
        sa.select(certificates)
        .where(where, certificates.c.status == "good")
        .order_by(certificates.c.issued_at.desc())
    ).first()
    return record_or_none(StoredCertificate, row)


def newest_good_of_mobile_id(conn: sa.Connection, mobile_id: str) -> StoredCertificate | None:
    """The mobile ID's newest good certificate, or None."""
    return _newest_good(conn, certificates.c.mobile_id_id == mobile_id)


def newest_good_of_key(conn: sa.Connection, spki_sha256: str) -> StoredCertificate | None:
    """The newest good certificate for a key (by SPKI SHA-256), or None."""
    return _newest_good(conn, certificates.c.spki_sha256 == spki_sha256)


def newest_good_of_person(conn: sa.Connection, person_id: str) -> StoredCertificate | None:
    """The person's newest good certificate (their current mobile ID), or None."""
    return _newest_good(conn, certificates.c.person_id == person_id)


def good_of_person(conn: sa.Connection, person_id: str) -> list[StoredCertificate]:
    """The person's good certificates, in no particular order."""
    rows = conn.execute(
        sa.select(certificates).where(
            certificates.c.person_id == person_id, certificates.c.status == "good"
        )
    )
    return [record(StoredCertificate, row) for row in rows]


def good_ids_of_person(conn: sa.Connection, person_id: str) -> list[str]:
    """Ids of the person's good certificates, oldest first."""
    return list(
        conn.execute(
            sa.select(certificates.c.id)
            .where(certificates.c.person_id == person_id, certificates.c.status == "good")
            .order_by(certificates.c.issued_at)
        ).scalars()
    )


def has_good_certificate(conn: sa.Connection, mobile_id: str) -> bool:
    """Whether the mobile ID still has a certificate that is not revoked."""
    good = conn.execute(
        sa.select(certificates.c.id).where(
            certificates.c.mobile_id_id == mobile_id, certificates.c.status == "good"
        )
    ).first()
    return good is not None


def mark_superseded(conn: sa.Connection, *, certificate_id: str, by: str) -> None:
    """Point a (revoked) certificate at the certificate that replaced it."""
    conn.execute(
        certificates.update().where(certificates.c.id == certificate_id).values(superseded_by=by)
    )
