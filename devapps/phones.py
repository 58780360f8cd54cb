"""The Mobile App's phones and what a phone does with the engine, as the mobile gateway.

A phone is a record in ``<data-dir>/devapps/phones.json`` (name, the label of its EC P-256
key on the phones' SoftHSM token, the certificates it holds) and a key that never leaves
that token. The calls are the ones ``issuer/cli/demo_walk.py`` makes: redeem a registration
QR with a CSR, describe and answer a login QR, fetch the key's current certificate. They
block (the world's stubs are synchronous): the pages run them in a thread.
"""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.rpc import error_details_pb2, status_pb2

from devapps.world import DevWorld
from hsm import KeySpec
from issuer.errors import Code, ZorgIdError
from testkit.phone import Phone

RECORDS = "phones"
STATUS_DETAILS = "grpc-status-details-bin"
LOGIN_PREFIX = "zorgid://login"
ENROL_PREFIX = "zorgid://enroll"

_WRITING = threading.Lock()

GOOD, SUPERSEDED, NOT_GOOD = "good", "superseded", "not-good"
"""A held certificate's state as the phone last learned it from the engine."""


@dataclass(frozen=True)
class Refusal(Exception):
    """Why the engine (or the phone, reading a QR) said no: the ZID code and its texts."""

    code: str
    nl: str
    en: str


@dataclass(frozen=True)
class Asked:
    """A login QR as the engine describes it to the phone before the person accepts."""

    portal_name: str
    portal_identity: str
    expires_at: datetime


@dataclass(frozen=True)
class MobileId:
    """One certificate on a phone, as the app shows it."""

    serial: str
    name: str
    uzi_number: str
    subject: str
    not_before: datetime
    not_after: datetime
    state: str


def kind(payload: str) -> str:
    """``login``, ``enroll`` or ``other``: what a scanned QR asks of the phone."""
    text = payload.strip()
    if text.startswith(LOGIN_PREFIX + "?"):
        return "login"
    if text.startswith(ENROL_PREFIX + "?"):
        return "enroll"
    return "other"


def refusal_of(err: Exception) -> Refusal:
    """The catalogue code and texts of a refused call or of a QR the phone cannot read."""
    if isinstance(err, ZorgIdError):
        spec = err.spec
        return Refusal(
            str(err.code),
            f"{spec.cause_nl} {spec.solution_nl}",
            f"{spec.cause_en} {spec.solution_en}",
        )
    if not isinstance(err, grpc.Call):
        raise err
    code, texts = "", {}
    for key, value in err.trailing_metadata() or ():
        if key != STATUS_DETAILS or not isinstance(value, bytes):
            continue
        for detail in status_pb2.Status.FromString(value).details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                code = info.reason
            elif detail.Is(error_details_pb2.LocalizedMessage.DESCRIPTOR):
                message = error_details_pb2.LocalizedMessage()
                detail.Unpack(message)
                texts[message.locale.split("-")[0]] = message.message
    fallback = str(err.details() or err.code())
    return Refusal(
        code or str(err.code().name), texts.get("nl", fallback), texts.get("en", fallback)
    )


def _engine(call: Any, request: Any) -> Any:
    try:
        return call(request, timeout=30)
    except grpc.RpcError as err:
        raise refusal_of(err) from None


# -- records ---------------------------------------------------------------------------


def phones(world: DevWorld) -> list[dict[str, Any]]:
    return world.load(RECORDS)


def find(world: DevWorld, phone_id: str) -> dict[str, Any] | None:
    return next((p for p in phones(world) if p["id"] == phone_id), None)


def store(world: DevWorld, record: dict[str, Any]) -> None:
    """Write one phone's record back, the others as they are on disk (one writer at a time:
    two pages may finish at once in their threads)."""
    with _WRITING:
        records = phones(world)
        kept = [record if p["id"] == record["id"] else p for p in records]
        if all(p["id"] != record["id"] for p in records):
            kept.append(record)
        world.save(RECORDS, kept)


def create(world: DevWorld, name: str) -> dict[str, Any]:
    """A new phone: its key made on the phones' token, no certificate yet."""
    phone_id = secrets.token_hex(4)
    label = f"mobile-app-{phone_id}"
    Phone.create(world.phones_hsm, label, KeySpec.EC_P256)
    record: dict[str, Any] = {
        "id": phone_id,
        "name": name.strip()[:80] or f"Telefoon {phone_id}",
        "key_label": label,
        "certificates": [],
    }
    store(world, record)
    return record


def _phone(world: DevWorld, record: dict[str, Any]) -> Phone:
    label = record["key_label"]
    return Phone(hsm=world.phones_hsm, key_label=label, key=world.phones_hsm.get_key(label))


def _sign(phone: Phone, message: bytes) -> bytes:
    """ECDSA P-256 with SHA-256 on the phone's token, as the app signs in its key store."""
    if not isinstance(phone.key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"phone key {phone.key_label} is not an EC key")
    return phone.key.sign(message, ec.ECDSA(hashes.SHA256()))


