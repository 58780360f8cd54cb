"""CLI fixtures: an issuance world (real ceremony on SoftHSM, SQLite and PostgreSQL) of the
CLI tests' own, on tokens of their own (a session fixture is made once per conftest)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hsm import Hsm
from testkit.phone import Phone
from tests.issuance.conftest import CaSetup, World, build_world, make_ca
from tests.softhsm import SoftHsmDir
from tests.store.dbfixtures import Database, database, engine, migrated, migrated_db

__all__ = ["database", "engine", "migrated", "migrated_db"]


@pytest.fixture(scope="session")
def cli_ca(softhsm_dir: SoftHsmDir, tmp_path_factory: pytest.TempPathFactory) -> CaSetup:
    """The dev hierarchy on its own fresh token."""
    return make_ca(softhsm_dir, tmp_path_factory.mktemp("cli-ca"), "cli-ca")


@pytest.fixture(scope="session")
def cli_phones(softhsm_dir: SoftHsmDir) -> Hsm:
    """The phones' key store: a token of their own, never the engine's."""
    return Hsm.open(softhsm_dir.init_token("cli-phones").uri)


_phone_numbers = itertools.count()


@pytest.fixture
def new_phone(cli_phones: Hsm) -> Callable[[], Phone]:
    return lambda: Phone.create(cli_phones, f"cli-phone-{next(_phone_numbers)}", "ec-p256")


@pytest.fixture
def world(migrated_db: Database, migrated: sa.Engine, cli_ca: CaSetup) -> Iterator[World]:
    yield build_world(migrated_db, migrated, cli_ca)


def engine_config(world: World, folder: Path) -> Path:
    """A config of *world*'s engine (its token, CA material and database) for ``--config``."""
    token = world.ca.token
    path = folder / "zorgid.toml"
    path.write_text(
        f'data_dir = "{world.ca.data_dir}"\n\n'
        "[server]\ndev_plaintext = true\n\n"
        f'[hsm]\nmodule = "{token.module}"\ntoken = "{token.label}"\n'
        f'pin_source = "file:{token.pin_file}"\n\n'
        f'[database]\nurl = "{world.db.cli_url}"\n'
    )
    return path
