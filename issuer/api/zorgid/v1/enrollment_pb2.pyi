from issuer.api.zorgid.v1 import certificate_pb2 as _certificate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RedeemEnrollmentRequest(_message.Message):
    __slots__ = ("token", "csr")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CSR_FIELD_NUMBER: _ClassVar[int]
    token: str
    csr: bytes
    def __init__(self, token: _Optional[str] = ..., csr: _Optional[bytes] = ...) -> None: ...

class RedeemEnrollmentResponse(_message.Message):
    __slots__ = ("certificate", "chain", "replayed")
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    certificate: _certificate_pb2.Certificate
    chain: _containers.RepeatedScalarFieldContainer[bytes]
    replayed: bool
    def __init__(self, certificate: _Optional[_Union[_certificate_pb2.Certificate, _Mapping]] = ..., chain: _Optional[_Iterable[bytes]] = ..., replayed: _Optional[bool] = ...) -> None: ...
