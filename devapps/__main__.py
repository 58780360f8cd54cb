"""``python -m devapps`` (what ``make run`` runs): the engine, the portal and its companions.

Starts ``zorgid dev`` (the engine on its embedded default) as a child process, waits until
it serves, registers the development organisations, serves the Mobile App and Desktop App
pages, and starts the reference portal (``python -m portal``) as a second child with the
portal's development client certificate, linking to the companions. Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from aiohttp import web

READY = "ZORG-ID development stack ready"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devapps", description=__doc__)
    parser.add_argument("--data-dir", default="var", type=Path, help="default: ./var")
    parser.add_argument(
        "--engine-listen", default="", help="engine gRPC; default: the config's (zorgid dev)"
    )
    parser.add_argument("--ocsp-listen", default="", help="OCSP/CRL HTTP; default: the config's")
    parser.add_argument("--portal-listen", default="127.0.0.1:8000", help="the portal")
    parser.add_argument("--apps-listen", default="127.0.0.1:8001", help="the companion pages")
    return parser


class Child:
    """A child process whose output is relayed to ours, watched for a line."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._relay, daemon=True, name=f"relay-{name}").start()

    def _relay(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            sys.stdout.write(f"[{self.name}] {line}")
            sys.stdout.flush()
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        """The first output line matching ``pattern``; exits if the child ends first."""
        wanted = re.compile(pattern)
        seen = 0
        with self.changed:
            while True:
                for line in self.lines[seen:]:
                    found = wanted.search(line)
                    if found:
                        return found
                seen = len(self.lines)
                status = self.proc.poll()
                if status is not None:  # it said why above; its exit status is ours
                    print(f"devapps: {self.name} exited with {status}", file=sys.stderr)
                    raise SystemExit(status if status > 0 else 1)
                if not self.changed.wait(timeout):
                    raise SystemExit(f"devapps: {self.name} did not print {pattern!r} in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _engine(args: argparse.Namespace) -> tuple[Child, int]:
    argv = [str(Path(sys.executable).with_name("zorgid")), "dev", "--data-dir", str(args.data_dir)]
    if args.engine_listen:
        argv += ["--listen", args.engine_listen]
    if args.ocsp_listen:
        argv += ["--ocsp-listen", args.ocsp_listen]
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}  # the engine's own
    engine = Child("engine", argv, env)
    port = int(engine.wait_for(r"serving gRPC over mutual TLS on [\d.]+:(\d+)").group(1))
    engine.wait_for("Stop with Ctrl-C")
    return engine, port


def _portal(args: argparse.Namespace, port: int, apps_url: str) -> tuple[Child, str]:
    tls = args.data_dir / "tls"
    argv = [
        sys.executable,
        "-m",
        "portal",
        "--engine",
        f"localhost:{port}",
        "--cert",
        str(tls / "clients" / "portal.pem"),
        "--key",
        str(tls / "clients" / "portal.key"),
        "--ca",
        str(tls / "client-ca.pem"),
        "--listen",
        args.portal_listen,
        "--companions",
        apps_url,
    ]
    portal = Child("portal", argv, dict(os.environ))
    return portal, portal.wait_for(r"Portal at (http://\S+/)").group(1)


async def _serve_apps(args: argparse.Namespace, port: int) -> tuple[web.AppRunner, str]:
    from devapps.app import make_app
    from devapps.world import DevWorld

    world = await asyncio.to_thread(DevWorld.open, args.data_dir, f"localhost:{port}")
    await asyncio.to_thread(world.register_organisations)
    # No access log: a deep link's ?scan= / ?connect= carries a QR token or a session.
    runner = web.AppRunner(make_app(world), access_log=None)
    await runner.setup()
    host, _, listen_port = args.apps_listen.rpartition(":")
    await web.TCPSite(runner, host, int(listen_port)).start()
    bound = runner.addresses[0]
    return runner, f"http://{bound[0]}:{bound[1]}/"


def _check_ports(args: argparse.Namespace) -> None:
    """Refuse a taken portal or companions address before the engine starts (issue 21).

    Why first: the engine's first start takes a minute and makes ``var/``; a port found
    taken after that wasted it. The engine checks its own addresses the same way. Checked
    and let go (the portal binds its own in its own process): a port taken in between is
    still reported by the one that binds it.
    """
    from issuer.cli.failures import Exit
    from issuer.dev.listen import bind

    for option, listen in (
        ("--portal-listen", args.portal_listen),
        ("--apps-listen", args.apps_listen),
    ):
        try:
            bind(listen).close()
        except ValueError as exc:
            print(f"python -m devapps: {option}: {exc}", file=sys.stderr)
            raise SystemExit(Exit.USAGE) from None
        except OSError as exc:
            print(
                f"python -m devapps: cannot listen on {listen} ({option}): {exc.strerror or exc}\n"
                f"python -m devapps: solution: stop what listens there, or give {option} "
                "HOST:PORT",
                file=sys.stderr,
            )
            raise SystemExit(Exit.UNREACHABLE) from None


async def _run(args: argparse.Namespace) -> None:
    _check_ports(args)
    engine, port = await asyncio.to_thread(_engine, args)
    children = [engine]
    runner = None
    try:
        runner, apps_url = await _serve_apps(args, port)
        portal, portal_url = await asyncio.to_thread(_portal, args, port, apps_url)
        children.append(portal)
        print(
            f"\n{READY}\n"
            f"  Portal       {portal_url}\n"
            f"  Mobile App   {apps_url}mobile\n"
            f"  Desktop App  {apps_url}desktop\n"
            "Open the portal in a browser; the Mobile App and Desktop App stand in for the\n"
            "phone and the UZI-pas reader (development only). Stop with Ctrl-C.",
            flush=True,
        )
        while all(child.proc.poll() is None for child in children):
            await asyncio.sleep(0.5)
        ended = next(child for child in children if child.proc.poll() is not None)
        raise SystemExit(f"devapps: {ended.name} exited with {ended.proc.returncode}")
    finally:
        for child in reversed(children):
            child.stop()
        if runner is not None:
            await runner.cleanup()


def main() -> None:
    args = _parser().parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
