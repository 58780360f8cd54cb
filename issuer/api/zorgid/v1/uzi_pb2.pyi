import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UziSignatureScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UZI_SIGNATURE_SCHEME_UNSPECIFIED: _ClassVar[UziSignatureScheme]
    UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256: _ClassVar[UziSignatureScheme]
    UZI_SIGNATURE_SCHEME_RSA_PSS_SHA256: _ClassVar[UziSignatureScheme]
    UZI_SIGNATURE_SCHEME_ECDSA_SHA256: _ClassVar[UziSignatureScheme]

class UziPurpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UZI_PURPOSE_UNSPECIFIED: _ClassVar[UziPurpose]
    UZI_PURPOSE_REGISTRATION: _ClassVar[UziPurpose]
    UZI_PURPOSE_ORGANISATION_VALIDATION: _ClassVar[UziPurpose]
    UZI_PURPOSE_ATTRIBUTE_REGISTRATION: _ClassVar[UziPurpose]

class UziCardType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UZI_CARD_TYPE_UNSPECIFIED: _ClassVar[UziCardType]
    UZI_CARD_TYPE_ZORGVERLENER: _ClassVar[UziCardType]
    UZI_CARD_TYPE_MEDEWERKER_OP_NAAM: _ClassVar[UziCardType]
    UZI_CARD_TYPE_MEDEWERKER_NIET_OP_NAAM: _ClassVar[UziCardType]
    UZI_CARD_TYPE_SERVER: _ClassVar[UziCardType]

class UziCertificateKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UZI_CERTIFICATE_KIND_UNSPECIFIED: _ClassVar[UziCertificateKind]
    UZI_CERTIFICATE_KIND_AUTHENTICATION: _ClassVar[UziCertificateKind]
    UZI_CERTIFICATE_KIND_SIGNATURE: _ClassVar[UziCertificateKind]
    UZI_CERTIFICATE_KIND_ENCRYPTION: _ClassVar[UziCertificateKind]
UZI_SIGNATURE_SCHEME_UNSPECIFIED: UziSignatureScheme
UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256: UziSignatureScheme
UZI_SIGNATURE_SCHEME_RSA_PSS_SHA256: UziSignatureScheme
UZI_SIGNATURE_SCHEME_ECDSA_SHA256: UziSignatureScheme
UZI_PURPOSE_UNSPECIFIED: UziPurpose
UZI_PURPOSE_REGISTRATION: UziPurpose
UZI_PURPOSE_ORGANISATION_VALIDATION: UziPurpose
UZI_PURPOSE_ATTRIBUTE_REGISTRATION: UziPurpose
UZI_CARD_TYPE_UNSPECIFIED: UziCardType
UZI_CARD_TYPE_ZORGVERLENER: UziCardType
UZI_CARD_TYPE_MEDEWERKER_OP_NAAM: UziCardType
UZI_CARD_TYPE_MEDEWERKER_NIET_OP_NAAM: UziCardType
UZI_CARD_TYPE_SERVER: UziCardType
UZI_CERTIFICATE_KIND_UNSPECIFIED: UziCertificateKind
UZI_CERTIFICATE_KIND_AUTHENTICATION: UziCertificateKind
UZI_CERTIFICATE_KIND_SIGNATURE: UziCertificateKind
UZI_CERTIFICATE_KIND_ENCRYPTION: UziCertificateKind

class CreateUziChallengeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateUziChallengeResponse(_message.Message):
    __slots__ = ("challenge_id", "nonce", "to_be_signed", "expires_at")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    TO_BE_SIGNED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    nonce: bytes
    to_be_signed: bytes
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, challenge_id: _Optional[str] = ..., nonce: _Optional[bytes] = ..., to_be_signed: _Optional[bytes] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VerifyUziCardRequest(_message.Message):
    __slots__ = ("challenge_id", "certificate_chain", "signature", "signature_scheme", "purpose")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_CHAIN_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_SCHEME_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    certificate_chain: _containers.RepeatedScalarFieldContainer[bytes]
    signature: bytes
    signature_scheme: UziSignatureScheme
    purpose: UziPurpose
    def __init__(self, challenge_id: _Optional[str] = ..., certificate_chain: _Optional[_Iterable[bytes]] = ..., signature: _Optional[bytes] = ..., signature_scheme: _Optional[_Union[UziSignatureScheme, str]] = ..., purpose: _Optional[_Union[UziPurpose, str]] = ...) -> None: ...

class UziIdentity(_message.Message):
    __slots__ = ("uzi_number", "card_type", "subscriber_number", "role", "agb_code", "given_name", "surname", "common_name", "title", "organization")
    UZI_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CARD_TYPE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AGB_CODE_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    SURNAME_FIELD_NUMBER: _ClassVar[int]
    COMMON_NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    uzi_number: str
    card_type: UziCardType
    subscriber_number: str
    role: str
    agb_code: str
    given_name: str
    surname: str
    common_name: str
    title: str
    organization: str
    def __init__(self, uzi_number: _Optional[str] = ..., card_type: _Optional[_Union[UziCardType, str]] = ..., subscriber_number: _Optional[str] = ..., role: _Optional[str] = ..., agb_code: _Optional[str] = ..., given_name: _Optional[str] = ..., surname: _Optional[str] = ..., common_name: _Optional[str] = ..., title: _Optional[str] = ..., organization: _Optional[str] = ...) -> None: ...

class VerifyUziCardResponse(_message.Message):
    __slots__ = ("identity", "certificate_kind", "certificate_serial", "certificate_issuer", "session_handle", "session_expires_at", "chain")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_KIND_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SERIAL_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_ISSUER_FIELD_NUMBER: _ClassVar[int]
    SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    SESSION_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    identity: UziIdentity
    certificate_kind: UziCertificateKind
    certificate_serial: str
    certificate_issuer: str
    session_handle: str
    session_expires_at: _timestamp_pb2.Timestamp
    chain: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, identity: _Optional[_Union[UziIdentity, _Mapping]] = ..., certificate_kind: _Optional[_Union[UziCertificateKind, str]] = ..., certificate_serial: _Optional[str] = ..., certificate_issuer: _Optional[str] = ..., session_handle: _Optional[str] = ..., session_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., chain: _Optional[_Iterable[str]] = ...) -> None: ...
