import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from issuer.api.zorgid.v1 import certificate_pb2 as _certificate_pb2
from issuer.api.zorgid.v1 import registration_pb2 as _registration_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LoginState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOGIN_STATE_UNSPECIFIED: _ClassVar[LoginState]
    LOGIN_STATE_PENDING: _ClassVar[LoginState]
    LOGIN_STATE_AUTHENTICATED: _ClassVar[LoginState]
    LOGIN_STATE_EXPIRED: _ClassVar[LoginState]
    LOGIN_STATE_REFUSED: _ClassVar[LoginState]
LOGIN_STATE_UNSPECIFIED: LoginState
LOGIN_STATE_PENDING: LoginState
LOGIN_STATE_AUTHENTICATED: LoginState
LOGIN_STATE_EXPIRED: LoginState
LOGIN_STATE_REFUSED: LoginState

class LoginAttributes(_message.Message):
    __slots__ = ("uzi_number", "card_type", "ura", "role", "agb_code", "given_name", "surname", "common_name", "organization")
    UZI_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CARD_TYPE_FIELD_NUMBER: _ClassVar[int]
    URA_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AGB_CODE_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    SURNAME_FIELD_NUMBER: _ClassVar[int]
    COMMON_NAME_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    uzi_number: str
    card_type: str
    ura: str
    role: str
    agb_code: str
    given_name: str
    surname: str
    common_name: str
    organization: str
    def __init__(self, uzi_number: _Optional[str] = ..., card_type: _Optional[str] = ..., ura: _Optional[str] = ..., role: _Optional[str] = ..., agb_code: _Optional[str] = ..., given_name: _Optional[str] = ..., surname: _Optional[str] = ..., common_name: _Optional[str] = ..., organization: _Optional[str] = ...) -> None: ...

class CreateLoginChallengeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateLoginChallengeResponse(_message.Message):
    __slots__ = ("challenge_id", "expires_at", "qr")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    QR_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    expires_at: _timestamp_pb2.Timestamp
    qr: _registration_pb2.QrCode
    def __init__(self, challenge_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., qr: _Optional[_Union[_registration_pb2.QrCode, _Mapping]] = ...) -> None: ...

class GetLoginChallengeRequest(_message.Message):
    __slots__ = ("challenge_id",)
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    def __init__(self, challenge_id: _Optional[str] = ...) -> None: ...

class GetLoginChallengeResponse(_message.Message):
    __slots__ = ("state", "expires_at", "session_handle", "session_expires_at", "person_id", "mobile_id", "certificate_id", "attributes", "refusal_code", "certificate_serial")
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    SESSION_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    MOBILE_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_CODE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SERIAL_FIELD_NUMBER: _ClassVar[int]
    state: LoginState
    expires_at: _timestamp_pb2.Timestamp
    session_handle: str
    session_expires_at: _timestamp_pb2.Timestamp
    person_id: str
    mobile_id: str
    certificate_id: str
    attributes: LoginAttributes
    refusal_code: str
    certificate_serial: str
    def __init__(self, state: _Optional[_Union[LoginState, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., session_handle: _Optional[str] = ..., session_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., person_id: _Optional[str] = ..., mobile_id: _Optional[str] = ..., certificate_id: _Optional[str] = ..., attributes: _Optional[_Union[LoginAttributes, _Mapping]] = ..., refusal_code: _Optional[str] = ..., certificate_serial: _Optional[str] = ...) -> None: ...

class DescribeLoginChallengeRequest(_message.Message):
    __slots__ = ("challenge_id",)
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    def __init__(self, challenge_id: _Optional[str] = ...) -> None: ...

class DescribeLoginChallengeResponse(_message.Message):
    __slots__ = ("portal_identity", "portal_name", "nonce", "expires_at")
    PORTAL_IDENTITY_FIELD_NUMBER: _ClassVar[int]
    PORTAL_NAME_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    portal_identity: str
    portal_name: str
    nonce: bytes
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, portal_identity: _Optional[str] = ..., portal_name: _Optional[str] = ..., nonce: _Optional[bytes] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AnswerLoginChallengeRequest(_message.Message):
    __slots__ = ("challenge_id", "certificate", "signature", "signed_at")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    certificate: bytes
    signature: bytes
    signed_at: _timestamp_pb2.Timestamp
    def __init__(self, challenge_id: _Optional[str] = ..., certificate: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., signed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AnswerLoginChallengeResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class EndLoginSessionRequest(_message.Message):
    __slots__ = ("login_session_handle",)
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    login_session_handle: str
    def __init__(self, login_session_handle: _Optional[str] = ...) -> None: ...

class EndLoginSessionResponse(_message.Message):
    __slots__ = ("ended",)
    ENDED_FIELD_NUMBER: _ClassVar[int]
    ended: bool
    def __init__(self, ended: _Optional[bool] = ...) -> None: ...

class RevokeCertificateWithSessionRequest(_message.Message):
    __slots__ = ("login_session_handle", "certificate_id", "reason")
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    login_session_handle: str
    certificate_id: str
    reason: _certificate_pb2.RevocationReason
    def __init__(self, login_session_handle: _Optional[str] = ..., certificate_id: _Optional[str] = ..., reason: _Optional[_Union[_certificate_pb2.RevocationReason, str]] = ...) -> None: ...

class RevokeCertificateWithSessionResponse(_message.Message):
    __slots__ = ("certificate",)
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    certificate: _certificate_pb2.Certificate
    def __init__(self, certificate: _Optional[_Union[_certificate_pb2.Certificate, _Mapping]] = ...) -> None: ...
