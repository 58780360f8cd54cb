"""``zorgid.v1.PolicyService``: thin servicer over :class:`issuer.policy_store.PolicyStore`.

The officer is the verified client certificate (:func:`current_caller`), never
a field of the request: the two-person rule compares certificate subjects.
The store comes from a callable (``issuer.wiring.PolicyRuntime.get`` builds it
on first use, like the issuance runtime), so the server starts while the HSM
is away and answers ``UNAVAILABLE`` (ZID-0004) until the audit key can sign.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from issuer.api.zorgid.v1 import policy_pb2, policy_pb2_grpc
from issuer.errors import Code, ZorgIdError
from issuer.policy_store import Officer, PolicyStore, StoredVersion
from issuer.server.roles import METHOD_ROLES, current_caller
from policies.diff import Change
from policies.dryrun import Outcome
from policies.versions import State

__all__ = ["PolicyServicer"]

_SERVICE = "/zorgid.v1.PolicyService/"

_STATES = {
    State.PROPOSED: policy_pb2.POLICY_STATE_PROPOSED,
    State.APPROVED: policy_pb2.POLICY_STATE_APPROVED,
    State.ACTIVE: policy_pb2.POLICY_STATE_ACTIVE,
    State.SUPERSEDED: policy_pb2.POLICY_STATE_SUPERSEDED,
    State.REJECTED: policy_pb2.POLICY_STATE_REJECTED,
    State.EXPIRED: policy_pb2.POLICY_STATE_EXPIRED,
}
_OUTCOMES = {
    Outcome.SAME: policy_pb2.DRY_RUN_OUTCOME_SAME,
    Outcome.REFUSED: policy_pb2.DRY_RUN_OUTCOME_REFUSED,
    Outcome.DIFFERENT: policy_pb2.DRY_RUN_OUTCOME_DIFFERENT,
}


def _time(request: Message, field: str) -> dt.datetime | None:
    """A request's optional time field in UTC; ZID-0005 for one no datetime can hold
    (``ToDatetime`` raises ``ValueError`` outside years 1-9999: fuzz/targets/grpc_servicers.py)."""
    if not request.HasField(field):
        return None
    stamp: Timestamp = getattr(request, field)
    try:
        return stamp.ToDatetime(dt.UTC)
    except (ValueError, OverflowError):
        raise ZorgIdError(Code.ZID_0005, f"{field}: not a valid time (years 1-9999)") from None


def _ts(value: dt.datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def version_message(
    stored: StoredVersion, *, now: dt.datetime, required: int
) -> policy_pb2.PolicyVersion:
    """The protobuf form of a stored version (the one place that builds it)."""
    r = stored.record
    return policy_pb2.PolicyVersion(
        version=r.version,
        name=r.name,
        state=_STATES[r.effective_state(now)],
        document=r.document,
        document_sha256=r.document_sha256,
        proposed_by=r.proposed_by,
        proposed_at=_ts(r.proposed_at),
        approvals=[policy_pb2.PolicyApproval(by=a.by, at=_ts(a.at)) for a in r.approvals],
        expires_at=_ts(r.expires_at),
        activate_at=_ts(r.activate_at),
        base_version=r.base_version or 0,
        decided_at=_ts(r.decided_at),
        decided_by=r.decided_by or "",
        activated_at=_ts(r.activated_at),
        reason=r.reason or "",
        approvals_required=required,
        policy_digest=stored.policy.digest,
    )


def change_message(change: Change) -> policy_pb2.PolicyChange:
    return policy_pb2.PolicyChange(
        path=change.path, kind=change.kind, old_value=change.old or "", new_value=change.new or ""
    )


def _officer(method: str) -> Officer:
    caller = current_caller()
    allowed = METHOD_ROLES.get(_SERVICE + method)
    roles = sorted(caller.roles & allowed) if isinstance(allowed, frozenset) else []
    return Officer(
        role=str(roles[0]) if roles else "unknown",
        identity=caller.subject,
        certificate_sha256=caller.identity,
    )


class PolicyServicer(policy_pb2_grpc.PolicyServiceServicer):
    """Protobuf in, :class:`PolicyStore` call, protobuf out."""

    def __init__(self, store: Callable[[], PolicyStore]) -> None:
        self._get = store

    def _message(self, store: PolicyStore, stored: StoredVersion) -> policy_pb2.PolicyVersion:
        active = store.active()
        return version_message(
            stored, now=store.now(), required=active.policy.approval.approvals_required
        )

    def ProposePolicy(
        self, request: policy_pb2.ProposePolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.ProposePolicyResponse:
        if not request.document.strip():
            raise ZorgIdError(Code.ZID_0005, "field 'document' is empty; expected the TOML policy")
        activate_at = _time(request, "activate_at")
        store = self._get()
        stored = store.propose(
            request.document,
            officer=_officer("ProposePolicy"),
            lifetime=dt.timedelta(seconds=request.lifetime_seconds)
            if request.lifetime_seconds
            else None,
            activate_at=activate_at,
            reason=request.reason,
        )
        _, _, changes, text = store.diff(stored.record.version)
        return policy_pb2.ProposePolicyResponse(
            version=self._message(store, stored),
            changes=[change_message(c) for c in changes],
            unified_diff=text,
        )

    def GetPolicy(
        self, request: policy_pb2.GetPolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.GetPolicyResponse:
        store = self._get()
        stored = store.get(request.version) if request.version else store.active()
        return policy_pb2.GetPolicyResponse(version=self._message(store, stored))

    def ListPolicies(
        self, request: policy_pb2.ListPoliciesRequest, context: grpc.ServicerContext
    ) -> policy_pb2.ListPoliciesResponse:
        store = self._get()
        active = store.active()
        required = active.policy.approval.approvals_required
        now = store.now()
        return policy_pb2.ListPoliciesResponse(
            versions=[version_message(s, now=now, required=required) for s in store.list()],
            active_version=active.record.version,
        )

    def DiffPolicy(
        self, request: policy_pb2.DiffPolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.DiffPolicyResponse:
        store = self._get()
        version = request.version or store.active().record.version
        other, target, changes, text = store.diff(version, request.against or None)
        return policy_pb2.DiffPolicyResponse(
            from_version=other.record.version,
            to_version=target.record.version,
            changes=[change_message(c) for c in changes],
            unified_diff=text,
        )

    def ApprovePolicy(
        self, request: policy_pb2.ApprovePolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.ApprovePolicyResponse:
        store = self._get()
        stored, counted = store.approve(request.version, officer=_officer("ApprovePolicy"))
        return policy_pb2.ApprovePolicyResponse(
            version=self._message(store, stored), counted=counted
        )

    def RejectPolicy(
        self, request: policy_pb2.RejectPolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.RejectPolicyResponse:
        store = self._get()
        stored = store.reject(
            request.version, officer=_officer("RejectPolicy"), reason=request.reason
        )
        return policy_pb2.RejectPolicyResponse(version=self._message(store, stored))

    def DryRunPolicy(
        self, request: policy_pb2.DryRunPolicyRequest, context: grpc.ServicerContext
    ) -> policy_pb2.DryRunPolicyResponse:
        since = _time(request, "since")
        store = self._get()
        target, report = store.dry_run(
            request.version,
            since=since,
            limit=request.limit or 1000,
        )
        counts = report.counts()
        return policy_pb2.DryRunPolicyResponse(
            version=target.record.version,
            items=[
                policy_pb2.DryRunItem(
                    request_id=item.request.request_id,
                    at=_ts(item.request.at),
                    outcome=_OUTCOMES[item.outcome],
                    reasons=list(item.reasons),
                    card_type=item.request.card_type,
                    role=item.request.role,
                    recorded_policy_version=item.request.policy_version or 0,
                )
                for item in report.items
            ],
            same=counts["same"],
            refused=counts["refused"],
            different=counts["different"],
        )
