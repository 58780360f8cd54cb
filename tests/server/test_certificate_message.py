"""The protobuf form of a stored certificate: timestamps exactly as ``FromDatetime`` made them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from issuer.api.zorgid.v1 import certificate_pb2
from issuer.issuance.records import IssuedCertificate
from issuer.server.certificate_service import _ts, certificate_message

MOMENTS = [
    datetime(2026, 11, 28, 16, 23, 8, 123456, tzinfo=UTC),
    datetime(2026, 11, 28, 16, 23, 8, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before the epoch: nanos >= 0
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=2))),  # another offset
    datetime(2026, 11, 28, 16, 23, 8, 5),  # naive: UTC, as FromDatetime reads it
]


@pytest.mark.parametrize("value", MOMENTS)
def test_timestamps_match_from_datetime(value: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(value)
    got = _ts(value)
    assert got == expected
    assert got is not None and 0 <= got.nanos < 1_000_000_000


def test_no_value_is_no_timestamp() -> None:
    assert _ts(None) is None


def test_certificate_message_carries_the_stored_fields() -> None:
    start = datetime(2026, 11, 28, 16, 23, 8, 123456, tzinfo=UTC)
    cert = IssuedCertificate(
        id="id-1",
        issuer="issuer-1",
        serial="1f",
        der=b"\x30\x03\x02\x01\x01",
        not_before=start,
        not_after=start + timedelta(days=365),
        status="revoked",
        policy_version=4,
        spki_sha256="00" * 32,
        person_id="person-1",
        mobile_id_id=None,
        registration_id="reg-1",
        issued_at=start,
        revoked_at=start + timedelta(days=1, microseconds=7),
        revocation_reason="keyCompromise",
    )
    message = certificate_message(cert)
    assert message.not_before.ToDatetime(tzinfo=UTC) == start
    assert message.not_after.ToDatetime(tzinfo=UTC) == start + timedelta(days=365)
    assert message.revoked_at.ToDatetime(tzinfo=UTC) == start + timedelta(days=1, microseconds=7)
    assert message.status == certificate_pb2.CERTIFICATE_STATUS_REVOKED
    assert (message.serial, message.der, message.policy_version) == ("1f", cert.der, 4)
    assert (message.person_id, message.mobile_id, message.issuer_id) == ("person-1", "", "issuer-1")


def test_a_hold_of_the_uzi_watch_is_reported_as_certificate_hold() -> None:
    """The watch's certificateHold (6) is a reason a stored certificate can carry."""
    start = datetime(2026, 11, 28, tzinfo=UTC)
    cert = IssuedCertificate(
        id="id-2",
        issuer="issuer-1",
        serial="2f",
        der=b"\x30\x03\x02\x01\x01",
        not_before=start,
        not_after=start + timedelta(days=365),
        status="revoked",
        policy_version=4,
        spki_sha256="00" * 32,
        person_id=None,
        mobile_id_id=None,
        registration_id=None,
        issued_at=start,
        revoked_at=start + timedelta(days=1),
        revocation_reason="certificateHold",
    )
    message = certificate_message(cert)
    assert message.revocation_reason == certificate_pb2.REVOCATION_REASON_CERTIFICATE_HOLD == 6


@pytest.mark.parametrize("asked", [6, "certificateHold"])
def test_nobody_asks_for_a_hold(asked: int | str) -> None:
    """RevokeCertificate and ``zorgid certs revoke`` refuse certificateHold: the watch alone
    holds."""
    from issuer.errors import ZorgIdError
    from issuer.issuance.certificates import reason_name

    with pytest.raises(ZorgIdError, match="expected one of"):
        reason_name(asked)
