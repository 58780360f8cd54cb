"""Network namespaces the two-node test makes for its nodes, and removes again.

Each node gets a namespace of its own joined to the test's namespace by a veth pair
with a /30 of addresses the test assigns: the nodes are reached at those addresses
only, and nothing leaves the machine. Names start with ``zid-<pid>-`` (links
``zid<pid><n>``), so a run removes what a crashed earlier run of the same prefix left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass

PREFIX = "zid-"
SUBNET = "10.213"
"""The test's own addresses: 10.213.<k>.0/30 per node, k from the pid (two runs apart)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def require_root_networking() -> None:
    """Fail (never skip) with what is missing: the test needs ``ip netns`` and root."""
    missing = []
    if shutil.which("ip") is None:
        missing.append("the `ip` command (Debian package iproute2; `make system-deps`)")
    if os.geteuid() != 0:
        missing.append("root (ip netns add and veth pairs need CAP_NET_ADMIN; CI runs as root)")
    if missing:
        raise RuntimeError("the two-node deployment test needs " + " and ".join(missing))


@dataclass(frozen=True)
class Namespace:
    """One node's namespace: ``address`` inside it, ``gateway`` on the test's side."""

    name: str
    link: str
    address: str
    gateway: str

    def command(self, *argv: str) -> list[str]:
        """*argv* run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]


def remove_leftovers() -> list[str]:
    """Delete namespaces and links of earlier runs (``zid-``/``zid`` + a dead pid)."""
    removed = []
    for line in _ip("netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX) and not _alive(name.split("-")[1]):
            _kill_inside(name)
            _ip("netns", "delete", name, check=False)
            removed.append(name)
    return removed


def _kill_inside(name: str) -> None:
    """SIGKILL what still runs in namespace *name* (a node of a run that crashed)."""
    for pid in _ip("netns", "pids", name, check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def _alive(pid: str) -> bool:
    return pid.isdigit() and os.path.exists(f"/proc/{pid}")


def make(index: int) -> Namespace:
    """Namespace ``zid-<pid>-<index>`` (index 1 or 2), its veth pair up, .1/.2 of a /30."""
    pid = os.getpid()
    name = f"{PREFIX}{pid}-{index}"
    link = f"zid{pid}{index}"[:15]
    peer = f"{link[:12]}n{index}"[:15]
    octet = 2 * (pid % 120) + index
    gateway, address = f"{SUBNET}.{octet}.1", f"{SUBNET}.{octet}.2"
    _ip("netns", "add", name)
    try:
        _ip("link", "add", link, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", name)
        _ip("addr", "add", f"{gateway}/30", "dev", link)
        _ip("link", "set", link, "up")
        inside = ["-n", name]
        _ip(*inside, "addr", "add", f"{address}/30", "dev", peer)
        _ip(*inside, "link", "set", peer, "up")
        _ip(*inside, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as exc:
        remove(Namespace(name, link, address, gateway))
        raise RuntimeError(f"making namespace {name}: {' '.join(exc.cmd)}: {exc.stderr}") from exc
    return Namespace(name, link, address, gateway)


def remove(ns: Namespace) -> None:
    """Delete the namespace, after anything still running in it, and the test's end of
    the pair (deleting one end of a veth pair deletes both)."""
    _kill_inside(ns.name)
    _ip("link", "delete", ns.link, check=False)
    _ip("netns", "delete", ns.name, check=False)
