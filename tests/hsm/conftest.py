"""Fixtures of the hsm tests: real SoftHSM tokens and keys generated once per run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hsm import Hsm, HsmPrivateKey, KeySpec
from tests.softhsm import SoftHsmDir, SoftHsmToken

# Labels on the shared engine token are prefixed so other areas' keys never collide.
PREFIX = "hsm-test-"


@pytest.fixture(scope="session")
def engine_hsm(engine_token: SoftHsmToken) -> Hsm:
    """The engine token, opened through the URI the fixtures hand out."""
    return Hsm.open(engine_token.uri)


@pytest.fixture(scope="session")
def hsm_keys(engine_hsm: Hsm) -> dict[KeySpec, HsmPrivateKey]:
    """One key per spec on the engine token (RSA-4096 keygen is slow: once per run)."""
    made: dict[KeySpec, HsmPrivateKey] = {}
    for spec in KeySpec:
        label = PREFIX + spec.value
        if engine_hsm.has_key(label):
            made[spec] = engine_hsm.get_key(label)
        else:
            made[spec] = engine_hsm.generate_key(label, spec, key_id=spec.value.encode())
    return made


@pytest.fixture(scope="session")
def second_token(softhsm_dir: SoftHsmDir) -> SoftHsmToken:
    """A second token, standing in for the simulated UZI-pas / phone tokens."""
    return softhsm_dir.init_token("hsm-second")


@pytest.fixture(scope="session")
def second_hsm(second_token: SoftHsmToken, engine_hsm: Hsm) -> Hsm:
    # engine_hsm first: the module is then already loaded when this token is made.
    return Hsm.open(second_token.uri)


def token_dir(softhsm_dir: SoftHsmDir, label: str) -> Path:
    """The SoftHSM directory holding the token with ``label`` (found via token.object)."""
    padded = label.encode().ljust(32, b" ")
    for candidate in softhsm_dir.tokens.iterdir():
        obj = candidate / "token.object"
        if obj.exists() and padded in obj.read_bytes():
            return candidate
    raise AssertionError(f"no token directory for {label!r} under {softhsm_dir.tokens}")


@pytest.fixture
def fresh_token(softhsm_dir: SoftHsmDir, request: pytest.FixtureRequest) -> Iterator[SoftHsmToken]:
    """A token made for one test (name from the test), closed afterwards."""
    label = "hsm-" + request.node.name.removeprefix("test_")[:24]
    token = softhsm_dir.init_token(label)
    yield token
    found = Hsm._registry.get((str(Path(token.module).resolve()), label))
    if found is not None:
        found.close()
