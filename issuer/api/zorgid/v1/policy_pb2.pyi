import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PolicyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_STATE_UNSPECIFIED: _ClassVar[PolicyState]
    POLICY_STATE_PROPOSED: _ClassVar[PolicyState]
    POLICY_STATE_APPROVED: _ClassVar[PolicyState]
    POLICY_STATE_ACTIVE: _ClassVar[PolicyState]
    POLICY_STATE_SUPERSEDED: _ClassVar[PolicyState]
    POLICY_STATE_REJECTED: _ClassVar[PolicyState]
    POLICY_STATE_EXPIRED: _ClassVar[PolicyState]

class DryRunOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DRY_RUN_OUTCOME_UNSPECIFIED: _ClassVar[DryRunOutcome]
    DRY_RUN_OUTCOME_SAME: _ClassVar[DryRunOutcome]
    DRY_RUN_OUTCOME_REFUSED: _ClassVar[DryRunOutcome]
    DRY_RUN_OUTCOME_DIFFERENT: _ClassVar[DryRunOutcome]
POLICY_STATE_UNSPECIFIED: PolicyState
POLICY_STATE_PROPOSED: PolicyState
POLICY_STATE_APPROVED: PolicyState
POLICY_STATE_ACTIVE: PolicyState
POLICY_STATE_SUPERSEDED: PolicyState
POLICY_STATE_REJECTED: PolicyState
POLICY_STATE_EXPIRED: PolicyState
DRY_RUN_OUTCOME_UNSPECIFIED: DryRunOutcome
DRY_RUN_OUTCOME_SAME: DryRunOutcome
DRY_RUN_OUTCOME_REFUSED: DryRunOutcome
DRY_RUN_OUTCOME_DIFFERENT: DryRunOutcome

