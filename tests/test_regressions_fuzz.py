"""Inputs the fuzz targets (fuzz/, docs/robustness.md) found crashing the engine, and the
documented refusal each gets now.

Each folder of ``tests/fixtures/regressions/`` named after a target holds the inputs
(``*.bin``) and ``index.jsonl`` (what was raised, where, and what is expected now);
``make fuzz`` also seeds its target with them. A file without an expectation here fails.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import pytest

from fuzz.refusals import UndocumentedRefusal, refused
from fuzz.targets.grpc_servicers import methods
from issuer.errors import Code, ZorgIdError
from issuer.server.policy_service import PolicyServicer
from issuer.server.roles import ALL_ROLES, Caller, _reset_caller, _set_caller
from policies import PolicyError, load_policy
from tests.regressions import REGRESSIONS

POLICY: Final = REGRESSIONS / "policy-toml"
POLICY_REFUSALS: Final[dict[str, str]] = {
    # file: the key the PolicyError names (urlsplit raised ValueError "Invalid IPv6 URL")
    "5e8b08ba0fcea20b.bin": "profile.certificate_policies[0].cps_uri",
    "90eff7ec042b2f75.bin": "profile.ocsp_url",
}
SERVICERS: Final = REGRESSIONS / "grpc-servicers"
SERVICER_REFUSALS: Final[dict[str, tuple[str, str]]] = {
    # file: (the request field named, ZID code); Timestamp.ToDatetime raised ValueError
    "0ddfe39d84ccb506.bin": ("since", "ZID-0005"),  # DryRunPolicy
    "b3bfdf42c12797c8.bin": ("activate_at", "ZID-0005"),  # ProposePolicy
}
EXPECTED: Final[dict[Path, Mapping[str, object]]] = {
    POLICY: POLICY_REFUSALS,
    SERVICERS: SERVICER_REFUSALS,
}


@pytest.mark.parametrize("folder", sorted(EXPECTED), ids=lambda p: p.name)
def test_every_input_has_an_expected_refusal_and_an_index_line(folder: Path) -> None:
    files = {p.name for p in folder.glob("*.bin")}
    indexed = {json.loads(line)["input"] for line in (folder / "index.jsonl").open()}
    assert files == set(EXPECTED[folder]) == indexed


@pytest.mark.parametrize("name", sorted(POLICY_REFUSALS))
def test_a_policy_url_urlsplit_cannot_read_is_refused_naming_its_key(name: str) -> None:
    with pytest.raises(PolicyError) as refused:
        load_policy((POLICY / name).read_text())
    assert refused.value.path == POLICY_REFUSALS[name]
    assert "http" in refused.value.expected


class _NoStore:
    """A policy store the refused request must never reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was asked for {name}; the request should be refused first")


def _servicer_input(name: str) -> tuple[str, Any]:
    """(method name, request) of a servicer regression input: byte 0 is the fuzz target's
    method index when it was found, so the method is taken from the index line instead."""
    line = next(json.loads(row) for row in (SERVICERS / "index.jsonl").open() if name in row)
    method = line["method"]
    request_type = dict(methods())[method]
    request = request_type()
    request.ParseFromString((SERVICERS / name).read_bytes()[1:])
    return method, request


@pytest.mark.parametrize("name", sorted(SERVICER_REFUSALS))
def test_a_timestamp_out_of_range_is_refused_naming_its_field(name: str) -> None:
    method, request = _servicer_input(name)
    field, code = SERVICER_REFUSALS[name]
    caller = Caller(identity="sha256:00", subject="CN=officer", roles=ALL_ROLES, certificate=None)
    token = _set_caller(caller)
    try:
        with pytest.raises(ZorgIdError) as refused_call:
            getattr(PolicyServicer(_NoStore), method.rsplit("/", 1)[1])(request, None)
    finally:
        _reset_caller(token)
    assert refused_call.value.code == code
    assert field in refused_call.value.detail


# -- the fuzz targets' own rules (fuzz/refusals.py) --------------------------------------------


def test_a_documented_type_with_the_internal_code_is_a_crash() -> None:
    with pytest.raises(UndocumentedRefusal), refused(ZorgIdError):
        raise ZorgIdError(Code.ZID_0001, "what the guard makes of an unexpected exception")


def test_an_undocumented_type_is_a_crash_and_a_documented_one_is_not() -> None:
    with refused(PolicyError):
        raise PolicyError("profile.ocsp_url", "'x'", "an http:// URL")
    with pytest.raises(KeyError), refused(PolicyError):
        raise KeyError("profile")


@pytest.mark.parametrize(
    ("target", "folder"),
    [("csr_checker", "csr"), ("policy_toml", "policy-toml")],
)
def test_the_pure_targets_refuse_every_regression_input(
    target: str, folder: str, tmp_path: Path
) -> None:
    one = importlib.import_module(f"fuzz.targets.{target}").build(tmp_path)
    inputs = sorted((REGRESSIONS / folder).glob("*.bin"))
    assert inputs
    for path in inputs:
        one(path.read_bytes())
