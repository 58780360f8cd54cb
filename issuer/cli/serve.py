"""``zorgid serve`` and ``zorgid config check|doc``.

``config check`` validates a file without starting anything (Boulder habit:
a config can be checked before a deploy), listing every problem at once and
exiting 2 when there is any, so a deploy script can gate on it.

``serve`` exits 2 when it does not start because of what the config says or
names (problems, a database schema behind, a key that is not its
certificate's), 4 when an address to listen on is taken, 1 when a server
process died (docs/cli.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from issuer.cli.failures import Exit
from issuer.config import Config, ConfigError, check_files, load_config, render_markdown

EXIT_DRIFT = Exit.PROBLEM


def _load(path: Path) -> tuple[Config | None, list[str]]:
    try:
        config = load_config(path)
    except ConfigError as exc:
        return None, list(exc.problems)
    return config, check_files(config)


def _summary(config: Config) -> list[str]:
    server = config.server
    mode = "PLAINTEXT (development, loopback only)" if server.dev_plaintext else "mutual TLS"
    lines = [
        f"listen      {server.listen} ({mode}), {server.processes} process(es) x "
        f"{server.workers} workers, "
        f"max message {server.max_message_bytes} bytes",
        f"data_dir    {config.data_dir}",
        f"database    {config.database.url}",
        f"hsm         token {config.hsm.token!r} via {config.hsm.module}, PIN from "
        f"{config.hsm.pin_source.kind}",
        f"role rules  {len(config.roles.rule)}",
    ]
    if config.tls is not None:
        lines.append(f"tls         cert {config.tls.cert}, client CA {config.tls.client_ca}")
    return lines


def _check(args: argparse.Namespace) -> int:
    path = Path(args.file)
    config, problems = _load(path)
    if problems or config is None:
        print(f"{path}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return Exit.USAGE
    print(f"{path}: OK")
    for line in _summary(config):
        print(f"  {line}")
    return Exit.OK


def _doc(args: argparse.Namespace) -> int:
    text = render_markdown()
    if args.check is not None:
        target = Path(args.check)
        if not target.is_file() or target.read_text() != text:
            print(f"{target} is out of date; run: zorgid config doc > {target}", file=sys.stderr)
            return EXIT_DRIFT
        return Exit.OK
    sys.stdout.write(text)
    return Exit.OK


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    path = Path(args.config)
    config, problems = _load(path)
    if problems or config is None:
        print(f"{path}: not starting, {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return Exit.USAGE
    from issuer.config import ListenError
    from issuer.errors import ZorgIdError
    from issuer.server.app import ServerProcessError  # grpc only when serving
    from issuer.store import SchemaOutOfDateError
    from issuer.wiring import serve

    try:
        serve(config)
    except SchemaOutOfDateError as exc:  # its message names the command that fixes it
        print(f"{path}: not starting: {exc}", file=sys.stderr)
        return Exit.USAGE
    except ZorgIdError as exc:  # ZID-0110: a configured HSM key is not its certificate's
        print(f"{path}: not starting: {exc.message}", file=sys.stderr)
        print(f"solution: {exc.spec.solution_en}", file=sys.stderr)
        return Exit.USAGE
    except ListenError as exc:  # [server] or [metrics] listen taken: exit 4 as everywhere
        print(f"{path}: not starting: {exc}", file=sys.stderr)
        return Exit.UNREACHABLE
    except ServerProcessError as exc:  # [server] processes: one of them died
        print(f"{path}: stopped: {exc}", file=sys.stderr)
        return Exit.PROBLEM
    return Exit.OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` and ``config``."""
    serve = subparsers.add_parser("serve", help="run the gRPC server (mTLS)")
    serve.add_argument("--config", required=True, metavar="FILE", help="the TOML config file")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(func=_serve)

    config = subparsers.add_parser("config", help="check or document the configuration")
    sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate FILE without starting; exit 2 on problems")
    check.add_argument("file", metavar="FILE")
    check.set_defaults(func=_check)
    doc = sub.add_parser("doc", help="print the configuration reference (docs/config.md)")
    doc.add_argument(
        "--check", metavar="MD", default=None, help="exit 1 if MD differs from what is generated"
    )
    doc.set_defaults(func=_doc)
