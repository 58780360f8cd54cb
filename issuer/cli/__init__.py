"""The ``zorgid`` command line.

Each module in this package adds its own sub-commands through a
``register(subparsers)`` function, so that a new command is one new file and
no central table has to be edited (and merged) by every change.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence


def _version() -> str:
    """The installed distribution's version (pyproject.toml), or say it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zorgid")
    except PackageNotFoundError:
        return "(not installed: run from a checkout without `pip install`)"


def build_parser() -> argparse.ArgumentParser:
    """Collect every command module of this package into one parser."""
    parser = argparse.ArgumentParser(
        prog="zorgid", description="ZORG-ID issuance engine for UZI-based mobile IDs."
    )
    parser.add_argument("--version", action="version", version=f"zorgid {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status of docs/cli.md.

    The one place an expected failure becomes its lines and its status
    (:mod:`issuer.cli.failures`); an unexpected one is a bug and traces.
    """
    from issuer.cli.failures import Exit, classify, missing_config

    parser = build_parser()
    args = parser.parse_args(argv)
    func = args.func
    missing = missing_config(args)
    if missing is not None:
        print(f"zorgid {args.command}: {missing.message}", file=sys.stderr)
        return missing.exit
    try:
        status: int = func(args)
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except Exception as exc:
        failure = classify(exc)
        if failure is None:
            raise
        for line in failure.lines():
            print(f"zorgid {args.command}: {line}", file=sys.stderr)
        return failure.exit
    return status


if __name__ == "__main__":
    sys.exit(main())
