"""``python -m portal``: the reference portal in front of a running engine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from aiohttp import web

from portal.app import make_app
from portal.engine import EngineClient
from portal.web import Companions


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m portal", description=__doc__)
    parser.add_argument("--engine", required=True, help="the engine's gRPC HOST:PORT")
    parser.add_argument("--cert", required=True, type=Path, help="portal client certificate (PEM)")
    parser.add_argument("--key", required=True, type=Path, help="its private key (PEM)")
    parser.add_argument("--ca", required=True, type=Path, help="CA of the engine's TLS certificate")
    parser.add_argument("--server-name", default="", help="TLS name to expect (default: host)")
    parser.add_argument("--listen", default="127.0.0.1:8000", type=_host_port, help="HOST:PORT")
    parser.add_argument(
        "--companions",
        default="",
        help="development only: base URL of the Mobile App and Desktop App pages to link to",
    )
    return parser


async def _serve(args: argparse.Namespace) -> None:
    for path in (args.cert, args.key, args.ca):
        if not path.is_file():
            raise SystemExit(f"portal: {path} is not a file; give the portal's PEM files")
    engine = EngineClient(
        args.engine, cert=args.cert, key=args.key, ca=args.ca, server_name=args.server_name
    )
    companions = Companions(args.companions.rstrip("/") + "/" if args.companions else "")
    # No access log: the desktop and card link paths carry one-use connection codes.
    runner = web.AppRunner(make_app(engine, companions=companions), access_log=None)
    await runner.setup()
    host, port = args.listen
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    print(f"Portal at http://{bound[0]}:{bound[1]}/ (engine {args.engine})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parser().parse_args()))


if __name__ == "__main__":
    main()
