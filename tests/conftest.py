"""Fixtures every test area shares: one real SoftHSM2 token directory per run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.softhsm import SoftHsmDir, SoftHsmToken


@pytest.fixture(scope="session")
def softhsm_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsmDir]:
    """This run's own SoftHSM token directory, active for the whole process."""
    made = SoftHsmDir.create(tmp_path_factory.mktemp("softhsm"))
    made.activate()
    yield made


@pytest.fixture(scope="session")
def engine_token(softhsm_dir: SoftHsmDir) -> SoftHsmToken:
    """The token that holds the engine's own keys during this run."""
    return softhsm_dir.init_token("zorgid-test")
