"""The pure rules of policies/versions.py, diff.py and dryrun.py on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from policies import default_policy, load_policy
from policies import versions as rules
from policies.diff import changes, unified_diff
from policies.dryrun import Outcome, RecordedRequest, dry_run
from policies.sanity import problems
from tests.policies_admin.conftest import variant

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def proposal(**kw: object) -> rules.VersionRecord:
    values: dict[str, object] = {
        "version": 2,
        "name": "dev-2",
        "document": "{}",
        "document_sha256": "00" * 32,
        "state": rules.State.PROPOSED,
        "proposed_by": "CN=a",
        "proposed_at": T0,
        "approvals": (),
        "expires_at": T0 + timedelta(days=7),
        "activate_at": None,
        "base_version": 1,
    }
    values.update(kw)
    return rules.VersionRecord(**values)  # type: ignore[arg-type]


def approve(
    record: rules.VersionRecord, who: str, m: int = 1, *, at: datetime = T0
) -> rules.VersionRecord:
    return rules.approve(
        record, officer=who, now=at, active_version=1, active_approvals_required=m
    )[0]


def test_two_of_n_needs_two_distinct_non_proposers() -> None:
    one = approve(proposal(), "CN=b", 2)
    assert one.state is rules.State.PROPOSED
    same, changed = rules.approve(
        one, officer="CN=b", now=T0, active_version=1, active_approvals_required=2
    )
    assert not changed and same == one
    two = approve(one, "CN=c", 2)
    assert two.state is rules.State.ACTIVE and two.activated_at == T0
    with pytest.raises(rules.VersionRuleError) as err:
        approve(proposal(), "CN=a")
    assert err.value.breach is rules.RuleBreach.OWN_PROPOSAL


def test_expiry_is_derived_and_bounds_hold() -> None:
    record = proposal()
    assert record.effective_state(T0 + timedelta(days=7)) is rules.State.EXPIRED
    with pytest.raises(rules.VersionRuleError) as err:
        approve(record, "CN=b", at=T0 + timedelta(days=7))
    assert err.value.breach is rules.RuleBreach.EXPIRED
    with pytest.raises(rules.VersionRuleError):
        rules.expiry_for(T0, timedelta(minutes=5))
    with pytest.raises(rules.VersionRuleError):
        rules.check_schedule(T0 + timedelta(days=91), T0)


def test_stale_base_and_schedule() -> None:
    with pytest.raises(rules.VersionRuleError) as err:
        rules.approve(
            proposal(), officer="CN=b", now=T0, active_version=3, active_approvals_required=1
        )
    assert err.value.breach is rules.RuleBreach.STALE_BASE
    later = approve(proposal(activate_at=T0 + timedelta(hours=2)), "CN=b")
    assert later.state is rules.State.APPROVED
    assert not rules.due_for_activation(later, T0 + timedelta(hours=1))
    assert rules.due_for_activation(later, T0 + timedelta(hours=2))


def test_reject_only_before_activation() -> None:
    rejected = rules.reject(proposal(), officer="CN=a", now=T0, reason="oops")
    assert rejected.state is rules.State.REJECTED and rejected.decided_by == "CN=a"
    with pytest.raises(rules.VersionRuleError):
        rules.reject(approve(proposal(), "CN=b"), officer="CN=c", now=T0, reason="")


def test_diff_ignores_layout_and_names_each_leaf() -> None:
    base = default_policy()
    same = load_policy("# a comment\n" + variant())
    assert changes(base, same) == ()
    other = load_policy(variant(("validity_days = 365", "validity_days = 90")))
    (change,) = changes(base, other)
    assert (change.path, change.old, change.new, change.kind) == (
        "profile.validity_days",
        "365",
        "90",
        "changed",
    )
    assert '+    "validity_days": 90\n' in unified_diff(base, other)


def test_dry_run_refuses_on_rsa_size_and_key_type() -> None:
    policy = default_policy()  # ec-p256, ec-p384 only
    req = RecordedRequest(
        request_id="r1",
        at=T0,
        card_type="Z",
        role="01.015",
        key_kind="rsa",
        rsa_bits=2048,
        validity_days=365,
        signature_hash="sha256",
        policy_version=1,
    )
    (item,) = dry_run(policy, [req]).items
    assert item.outcome is Outcome.REFUSED
    assert item.reasons == ("key type rsa not allowed (keys.allowed = ['ec-p256', 'ec-p384'])",)


def test_sanity_rules_name_the_key() -> None:
    bad = load_policy(
        variant(
            ("extra_ekus = []", 'extra_ekus = ["1.3.6.1.5.5.7.3.3"]'),
            ("uzi_challenge_seconds = 120", "uzi_challenge_seconds = 600"),
            ("uzi_session_seconds = 900", "uzi_session_seconds = 300"),
        )
    )
    assert [p.path for p in problems(bad)] == ["profile.extra_ekus[0]", "qr.uzi_challenge_seconds"]
    assert problems(default_policy()) == []
