import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from issuer.api.zorgid.v1 import certificate_pb2 as _certificate_pb2
from issuer.api.zorgid.v1 import registration_pb2 as _registration_pb2
from issuer.api.zorgid.v1 import uzi_pb2 as _uzi_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AdministratorState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADMINISTRATOR_STATE_UNSPECIFIED: _ClassVar[AdministratorState]
    ADMINISTRATOR_STATE_PENDING: _ClassVar[AdministratorState]
    ADMINISTRATOR_STATE_APPROVED: _ClassVar[AdministratorState]
ADMINISTRATOR_STATE_UNSPECIFIED: AdministratorState
ADMINISTRATOR_STATE_PENDING: AdministratorState
ADMINISTRATOR_STATE_APPROVED: AdministratorState

class Organization(_message.Message):
    __slots__ = ("id", "ura", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    URA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    ura: str
    name: str
    def __init__(self, id: _Optional[str] = ..., ura: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RegisterOrganizationRequest(_message.Message):
    __slots__ = ("ura", "name", "administrator_uzi_numbers")
    URA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADMINISTRATOR_UZI_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    ura: str
    name: str
    administrator_uzi_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ura: _Optional[str] = ..., name: _Optional[str] = ..., administrator_uzi_numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class RegisterOrganizationResponse(_message.Message):
    __slots__ = ("organization", "administrator_uzi_numbers")
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    ADMINISTRATOR_UZI_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    organization: Organization
    administrator_uzi_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, organization: _Optional[_Union[Organization, _Mapping]] = ..., administrator_uzi_numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class StartValidationRequest(_message.Message):
    __slots__ = ("terms_version", "uzi_session_handle", "ura")
    TERMS_VERSION_FIELD_NUMBER: _ClassVar[int]
    UZI_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    URA_FIELD_NUMBER: _ClassVar[int]
    terms_version: str
    uzi_session_handle: str
    ura: str
    def __init__(self, terms_version: _Optional[str] = ..., uzi_session_handle: _Optional[str] = ..., ura: _Optional[str] = ...) -> None: ...

class StartValidationResponse(_message.Message):
    __slots__ = ("validation_id", "organization", "identity")
    VALIDATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    validation_id: str
    organization: Organization
    identity: _uzi_pb2.UziIdentity
    def __init__(self, validation_id: _Optional[str] = ..., organization: _Optional[_Union[Organization, _Mapping]] = ..., identity: _Optional[_Union[_uzi_pb2.UziIdentity, _Mapping]] = ...) -> None: ...

class ConfirmValidationRequest(_message.Message):
    __slots__ = ("validation_id",)
    VALIDATION_ID_FIELD_NUMBER: _ClassVar[int]
    validation_id: str
    def __init__(self, validation_id: _Optional[str] = ...) -> None: ...

class ConfirmValidationResponse(_message.Message):
    __slots__ = ("organization", "person_id", "mobile_id", "state")
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    MOBILE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    organization: Organization
    person_id: str
    mobile_id: str
    state: AdministratorState
    def __init__(self, organization: _Optional[_Union[Organization, _Mapping]] = ..., person_id: _Optional[str] = ..., mobile_id: _Optional[str] = ..., state: _Optional[_Union[AdministratorState, str]] = ...) -> None: ...

class ApproveAdministratorRequest(_message.Message):
    __slots__ = ("ura", "uzi_number", "login_session_handle")
    URA_FIELD_NUMBER: _ClassVar[int]
    UZI_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    ura: str
    uzi_number: str
    login_session_handle: str
    def __init__(self, ura: _Optional[str] = ..., uzi_number: _Optional[str] = ..., login_session_handle: _Optional[str] = ...) -> None: ...

class ApproveAdministratorResponse(_message.Message):
    __slots__ = ("organization", "person_id", "mobile_id", "state")
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    MOBILE_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    organization: Organization
    person_id: str
    mobile_id: str
    state: AdministratorState
    def __init__(self, organization: _Optional[_Union[Organization, _Mapping]] = ..., person_id: _Optional[str] = ..., mobile_id: _Optional[str] = ..., state: _Optional[_Union[AdministratorState, str]] = ...) -> None: ...

class ListMembersRequest(_message.Message):
    __slots__ = ("login_session_handle",)
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    login_session_handle: str
    def __init__(self, login_session_handle: _Optional[str] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("person_id", "uzi_number", "given_names", "surname", "ura", "good_certificate_ids", "administrator_state")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    UZI_NUMBER_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAMES_FIELD_NUMBER: _ClassVar[int]
    SURNAME_FIELD_NUMBER: _ClassVar[int]
    URA_FIELD_NUMBER: _ClassVar[int]
    GOOD_CERTIFICATE_IDS_FIELD_NUMBER: _ClassVar[int]
    ADMINISTRATOR_STATE_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    uzi_number: str
    given_names: str
    surname: str
    ura: str
    good_certificate_ids: _containers.RepeatedScalarFieldContainer[str]
    administrator_state: AdministratorState
    def __init__(self, person_id: _Optional[str] = ..., uzi_number: _Optional[str] = ..., given_names: _Optional[str] = ..., surname: _Optional[str] = ..., ura: _Optional[str] = ..., good_certificate_ids: _Optional[_Iterable[str]] = ..., administrator_state: _Optional[_Union[AdministratorState, str]] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("members",)
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ...) -> None: ...

class ResetMemberRequest(_message.Message):
    __slots__ = ("login_session_handle", "person_id", "ura")
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    URA_FIELD_NUMBER: _ClassVar[int]
    login_session_handle: str
    person_id: str
    ura: str
    def __init__(self, login_session_handle: _Optional[str] = ..., person_id: _Optional[str] = ..., ura: _Optional[str] = ...) -> None: ...

class ResetMemberResponse(_message.Message):
    __slots__ = ("revoked", "qr", "qr_expires_at", "registration_record_id")
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    QR_FIELD_NUMBER: _ClassVar[int]
    QR_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REGISTRATION_RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    revoked: _containers.RepeatedCompositeFieldContainer[_certificate_pb2.Certificate]
    qr: _registration_pb2.QrCode
    qr_expires_at: _timestamp_pb2.Timestamp
    registration_record_id: str
    def __init__(self, revoked: _Optional[_Iterable[_Union[_certificate_pb2.Certificate, _Mapping]]] = ..., qr: _Optional[_Union[_registration_pb2.QrCode, _Mapping]] = ..., qr_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., registration_record_id: _Optional[str] = ...) -> None: ...

class CorrectPersonRequest(_message.Message):
    __slots__ = ("person_id", "birth_date", "given_names", "surname")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAMES_FIELD_NUMBER: _ClassVar[int]
    SURNAME_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    birth_date: str
    given_names: str
    surname: str
    def __init__(self, person_id: _Optional[str] = ..., birth_date: _Optional[str] = ..., given_names: _Optional[str] = ..., surname: _Optional[str] = ...) -> None: ...

class CorrectPersonResponse(_message.Message):
    __slots__ = ("person_id", "uzi_number", "birth_date", "given_names", "surname")
    PERSON_ID_FIELD_NUMBER: _ClassVar[int]
    UZI_NUMBER_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAMES_FIELD_NUMBER: _ClassVar[int]
    SURNAME_FIELD_NUMBER: _ClassVar[int]
    person_id: str
    uzi_number: str
    birth_date: str
    given_names: str
    surname: str
    def __init__(self, person_id: _Optional[str] = ..., uzi_number: _Optional[str] = ..., birth_date: _Optional[str] = ..., given_names: _Optional[str] = ..., surname: _Optional[str] = ...) -> None: ...
