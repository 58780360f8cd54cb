import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from issuer.api.zorgid.v1 import certificate_pb2 as _certificate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterAttributesRequest(_message.Message):
    __slots__ = ("login_session_handle", "uzi_session_handle")
    LOGIN_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    UZI_SESSION_HANDLE_FIELD_NUMBER: _ClassVar[int]
    login_session_handle: str
    uzi_session_handle: str
    def __init__(self, login_session_handle: _Optional[str] = ..., uzi_session_handle: _Optional[str] = ...) -> None: ...

class RegisterAttributesResponse(_message.Message):
    __slots__ = ("certificate", "superseded")
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDED_FIELD_NUMBER: _ClassVar[int]
    certificate: _certificate_pb2.Certificate
    superseded: _certificate_pb2.Certificate
    def __init__(self, certificate: _Optional[_Union[_certificate_pb2.Certificate, _Mapping]] = ..., superseded: _Optional[_Union[_certificate_pb2.Certificate, _Mapping]] = ...) -> None: ...

class GetCurrentCertificateRequest(_message.Message):
    __slots__ = ("spki_sha256", "signature", "signed_at")
    SPKI_SHA256_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    spki_sha256: str
    signature: bytes
    signed_at: _timestamp_pb2.Timestamp
    def __init__(self, spki_sha256: _Optional[str] = ..., signature: _Optional[bytes] = ..., signed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCurrentCertificateResponse(_message.Message):
    __slots__ = ("certificate", "chain")
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    certificate: _certificate_pb2.Certificate
    chain: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, certificate: _Optional[_Union[_certificate_pb2.Certificate, _Mapping]] = ..., chain: _Optional[_Iterable[bytes]] = ...) -> None: ...
