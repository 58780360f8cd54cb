import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OcspOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OCSP_OUTCOME_UNSPECIFIED: _ClassVar[OcspOutcome]
    OCSP_OUTCOME_SUCCESSFUL: _ClassVar[OcspOutcome]
    OCSP_OUTCOME_MALFORMED_REQUEST: _ClassVar[OcspOutcome]
    OCSP_OUTCOME_UNAUTHORIZED: _ClassVar[OcspOutcome]
    OCSP_OUTCOME_TRY_LATER: _ClassVar[OcspOutcome]
OCSP_OUTCOME_UNSPECIFIED: OcspOutcome
OCSP_OUTCOME_SUCCESSFUL: OcspOutcome
OCSP_OUTCOME_MALFORMED_REQUEST: OcspOutcome
OCSP_OUTCOME_UNAUTHORIZED: OcspOutcome
OCSP_OUTCOME_TRY_LATER: OcspOutcome

class GetOcspResponseRequest(_message.Message):
    __slots__ = ("ocsp_request",)
    OCSP_REQUEST_FIELD_NUMBER: _ClassVar[int]
    ocsp_request: bytes
    def __init__(self, ocsp_request: _Optional[bytes] = ...) -> None: ...

class GetOcspResponseResponse(_message.Message):
    __slots__ = ("ocsp_response", "outcome", "next_update", "produced_at")
    OCSP_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    NEXT_UPDATE_FIELD_NUMBER: _ClassVar[int]
    PRODUCED_AT_FIELD_NUMBER: _ClassVar[int]
    ocsp_response: bytes
    outcome: OcspOutcome
    next_update: _timestamp_pb2.Timestamp
    produced_at: _timestamp_pb2.Timestamp
    def __init__(self, ocsp_response: _Optional[bytes] = ..., outcome: _Optional[_Union[OcspOutcome, str]] = ..., next_update: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., produced_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
