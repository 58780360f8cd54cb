import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from issuer.api.zorgid.v1 import uzi_pb2 as _uzi_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegistrationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REGISTRATION_STATE_UNSPECIFIED: _ClassVar[RegistrationState]
    REGISTRATION_STATE_STARTED: _ClassVar[RegistrationState]
    REGISTRATION_STATE_DATA_ENTERED: _ClassVar[RegistrationState]
    REGISTRATION_STATE_CONFIRMED: _ClassVar[RegistrationState]
    REGISTRATION_STATE_REDEEMED: _ClassVar[RegistrationState]
    REGISTRATION_STATE_CANCELLED: _ClassVar[RegistrationState]
    REGISTRATION_STATE_EXPIRED: _ClassVar[RegistrationState]
REGISTRATION_STATE_UNSPECIFIED: RegistrationState
REGISTRATION_STATE_STARTED: RegistrationState
REGISTRATION_STATE_DATA_ENTERED: RegistrationState
REGISTRATION_STATE_CONFIRMED: RegistrationState
REGISTRATION_STATE_REDEEMED: RegistrationState
REGISTRATION_STATE_CANCELLED: RegistrationState
REGISTRATION_STATE_EXPIRED: RegistrationState

class QrCode(_message.Message):
    __slots__ = ("payload", "png", "svg")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    SVG_FIELD_NUMBER: _ClassVar[int]
    payload: str
    png: bytes
    svg: str
    def __init__(self, payload: _Optional[str] = ..., png: _Optional[bytes] = ..., svg: _Optional[str] = ...) -> None: ...

class Registration(_message.Message):
    __slots__ = ("id", "state", "terms_version", "identity", "organization_name", "birth_date", "summary_digest", "expires_at", "qr_expires_at", "certificate_id", "registration_record_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TERMS_VERSION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_NAME_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    QR_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: RegistrationState
    terms_version: str
    identity: _uzi_pb2.UziIdentity
    organization_name: str
    birth_date: str
    summary_digest: str
    expires_at: _timestamp_pb2.Timestamp
    qr_expires_at: _timestamp_pb2.Timestamp
    certificate_id: str
    registration_record_id: str
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[RegistrationState, str]] = ..., terms_version: _Optional[str] = ..., identity: _Optional[_Union[_uzi_pb2.UziIdentity, _Mapping]] = ..., organization_name: _Optional[str] = ..., birth_date: _Optional[str] = ..., summary_digest: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., qr_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., certificate_id: _Optional[str] = ..., registration_record_id: _Optional[str] = ...) -> None: ...

class GetTermsRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: str
    def __init__(self, version: _Optional[str] = ...) -> None: ...

class GetTermsResponse(_message.Message):
    __slots__ = ("version", "text")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    version: str
    text: str
    def __init__(self, version: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class StartRegistrationRequest(_message.Message):
    __slots__ = ("terms_version", "uzi_session_handle")
    TERMS_VERSION_FIELD_NUMBER: _ClassVar[int]
    UZI_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    terms_version: str
    uzi_session_handle: str
    def __init__(self, terms_version: _Optional[str] = ..., uzi_session_handle: _Optional[str] = ...) -> None: ...

class StartRegistrationResponse(_message.Message):
    __slots__ = ("registration",)
    REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    registration: Registration
    def __init__(self, registration: _Optional[_Union[Registration, _Mapping]] = ...) -> None: ...

class SetBirthDateRequest(_message.Message):
    __slots__ = ("registration_id", "birth_date")
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    registration_id: str
    birth_date: str
    def __init__(self, registration_id: _Optional[str] = ..., birth_date: _Optional[str] = ...) -> None: ...

class SetBirthDateResponse(_message.Message):
    __slots__ = ("registration",)
    REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    registration: Registration
    def __init__(self, registration: _Optional[_Union[Registration, _Mapping]] = ...) -> None: ...

class ConfirmRegistrationRequest(_message.Message):
    __slots__ = ("registration_id", "summary_digest")
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    registration_id: str
    summary_digest: str
    def __init__(self, registration_id: _Optional[str] = ..., summary_digest: _Optional[str] = ...) -> None: ...

class ConfirmRegistrationResponse(_message.Message):
    __slots__ = ("registration", "qr")
    REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    QR_FIELD_NUMBER: _ClassVar[int]
    registration: Registration
    qr: QrCode
    def __init__(self, registration: _Optional[_Union[Registration, _Mapping]] = ..., qr: _Optional[_Union[QrCode, _Mapping]] = ...) -> None: ...

class GetRegistrationRequest(_message.Message):
    __slots__ = ("registration_id",)
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    registration_id: str
    def __init__(self, registration_id: _Optional[str] = ...) -> None: ...

class GetRegistrationResponse(_message.Message):
    __slots__ = ("registration",)
    REGISTRATION_FIELD_NUMBER: _ClassVar[int]
    registration: Registration
    def __init__(self, registration: _Optional[_Union[Registration, _Mapping]] = ...) -> None: ...
