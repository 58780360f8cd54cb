"""Choosing the database for a command line: ``--database URL`` or ``--config FILE``.

Shared by ``zorgid db`` and ``zorgid audit`` so both resolve a config file's
``[database] url`` (default: the SQLite file under ``data_dir``) the same way.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from issuer.config import Config, load_config


class DatabaseChoiceError(Exception):
    """Neither or both of ``--database`` and ``--config`` were given."""


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the mutually exclusive ``--database URL`` / ``--config FILE`` options."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy URL, e.g. sqlite:////var/lib/zorgid/zorgid.sqlite3 or "
        "postgresql+psycopg://user@host:5432/zorgid",
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="the engine's TOML config; its [database] url is used",
    )


def resolve(args: argparse.Namespace) -> tuple[str, Config | None]:
    """The database URL chosen on the command line, and the config if one was given.

    Raises :class:`issuer.config.ConfigError` for an unreadable or invalid config file.
    """
    if args.config is not None:
        config = load_config(args.config)
        return config.database.url, config
    if args.database:
        return str(args.database), None
    raise DatabaseChoiceError("give --database URL or --config FILE")
