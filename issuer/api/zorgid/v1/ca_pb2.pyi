from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class GetCaCertificatesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCaCertificatesResponse(_message.Message):
    __slots__ = ("root_certificate", "issuing_ca_certificate", "ocsp_responder_certificate")
    ROOT_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    ISSUING_CA_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    OCSP_RESPONDER_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    root_certificate: bytes
    issuing_ca_certificate: bytes
    ocsp_responder_certificate: bytes
    def __init__(self, root_certificate: _Optional[bytes] = ..., issuing_ca_certificate: _Optional[bytes] = ..., ocsp_responder_certificate: _Optional[bytes] = ...) -> None: ...
