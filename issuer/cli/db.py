"""``zorgid db upgrade`` and ``zorgid db check``: apply and check schema migrations.

Exit status (docs/cli.md): 1 the schema needs ``db upgrade``, 2 a bad URL or
config, 4 the database not reachable.
"""

from __future__ import annotations

import argparse
import sys

from issuer.cli.failures import Exit
from issuer.store import (
    DatabaseError,
    SchemaOutOfDateError,
    check_schema,
    create_engine_for,
    current_revision,
    head_revision,
    upgrade,
)
from issuer.store.cli_support import add_database_arguments, resolve
from issuer.store.migrate import make_sqlite_folder


def _upgrade(args: argparse.Namespace) -> int:
    try:
        url, _ = resolve(args)
        engine = create_engine_for(url)
    except ValueError as exc:  # a ConfigError goes to main(): ZID-0901 and its solution
        print(f"zorgid db upgrade: {exc}", file=sys.stderr)
        return 2
    shown = engine.url.render_as_string(hide_password=True)
    try:
        make_sqlite_folder(engine)
        before = current_revision(engine)
        reached = upgrade(engine)
    except DatabaseError as exc:
        print(
            f"zorgid db upgrade: could not migrate {shown}: {exc.__class__.__name__}: "
            f"{getattr(exc, 'orig', None) or exc}; check the URL and that the database server "
            "is up",
            file=sys.stderr,
        )
        return Exit.UNREACHABLE
    finally:
        engine.dispose()
    if before == reached:
        print(f"{shown}: already at revision {reached}")
    else:
        print(f"{shown}: upgraded from {before or 'empty'} to revision {reached}")
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        url, _ = resolve(args)
        engine = create_engine_for(url)
    except ValueError as exc:  # a ConfigError goes to main(): ZID-0901 and its solution
        print(f"zorgid db check: {exc}", file=sys.stderr)
        return 2
    try:
        check_schema(engine)
    except SchemaOutOfDateError as exc:
        print(f"zorgid db check: {exc}", file=sys.stderr)
        return 1
    except DatabaseError as exc:
        print(
            f"zorgid db check: cannot read the database: {exc.__class__.__name__}: "
            f"{getattr(exc, 'orig', None) or exc}; check the URL and that the server is up",
            file=sys.stderr,
        )
        return Exit.UNREACHABLE
    finally:
        engine.dispose()
    print(f"schema is at revision {head_revision()} (up to date)")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``zorgid db upgrade`` and ``zorgid db check``."""
    db = subparsers.add_parser("db", help="database schema migrations")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    up = sub.add_parser("upgrade", help="apply every pending migration (safe to repeat)")
    add_database_arguments(up)
    up.set_defaults(func=_upgrade)
    chk = sub.add_parser(
        "check", help="exit 0 when the schema is up to date, 1 when `db upgrade` is needed"
    )
    add_database_arguments(chk)
    chk.set_defaults(func=_check)
