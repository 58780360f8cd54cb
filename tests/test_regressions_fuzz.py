"""Inputs the fuzz targets (fuzz/, docs/robustness.md) found crashing the engine, and the
documented refusal each gets now.

Each folder of ``tests/fixtures/regressions/`` named after a target holds the inputs
(``*.bin``) and ``index.jsonl`` (what was raised, where, and what is expected now);
``make fuzz`` also seeds its target with them. A file without an expectation here fails.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Final

import pytest

from fuzz.refusals import UndocumentedRefusal, refused
from issuer.errors import Code, ZorgIdError
from policies import PolicyError, load_policy
from tests.regressions import REGRESSIONS

POLICY: Final = REGRESSIONS / "policy-toml"
POLICY_REFUSALS: Final[dict[str, str]] = {
    # file: the key the PolicyError names (urlsplit raised ValueError "Invalid IPv6 URL")
    "5e8b08ba0fcea20b.bin": "profile.certificate_policies[0].cps_uri",
    "90eff7ec042b2f75.bin": "profile.ocsp_url",
}
EXPECTED: Final[dict[Path, dict[str, str]]] = {POLICY: POLICY_REFUSALS}


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
