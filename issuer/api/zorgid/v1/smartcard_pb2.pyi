import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from issuer.api.zorgid.v1 import certificate_pb2 as _certificate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SmartcardSlot(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SMARTCARD_SLOT_UNSPECIFIED: _ClassVar[SmartcardSlot]
    SMARTCARD_SLOT_AUTHENTICATION: _ClassVar[SmartcardSlot]
    SMARTCARD_SLOT_NON_REPUDIATION: _ClassVar[SmartcardSlot]
    SMARTCARD_SLOT_ENCRYPTION: _ClassVar[SmartcardSlot]

class SmartcardState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SMARTCARD_STATE_UNSPECIFIED: _ClassVar[SmartcardState]
    SMARTCARD_STATE_ISSUING: _ClassVar[SmartcardState]
    SMARTCARD_STATE_ACTIVE: _ClassVar[SmartcardState]
    SMARTCARD_STATE_REVOKED: _ClassVar[SmartcardState]
    SMARTCARD_STATE_SUPERSEDED: _ClassVar[SmartcardState]
SMARTCARD_SLOT_UNSPECIFIED: SmartcardSlot
SMARTCARD_SLOT_AUTHENTICATION: SmartcardSlot
SMARTCARD_SLOT_NON_REPUDIATION: SmartcardSlot
SMARTCARD_SLOT_ENCRYPTION: SmartcardSlot
SMARTCARD_STATE_UNSPECIFIED: SmartcardState
SMARTCARD_STATE_ISSUING: SmartcardState
SMARTCARD_STATE_ACTIVE: SmartcardState
SMARTCARD_STATE_REVOKED: SmartcardState
SMARTCARD_STATE_SUPERSEDED: SmartcardState

class StartSmartcardRequest(_message.Message):
    __slots__ = ("login_session_handle",)
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    login_session_handle: str
    def __init__(self, login_session_handle: _Optional[str] = ...) -> None: ...

class StartSmartcardResponse(_message.Message):
    __slots__ = ("ticket", "expires_at")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ticket: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, ticket: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SlotCsr(_message.Message):
    __slots__ = ("slot", "csr")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    CSR_FIELD_NUMBER: _ClassVar[int]
    slot: SmartcardSlot
    csr: bytes
    def __init__(self, slot: _Optional[_Union[SmartcardSlot, str]] = ..., csr: _Optional[bytes] = ...) -> None: ...

class RedeemSmartcardRequest(_message.Message):
    __slots__ = ("ticket", "csrs")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    CSRS_FIELD_NUMBER: _ClassVar[int]
    ticket: str
    csrs: _containers.RepeatedCompositeFieldContainer[SlotCsr]
    def __init__(self, ticket: _Optional[str] = ..., csrs: _Optional[_Iterable[_Union[SlotCsr, _Mapping]]] = ...) -> None: ...

class SlotCertificate(_message.Message):
    __slots__ = ("slot", "certificate")
    SLOT_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    slot: SmartcardSlot
    certificate: _certificate_pb2.Certificate
    def __init__(self, slot: _Optional[_Union[SmartcardSlot, str]] = ..., certificate: _Optional[_Union[_certificate_pb2.Certificate, _Mapping]] = ...) -> None: ...

class RedeemSmartcardResponse(_message.Message):
    __slots__ = ("card_id", "certificates", "chain", "replayed")
    CARD_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    card_id: str
    certificates: _containers.RepeatedCompositeFieldContainer[SlotCertificate]
    chain: _containers.RepeatedScalarFieldContainer[bytes]
    replayed: bool
    def __init__(self, card_id: _Optional[str] = ..., certificates: _Optional[_Iterable[_Union[SlotCertificate, _Mapping]]] = ..., chain: _Optional[_Iterable[bytes]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class Smartcard(_message.Message):
    __slots__ = ("id", "state", "created_at", "revoked_at", "certificates", "revocation_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: SmartcardState
    created_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    certificates: _containers.RepeatedCompositeFieldContainer[SlotCertificate]
    revocation_reason: str
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[SmartcardState, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., certificates: _Optional[_Iterable[_Union[SlotCertificate, _Mapping]]] = ..., revocation_reason: _Optional[str] = ...) -> None: ...

class ListSmartcardsRequest(_message.Message):
    __slots__ = ("login_session_handle",)
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    login_session_handle: str
    def __init__(self, login_session_handle: _Optional[str] = ...) -> None: ...

class ListSmartcardsResponse(_message.Message):
    __slots__ = ("cards",)
    CARDS_FIELD_NUMBER: _ClassVar[int]
    cards: _containers.RepeatedCompositeFieldContainer[Smartcard]
    def __init__(self, cards: _Optional[_Iterable[_Union[Smartcard, _Mapping]]] = ...) -> None: ...

class RevokeSmartcardRequest(_message.Message):
    __slots__ = ("login_session_handle", "card_id", "reason")
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    CARD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    login_session_handle: str
    card_id: str
    reason: _certificate_pb2.RevocationReason
    def __init__(self, login_session_handle: _Optional[str] = ..., card_id: _Optional[str] = ..., reason: _Optional[_Union[_certificate_pb2.RevocationReason, str]] = ...) -> None: ...

class RevokeSmartcardResponse(_message.Message):
    __slots__ = ("card",)
    CARD_FIELD_NUMBER: _ClassVar[int]
    card: Smartcard
    def __init__(self, card: _Optional[_Union[Smartcard, _Mapping]] = ...) -> None: ...

class ReplaceSmartcardRequest(_message.Message):
    __slots__ = ("login_session_handle", "card_id")
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    CARD_ID_FIELD_NUMBER: _ClassVar[int]
    login_session_handle: str
    card_id: str
    def __init__(self, login_session_handle: _Optional[str] = ..., card_id: _Optional[str] = ...) -> None: ...

class ReplaceSmartcardResponse(_message.Message):
    __slots__ = ("ticket", "expires_at")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ticket: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, ticket: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
