"""CLI fixtures: the issuance world (real ceremony on SoftHSM, SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from tests.issuance.conftest import World, ca, new_phone, phone_hsm, world
from tests.store.dbfixtures import database, engine, migrated, migrated_db

__all__ = ["ca", "database", "engine", "migrated", "migrated_db", "new_phone", "phone_hsm", "world"]


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