def has_mobile_id(record: dict[str, Any]) -> bool:
    return any(c["state"] == GOOD for c in record["certificates"])


def _current_der(record: dict[str, Any]) -> bytes:
    held = [c for c in record["certificates"] if c["state"] == GOOD] or record["certificates"]
    return base64.b64decode(held[-1]["der"])


def mobile_ids(record: dict[str, Any]) -> list[MobileId]:
    """The phone's certificates, newest first, read from their DER."""
    shown = []
    for held in reversed(record["certificates"]):
        cert = x509.load_der_x509_certificate(base64.b64decode(held["der"]))
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        numbers = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        shown.append(
            MobileId(
                serial=held["serial"],
                name=str(names[0].value) if names else "",
                uzi_number=str(numbers[0].value) if numbers else "",
                subject=cert.subject.rfc4514_string(),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                state=held["state"],
            )
        )
    return shown


def _hold(record: dict[str, Any], serial: str, der: bytes) -> None:
    """The phone keeps ``der`` as its good certificate; an earlier good one is superseded."""
    if any(c["serial"] == serial for c in record["certificates"]):
        return
    for held in record["certificates"]:
        if held["state"] == GOOD:
            held["state"] = SUPERSEDED
    record["certificates"].append(
        {"serial": serial, "der": base64.b64encode(der).decode("ascii"), "state": GOOD}
    )


# -- the engine, as the phone ------------------------------------------------------------


def refresh(world: DevWorld, record: dict[str, Any]) -> Refusal | None:
    """Ask the engine for the key's current certificate (a reissue replaces the held one;
    none good any more -- revoked or expired -- marks them so); the refusal if any."""
    from issuer.api.zorgid.v1 import attribute_pb2
    from issuer.flows.login import current_certificate_message

    if not record["certificates"]:
        return None
    phone = _phone(world, record)
    at = datetime.now(UTC).replace(microsecond=0)
    request = attribute_pb2.GetCurrentCertificateRequest(
        spki_sha256=phone.spki_sha256,
        signature=_sign(phone, current_certificate_message(phone.spki_sha256, at)),
    )
    request.signed_at.FromDatetime(at)
    try:
        current = _engine(world.mobile.attrs.GetCurrentCertificate, request).certificate
    except Refusal as refused:
        if refused.code != Code.ZID_1811:
            return refused
        for held in record["certificates"]:
            held["state"] = NOT_GOOD
    else:
        _hold(record, current.serial, bytes(current.der))
    store(world, record)
    return None


def redeem(world: DevWorld, record: dict[str, Any], payload: str) -> MobileId:
    """Redeem a registration QR with a CSR of the phone's key; the phone keeps the result."""
    from issuer.api.zorgid.v1 import enrollment_pb2
    from issuer.enrolment.tokens import parse_enrolment_uri

    try:
        token, _host = parse_enrolment_uri(payload.strip())
    except ZorgIdError as err:
        raise refusal_of(err) from None
    redeemed = _engine(
        world.mobile.enrol.RedeemEnrollment,
        enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=_phone(world, record).csr()),
    )
    _hold(record, redeemed.certificate.serial, bytes(redeemed.certificate.der))
    store(world, record)
    return mobile_ids(record)[0]


def describe(world: DevWorld, payload: str) -> Asked:
    """What the login QR asks: which portal, until when (DescribeLoginChallenge)."""
    from issuer.api.zorgid.v1 import login_pb2
    from issuer.qr import parse_login_uri

    try:
        qr = parse_login_uri(payload.strip())
    except ZorgIdError as err:
        raise refusal_of(err) from None
    asked = _engine(
        world.mobile.login.DescribeLoginChallenge,
        login_pb2.DescribeLoginChallengeRequest(challenge_id=qr.challenge_id),
    )
    return Asked(
        portal_name=asked.portal_name,
        portal_identity=asked.portal_identity,
        expires_at=asked.expires_at.ToDatetime(tzinfo=UTC),
    )


def answer(world: DevWorld, record: dict[str, Any], payload: str) -> Asked:
    """Accept a login QR: sign the login message with the phone's key and send it with the
    key's current certificate (AnswerLoginChallenge); the portal's poll then sees the result."""
    from issuer.api.zorgid.v1 import login_pb2
    from issuer.flows.login import login_message
    from issuer.qr import parse_login_uri

    asked = describe(world, payload)
    failed = refresh(world, record)  # as the app does: answer with the key's current certificate
    if failed is not None:
        raise failed
    qr = parse_login_uri(payload.strip())
    at = datetime.now(UTC).replace(microsecond=0)
    signature = _sign(
        _phone(world, record), login_message(qr.challenge_id, qr.nonce, asked.portal_identity, at)
    )
    request = login_pb2.AnswerLoginChallengeRequest(
        challenge_id=qr.challenge_id, certificate=_current_der(record), signature=signature
    )
    request.signed_at.FromDatetime(at)
    _engine(world.mobile.login.AnswerLoginChallenge, request)
    return asked
