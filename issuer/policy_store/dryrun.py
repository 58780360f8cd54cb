"""The evidence a dry run replays: recent registrations and the certificates issued for them.

:meth:`issuer.policy_store.PolicyStore.dry_run` feeds these to
:func:`policies.dryrun.dry_run`, which says which of them a proposed version
would have refused; the SQL is :func:`issuer.store.policies.recorded_request_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from issuer.store import Connection
from issuer.store.policies import recorded_request_rows
from policies.dryrun import RecordedRequest

__all__ = ["recorded_requests"]


def _key_facts(der: bytes) -> tuple[str | None, int | None, int, str | None]:
    cert = x509.load_der_x509_certificate(der)
    key = cert.public_key()
    kind: str | None = None
    bits: int | None = None
    if isinstance(key, ec.EllipticCurvePublicKey):
        kind = {"secp256r1": "ec-p256", "secp384r1": "ec-p384"}.get(key.curve.name, key.curve.name)
    elif isinstance(key, rsa.RSAPublicKey):
        kind, bits = "rsa", key.key_size
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc) // dt.timedelta(days=1)
    algorithm = cert.signature_hash_algorithm
    return kind, bits, days, algorithm.name if algorithm is not None else None


def recorded_requests(
    conn: Connection, *, since: dt.datetime, limit: int = 1000
) -> Iterator[RecordedRequest]:
    """The evidence a dry run reads: confirmed/redeemed registrations since ``since``.

    From ``registrations``: ``frozen_data`` (the verified UZI attributes:
    ``card_type``, ``role``), ``confirmed_at`` (else ``created_at``),
    ``policy_version``. From the certificate issued for it
    (``certificates.registration_id``), if any: key type and size, validity in
    whole days and signature hash, read from the DER itself.
    """
    for row in recorded_request_rows(conn, since=since, limit=limit):
        data = row.frozen_data or {}
        kind = bits = days = algorithm = None
        if row.der is not None:
            kind, bits, days, algorithm = _key_facts(row.der)
        yield RecordedRequest(
            request_id=row.id,
            at=row.confirmed_at or row.created_at,
            card_type=str(data.get("card_type", "")),
            role=str(data.get("role", "")),
            key_kind=kind,
            rsa_bits=bits,
            validity_days=days,
            signature_hash=algorithm,
            policy_version=row.cert_policy_version or row.policy_version,
        )