class PolicyApproval(_message.Message):
    __slots__ = ("by", "at")
    BY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    by: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, by: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PolicyVersion(_message.Message):
    __slots__ = ("version", "name", "state", "document", "document_sha256", "proposed_by", "proposed_at", "approvals", "expires_at", "activate_at", "base_version", "decided_at", "decided_by", "activated_at", "reason", "approvals_required", "policy_digest")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_BY_FIELD_NUMBER: _ClassVar[int]
    PROPOSED_AT_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_AT_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    APPROVALS_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    POLICY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    version: int
    name: str
    state: PolicyState
    document: str
    document_sha256: str
    proposed_by: str
    proposed_at: _timestamp_pb2.Timestamp
    approvals: _containers.RepeatedCompositeFieldContainer[PolicyApproval]
    expires_at: _timestamp_pb2.Timestamp
    activate_at: _timestamp_pb2.Timestamp
    base_version: int
    decided_at: _timestamp_pb2.Timestamp
    decided_by: str
    activated_at: _timestamp_pb2.Timestamp
    reason: str
    approvals_required: int
    policy_digest: str
    def __init__(self, version: _Optional[int] = ..., name: _Optional[str] = ..., state: _Optional[_Union[PolicyState, str]] = ..., document: _Optional[str] = ..., document_sha256: _Optional[str] = ..., proposed_by: _Optional[str] = ..., proposed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approvals: _Optional[_Iterable[_Union[PolicyApproval, _Mapping]]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., activate_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., base_version: _Optional[int] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., decided_by: _Optional[str] = ..., activated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., approvals_required: _Optional[int] = ..., policy_digest: _Optional[str] = ...) -> None: ...

class PolicyChange(_message.Message):
    __slots__ = ("path", "kind", "old_value", "new_value")
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUE_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUE_FIELD_NUMBER: _ClassVar[int]
    path: str
    kind: str
    old_value: str
    new_value: str
    def __init__(self, path: _Optional[str] = ..., kind: _Optional[str] = ..., old_value: _Optional[str] = ..., new_value: _Optional[str] = ...) -> None: ...

class ProposePolicyRequest(_message.Message):
    __slots__ = ("document", "activate_at", "lifetime_seconds", "reason")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_AT_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    document: str
    activate_at: _timestamp_pb2.Timestamp
    lifetime_seconds: int
    reason: str
    def __init__(self, document: _Optional[str] = ..., activate_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lifetime_seconds: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ProposePolicyResponse(_message.Message):
    __slots__ = ("version", "changes", "unified_diff")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    UNIFIED_DIFF_FIELD_NUMBER: _ClassVar[int]
    version: PolicyVersion
    changes: _containers.RepeatedCompositeFieldContainer[PolicyChange]
    unified_diff: str
    def __init__(self, version: _Optional[_Union[PolicyVersion, _Mapping]] = ..., changes: _Optional[_Iterable[_Union[PolicyChange, _Mapping]]] = ..., unified_diff: _Optional[str] = ...) -> None: ...

class GetPolicyRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class GetPolicyResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: PolicyVersion
    def __init__(self, version: _Optional[_Union[PolicyVersion, _Mapping]] = ...) -> None: ...

class ListPoliciesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPoliciesResponse(_message.Message):
    __slots__ = ("versions", "active_version")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[PolicyVersion]
    active_version: int
    def __init__(self, versions: _Optional[_Iterable[_Union[PolicyVersion, _Mapping]]] = ..., active_version: _Optional[int] = ...) -> None: ...

class DiffPolicyRequest(_message.Message):
    __slots__ = ("version", "against")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AGAINST_FIELD_NUMBER: _ClassVar[int]
    version: int
    against: int
    def __init__(self, version: _Optional[int] = ..., against: _Optional[int] = ...) -> None: ...

class DiffPolicyResponse(_message.Message):
    __slots__ = ("from_version", "to_version", "changes", "unified_diff")
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    TO_VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    UNIFIED_DIFF_FIELD_NUMBER: _ClassVar[int]
    from_version: int
    to_version: int
    changes: _containers.RepeatedCompositeFieldContainer[PolicyChange]
    unified_diff: str
    def __init__(self, from_version: _Optional[int] = ..., to_version: _Optional[int] = ..., changes: _Optional[_Iterable[_Union[PolicyChange, _Mapping]]] = ..., unified_diff: _Optional[str] = ...) -> None: ...

class ApprovePolicyRequest(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: int
    def __init__(self, version: _Optional[int] = ...) -> None: ...

class ApprovePolicyResponse(_message.Message):
    __slots__ = ("version", "counted")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COUNTED_FIELD_NUMBER: _ClassVar[int]
    version: PolicyVersion
    counted: bool
    def __init__(self, version: _Optional[_Union[PolicyVersion, _Mapping]] = ..., counted: _Optional[bool] = ...) -> None: ...

class RejectPolicyRequest(_message.Message):
    __slots__ = ("version", "reason")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    version: int
    reason: str
    def __init__(self, version: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectPolicyResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: PolicyVersion
    def __init__(self, version: _Optional[_Union[PolicyVersion, _Mapping]] = ...) -> None: ...

class DryRunPolicyRequest(_message.Message):
    __slots__ = ("version", "since", "limit")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    version: int
    since: _timestamp_pb2.Timestamp
    limit: int
    def __init__(self, version: _Optional[int] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class DryRunItem(_message.Message):
    __slots__ = ("request_id", "at", "outcome", "reasons", "card_type", "role", "recorded_policy_version")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CARD_TYPE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    RECORDED_POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    at: _timestamp_pb2.Timestamp
    outcome: DryRunOutcome
    reasons: _containers.RepeatedScalarFieldContainer[str]
    card_type: str
    role: str
    recorded_policy_version: int
    def __init__(self, request_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[DryRunOutcome, str]] = ..., reasons: _Optional[_Iterable[str]] = ..., card_type: _Optional[str] = ..., role: _Optional[str] = ..., recorded_policy_version: _Optional[int] = ...) -> None: ...

class DryRunPolicyResponse(_message.Message):
    __slots__ = ("version", "items", "same", "refused", "different")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SAME_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    DIFFERENT_FIELD_NUMBER: _ClassVar[int]
    version: int
    items: _containers.RepeatedCompositeFieldContainer[DryRunItem]
    same: int
    refused: int
    different: int
    def __init__(self, version: _Optional[int] = ..., items: _Optional[_Iterable[_Union[DryRunItem, _Mapping]]] = ..., same: _Optional[int] = ..., refused: _Optional[int] = ..., different: _Optional[int] = ...) -> None: ...
