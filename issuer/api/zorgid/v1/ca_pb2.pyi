from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetCaCertificatesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCaCertificatesResponse(_message.Message):
    __slots__ = ("root_certificate", "issuing_ca_certificate", "ocsp_responder_certificate", "earlier_issuing_ca_certificates")
    ROOT_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    ISSUING_CA_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    OCSP_RESPONDER_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    EARLIER_ISSUING_CA_CERTIFICATES_FIELD_NUMBER: _ClassVar[int]
    root_certificate: bytes
    issuing_ca_certificate: bytes
    ocsp_responder_certificate: bytes
    earlier_issuing_ca_certificates: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, root_certificate: _Optional[bytes] = ..., issuing_ca_certificate: _Optional[bytes] = ..., ocsp_responder_certificate: _Optional[bytes] = ..., earlier_issuing_ca_certificates: _Optional[_Iterable[bytes]] = ...) -> None: ...
