"""PolicyService over mTLS on SQLite and PostgreSQL: the two-person rule and its edges."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp

from issuer.api.zorgid.v1 import policy_pb2
from issuer.audit import verify_chain
from issuer.errors import ZorgIdError
from issuer.policy_store import ActivePolicy, read_active
from issuer.store.schema import audit_events, policy_versions
from tests.issuance.conftest import CaSetup
from tests.policies_admin.conftest import PolicyServer, StubFor, variant
from tests.server.test_mtls_roles import error_info

SHORTER = ("validity_days = 365", "validity_days = 90")
Z_ONLY = ('card_types = ["Z", "N"]', 'card_types = ["Z"]')
TWO_OF_N = ("approvals_required = 1", "approvals_required = 2")
A, B, C = "officer-a", "officer-b", "officer-c"


def propose(stub_for: StubFor, who: str, text: str, **kw: Any) -> policy_pb2.PolicyVersion:
    response = stub_for(who).ProposePolicy(policy_pb2.ProposePolicyRequest(document=text, **kw))
    return response.version  # type: ignore[no-any-return]


def approve(stub_for: StubFor, who: str, version: int) -> policy_pb2.ApprovePolicyResponse:
    return stub_for(who).ApprovePolicy(policy_pb2.ApprovePolicyRequest(version=version))  # type: ignore[no-any-return]


def active(stub_for: StubFor, who: str = A) -> policy_pb2.PolicyVersion:
    return stub_for(who).GetPolicy(policy_pb2.GetPolicyRequest(version=0)).version  # type: ignore[no-any-return]


def refused(call: object, code: grpc.StatusCode, reason: str) -> str:
    assert isinstance(call, grpc.RpcError), call
    assert call.code() == code, (call.code(), call.details())
    assert error_info(call).reason == reason, call.details()
    return str(call.details())


def test_one_officer_cannot_activate_alone_a_second_one_can(stub_for: StubFor) -> None:
    first = active(stub_for)
    assert first.state == policy_pb2.POLICY_STATE_ACTIVE
    assert first.proposed_by == "engine:bootstrap"
    proposal = propose(stub_for, A, variant(SHORTER), reason="shorter validity")
    assert proposal.state == policy_pb2.POLICY_STATE_PROPOSED
    assert proposal.proposed_by.startswith("CN=officer-a security officer")
    assert proposal.base_version == first.version

    with pytest.raises(grpc.RpcError) as own:
        approve(stub_for, A, proposal.version)
    detail = refused(own.value, grpc.StatusCode.PERMISSION_DENIED, "ZID-1503")
    assert "different security officer" in detail
    assert active(stub_for).version == first.version

    done = approve(stub_for, B, proposal.version)
    assert done.counted
    assert done.version.state == policy_pb2.POLICY_STATE_ACTIVE
    assert [a.by for a in done.version.approvals] == [done.version.decided_by]
    now_active = active(stub_for)
    assert now_active.version == proposal.version
    listed = stub_for("auditor").ListPolicies(policy_pb2.ListPoliciesRequest())
    assert listed.active_version == proposal.version
    states = {v.version: v.state for v in listed.versions}
    assert states[first.version] == policy_pb2.POLICY_STATE_SUPERSEDED


def test_same_officer_twice_counts_once_and_m_of_n_needs_the_current_m(
    stub_for: StubFor,
) -> None:
    # Raising M from 1 to 2 needs the current M (1): one other officer suffices.
    raise_m = propose(stub_for, A, variant(TWO_OF_N))
    assert approve(stub_for, B, raise_m.version).version.state == policy_pb2.POLICY_STATE_ACTIVE

    change = propose(stub_for, A, variant(TWO_OF_N, SHORTER))
    first = approve(stub_for, B, change.version)
    assert first.counted and first.version.state == policy_pb2.POLICY_STATE_PROPOSED
    assert first.version.approvals_required == 2
    again = approve(stub_for, B, change.version)
    assert not again.counted
    assert again.version.state == policy_pb2.POLICY_STATE_PROPOSED
    assert len(again.version.approvals) == 1
    last = approve(stub_for, C, change.version)
    assert last.version.state == policy_pb2.POLICY_STATE_ACTIVE

    # Lowering M back to 1 still needs the current M (2).
    lower = propose(stub_for, B, variant(SHORTER))
    assert approve(stub_for, A, lower.version).version.state == policy_pb2.POLICY_STATE_PROPOSED
    assert approve(stub_for, C, lower.version).version.state == policy_pb2.POLICY_STATE_ACTIVE


@pytest.mark.parametrize("who", ["operator", "portal", "mobile", "auditor", "norole"])
def test_a_non_officer_cannot_propose_approve_or_reject(stub_for: StubFor, who: str) -> None:
    proposal = propose(stub_for, A, variant(SHORTER))
    calls: list[Callable[[], object]] = [
        lambda: stub_for(who).ProposePolicy(policy_pb2.ProposePolicyRequest(document="x")),
        lambda: approve(stub_for, who, proposal.version),
        lambda: stub_for(who).RejectPolicy(policy_pb2.RejectPolicyRequest(version=1)),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as err:
            call()
        refused(err.value, grpc.StatusCode.PERMISSION_DENIED, "ZID-0003")
    assert active(stub_for).state == policy_pb2.POLICY_STATE_ACTIVE
    assert active(stub_for).version != proposal.version


def test_the_auditor_reads_lists_diffs_and_dry_runs(stub_for: StubFor) -> None:
    proposal = propose(stub_for, A, variant(Z_ONLY))
    auditor = stub_for("auditor")
    assert auditor.GetPolicy(policy_pb2.GetPolicyRequest(version=proposal.version)).version.name
    assert len(auditor.ListPolicies(policy_pb2.ListPoliciesRequest()).versions) == 2
    diff = auditor.DiffPolicy(policy_pb2.DiffPolicyRequest(version=proposal.version))
    assert [(c.path, c.old_value, c.new_value) for c in diff.changes] == [
        ("uzi.card_types", '["Z", "N"]', '["Z"]')
    ]
    assert '-      "N"' in diff.unified_diff
    auditor.DryRunPolicy(policy_pb2.DryRunPolicyRequest(version=proposal.version))


def test_an_expired_proposal_cannot_be_approved(
    stub_for: StubFor, policy_server: PolicyServer
) -> None:
    proposal = propose(stub_for, A, variant(SHORTER), lifetime_seconds=3600)
    policy_server.clock.advance(timedelta(hours=1, seconds=1))
    with pytest.raises(grpc.RpcError) as err:
        approve(stub_for, B, proposal.version)
    assert "expired at" in refused(err.value, grpc.StatusCode.FAILED_PRECONDITION, "ZID-1504")
    got = stub_for(B).GetPolicy(policy_pb2.GetPolicyRequest(version=proposal.version)).version
    assert got.state == policy_pb2.POLICY_STATE_EXPIRED


def test_any_officer_rejects_and_a_rejected_version_cannot_be_approved(
    stub_for: StubFor,
) -> None:
    proposal = propose(stub_for, A, variant(SHORTER))
    rejected = stub_for(C).RejectPolicy(
        policy_pb2.RejectPolicyRequest(version=proposal.version, reason="not now")
    )
    assert rejected.version.state == policy_pb2.POLICY_STATE_REJECTED
    assert rejected.version.reason == "not now"
    with pytest.raises(grpc.RpcError) as err:
        approve(stub_for, B, proposal.version)
    refused(err.value, grpc.StatusCode.FAILED_PRECONDITION, "ZID-1505")


def test_scheduled_activation_waits_for_its_time(
    stub_for: StubFor, policy_server: PolicyServer
) -> None:
    first = active(stub_for)
    when = Timestamp()
    when.FromDatetime(policy_server.clock.now + timedelta(days=1))
    proposal = propose(stub_for, A, variant(SHORTER), activate_at=when)
    approved = approve(stub_for, B, proposal.version)
    assert approved.version.state == policy_pb2.POLICY_STATE_APPROVED
    assert active(stub_for).version == first.version
    policy_server.clock.advance(timedelta(days=1, seconds=1))
    assert active(stub_for).version == proposal.version
    with policy_server.engine.connect() as conn:
        last = conn.execute(
            sa.select(audit_events.c.action, audit_events.c.actor_identity)
            .order_by(audit_events.c.seq.desc())
            .limit(1)
        ).one()
    assert tuple(last) == ("policy.activate", "engine:schedule")
    with pytest.raises(grpc.RpcError) as err:
        propose(stub_for, A, variant(Z_ONLY), activate_at=Timestamp(seconds=1))
    refused(err.value, grpc.StatusCode.INVALID_ARGUMENT, "ZID-1509")


def test_rollback_is_a_new_proposal_of_an_old_version(stub_for: StubFor) -> None:
    original = active(stub_for)
    change = propose(stub_for, A, variant(SHORTER))
    approve(stub_for, B, change.version)
    back = propose(stub_for, B, original.document, reason=f"roll back to {original.version}")
    assert back.version > change.version
    assert back.policy_digest == original.policy_digest
    assert approve(stub_for, C, back.version).version.state == policy_pb2.POLICY_STATE_ACTIVE
    assert active(stub_for).policy_digest == original.policy_digest


@pytest.mark.parametrize(
    ("change", "code", "needle"),
    [
        (('trust_set = "acc"', 'trust_set = "./no/such/trust"'), "ZID-1501", "uzi.trust_set"),
        (
            ("extra_ekus = []", 'extra_ekus = ["1.3.6.1.5.5.7.3.1"]'),
            "ZID-1501",
            "profile.extra_ekus[0]': got unknown OID 1.3.6.1.5.5.7.3.1",
        ),
        (
            ('allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p256", "ed448"]'),
            "ZID-1501",
            "keys.allowed[1]': got 'ed448'",
        ),
        (("login_seconds = 300", "login_seconds = 5"), "ZID-1501", "qr.login_seconds"),
        (
            ('cps_uri = "http://127.0.0.1:8080/cps"', 'cps_uri = "http://example.nl/a b"'),
            "ZID-1502",
            "invalid_uri_syntax",
        ),
    ],
    ids=["trust-set", "eku-oid", "key-type", "lifetime", "lint"],
)
def test_validation_at_proposal_refuses_with_precise_messages(
    stub_for: StubFor, change: tuple[str, str], code: str, needle: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        propose(stub_for, A, variant(change))
    assert needle in refused(err.value, grpc.StatusCode.INVALID_ARGUMENT, code)
    listed = stub_for(A).ListPolicies(policy_pb2.ListPoliciesRequest())
    assert len(listed.versions) == 1


def test_a_proposal_without_changes_is_refused(stub_for: StubFor) -> None:
    with pytest.raises(grpc.RpcError) as err:
        propose(stub_for, A, "# only a comment differs\n" + variant())
    assert "equal to active version 1" in refused(
        err.value, grpc.StatusCode.INVALID_ARGUMENT, "ZID-1501"
    )


def test_a_profile_whose_certificates_would_outlive_the_issuing_ca_is_refused(
    stub_for: StubFor, policy_server: PolicyServer, policy_ca: CaSetup
) -> None:
    active(stub_for)
    ca_end = policy_ca.material.issuing_ca.not_valid_after_utc
    policy_server.clock.now = ca_end - timedelta(days=30)
    with pytest.raises(grpc.RpcError) as err:
        propose(stub_for, A, variant(SHORTER))
    detail = refused(err.value, grpc.StatusCode.INVALID_ARGUMENT, "ZID-1501")
    assert "profile.validity_days': got 90 days" in detail and "issuing CA does" in detail


def test_a_tampered_stored_policy_is_refused_at_load(
    stub_for: StubFor, policy_server: PolicyServer, policy_ca: CaSetup
) -> None:
    first = active(stub_for)
    store = policy_server.runtime.get()
    public_key = policy_ca.material.audit_public_key
    seen = read_active(policy_server.engine, public_key)
    assert seen is not None and seen.version == first.version
    document = json.loads(first.document)
    document["profile"]["validity_days"] = 3650
    with policy_server.engine.begin() as conn:
        conn.execute(
            policy_versions.update()
            .where(policy_versions.c.version == first.version)
            .values(document=json.dumps(document, sort_keys=True, separators=(",", ":")))
        )
    with pytest.raises(grpc.RpcError) as err:
        active(stub_for)
    detail = refused(err.value, grpc.StatusCode.DATA_LOSS, "ZID-1508")
    assert f"policy version {first.version}" in detail and "edited in the database" in detail
    with pytest.raises(ZorgIdError) as direct:
        ActivePolicy.of_store(store).current()
    assert direct.value.code == "ZID-1508"
    with pytest.raises(ZorgIdError) as public_only:
        read_active(policy_server.engine, public_key)
    assert public_only.value.code == "ZID-1508"

    # Same document and digest, but an approval added behind the engine's back.
    with policy_server.engine.begin() as conn:
        conn.execute(
            policy_versions.update()
            .where(policy_versions.c.version == first.version)
            .values(
                document=first.document,
                approvals=[{"by": "CN=mallory", "at": "2026-01-01T00:00:00+00:00"}],
            )
        )
    with pytest.raises(grpc.RpcError) as err:
        active(stub_for)
    assert "signature does not match" in refused(err.value, grpc.StatusCode.DATA_LOSS, "ZID-1508")


def test_every_transition_is_audited_with_the_officer(
    stub_for: StubFor, policy_server: PolicyServer
) -> None:
    proposal = propose(stub_for, A, variant(SHORTER))
    with pytest.raises(grpc.RpcError):
        approve(stub_for, A, proposal.version)
    approve(stub_for, B, proposal.version)
    with policy_server.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                audit_events.c.action, audit_events.c.outcome, audit_events.c.actor_identity
            ).order_by(audit_events.c.seq)
        ).all()
        result = verify_chain(conn, None)
    assert result.ok, result
    seen = [(r.action, r.outcome, r.actor_identity.split(",")[0]) for r in rows]
    assert seen == [
        ("policy.bootstrap", "success", "engine:bootstrap"),
        ("policy.propose", "success", "CN=officer-a security officer"),
        ("policy.approve", "refused", "CN=officer-a security officer"),
        ("policy.approve", "success", "CN=officer-b security officer"),
        ("policy.supersede", "success", "CN=officer-b security officer"),
        ("policy.activate", "success", "CN=officer-b security officer"),
    ]


def test_active_policy_cache_follows_activation_and_keeps_the_taken_object(
    stub_for: StubFor, policy_server: PolicyServer
) -> None:
    cache = ActivePolicy.of_store(policy_server.runtime.get())
    taken = cache.current()
    assert cache.current() is taken  # nothing changed: the same object
    proposal = propose(stub_for, A, variant(SHORTER))
    assert cache.current() is taken  # a proposal is not an activation
    approve(stub_for, B, proposal.version)
    after = cache.current()
    assert after.version == proposal.version
    assert after.policy.profile.validity_days == 90
    assert taken.policy.profile.validity_days == 365  # a request in flight keeps its version


def test_concurrent_proposals_and_approvals_serialise(
    stub_for: StubFor, policy_server: PolicyServer
) -> None:
    raise_m = propose(stub_for, A, variant(TWO_OF_N))
    approve(stub_for, B, raise_m.version)
    texts = [
        variant(TWO_OF_N, SHORTER),
        variant(TWO_OF_N, Z_ONLY),
        variant(TWO_OF_N, ("login_seconds = 300", "login_seconds = 240")),
    ]
    with ThreadPoolExecutor(3) as pool:
        made = list(
            pool.map(lambda w: propose(stub_for, w[0], w[1]), zip((A, B, C), texts, strict=True))
        )
    assert len({m.version for m in made}) == 3
    target = made[0].version  # proposed by A: B and C approve at the same time
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda who: approve(stub_for, who, target), (B, C)))
    assert all(r.counted for r in results)
    assert sorted(r.version.state for r in results) == [
        policy_pb2.POLICY_STATE_PROPOSED,
        policy_pb2.POLICY_STATE_ACTIVE,
    ]
    assert active(stub_for).version == target
    with policy_server.engine.connect() as conn:
        activations = conn.execute(
            sa.select(sa.func.count())
            .select_from(audit_events)
            .where(
                audit_events.c.action == "policy.activate",
                audit_events.c.subject == f"policy:{target}",
            )
        ).scalar_one()
    assert activations == 1


def test_racing_deciding_approvals_and_scheduled_reads_activate_once(
    stub_for: StubFor, policy_server: PolicyServer
) -> None:
    first = active(stub_for)
    proposal = propose(stub_for, A, variant(SHORTER))

    def try_approve(who: str) -> str:
        try:
            return str(approve(stub_for, who, proposal.version).version.state)
        except grpc.RpcError as err:
            return str(error_info(err).reason)

    with ThreadPoolExecutor(2) as pool:  # B and C both give the deciding approval (M = 1)
        outcomes = sorted(pool.map(try_approve, (B, C)))
    assert outcomes == sorted([str(policy_pb2.POLICY_STATE_ACTIVE), "ZID-1505"]), outcomes

    when = Timestamp()
    when.FromDatetime(policy_server.clock.now + timedelta(hours=1))
    later = propose(stub_for, A, variant(Z_ONLY), activate_at=when)
    approve(stub_for, B, later.version)
    policy_server.clock.advance(timedelta(hours=2))
    with ThreadPoolExecutor(4) as pool:
        seen = set(pool.map(lambda _: active(stub_for).version, range(8)))
    assert seen == {later.version}
    with policy_server.engine.connect() as conn:
        rows = conn.execute(
            sa.select(policy_versions.c.version, policy_versions.c.state).order_by(
                policy_versions.c.version
            )
        ).all()
    assert [(r.version, r.state) for r in rows] == [
        (first.version, "superseded"),
        (proposal.version, "superseded"),
        (later.version, "active"),
    ]
