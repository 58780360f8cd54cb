"""``zorgid serve`` with a bench-only switch for HSM device errors: SIGUSR1 on, SIGUSR2 off.

Why a runner of the bench's and not a seam in the engine: the fault hook
(:attr:`hsm.module.LoadedModule.fault_hook`) is set inside a process, and the
engine under load is a process of its own; a config key, variable or signal in
the engine itself would be a way to break a production CA. This runner starts
the server through the engine's own entry point (:func:`issuer.cli.main`, the
``zorgid`` console script) with the same arguments, and only adds two signal
handlers in this process that switch the hook of the loaded module: while on,
every PKCS#11 operation the engine makes raises the device error chosen
(``CKR_DEVICE_ERROR`` by default) where a real one would surface.

``--memory FILE`` (no signals needed) writes, every ``--every`` seconds, what grew
since the first tick (one interval in, after warm-up): SQLite's heap, malloc's, the
compiled-statement caches, object counts by type, and with ``--tracemalloc`` the
lines that allocated; for finding what grows in a soak (``bench/robustness.py --soak``).

    PYTHONPATH=. .venv/bin/python bench/fault_server.py [--error DeviceRemoved] \
        [--memory FILE [--tracemalloc] [--every 60]] serve --config zorgid.toml

Only ``[server] processes = 1``: the hook is switched in this process only.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pkcs11 import exceptions as p11e

ERRORS: dict[str, type[p11e.PKCS11Error]] = {
    "DeviceError": p11e.DeviceError,  # CKR_DEVICE_ERROR
    "DeviceRemoved": p11e.DeviceRemoved,  # CKR_DEVICE_REMOVED
}


class DeviceErrors:
    """The fault hook: while :attr:`failing`, every operation raises :attr:`error`."""

    def __init__(self, error: type[p11e.PKCS11Error]) -> None:
        self.error = error
        self.failing = False

    def __call__(self, operation: str) -> None:
        if self.failing:
            raise self.error()


def _config_path(argv: list[str]) -> Path:
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    raise SystemExit("fault_server: `serve --config FILE` expected")


def install_switch(config_file: Path, error: type[p11e.PKCS11Error]) -> DeviceErrors:
    """SIGUSR1/SIGUSR2 handlers that set the hook on the configured module and switch it."""
    from issuer.config import load_config

    module_path = load_config(config_file).hsm.module
    hook = DeviceErrors(error)

    def switch(signum: int, frame: FrameType | None) -> None:
        from hsm.module import load_module

        # The module the engine loaded (by then: the server opened its token at start);
        # a handler runs between bytecodes of the main thread, which holds no lock here.
        load_module(str(module_path)).fault_hook = hook
        hook.failing = signum == signal.SIGUSR1
        print(f"fault_server: device errors {'on' if hook.failing else 'off'}", flush=True)

    signal.signal(signal.SIGUSR1, switch)
    signal.signal(signal.SIGUSR2, switch)
    return hook


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost",
        )
    ]  # fmt: skip


def native_memory() -> str:
    """What tracemalloc does not see: SQLite's heap (page caches, statements) and glibc's
    malloc (in use, free but kept, mmapped), and this process's RSS."""
    sqlite = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    rss = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return (
        f"RSS {rss / 1e6:.1f} MB; SQLite heap {sqlite.sqlite3_memory_used() / 1e6:.2f} MB; "
        f"malloc in use {(info.uordblks + info.hblkhd) / 1e6:.1f} MB, free kept "
        f"{info.fordblks / 1e6:.1f} MB (arena {info.arena / 1e6:.1f}, mmapped "
        f"{info.hblkhd / 1e6:.1f})"
    )


def _engines() -> str:
    """Each shared database engine's SQLAlchemy compiled-statement cache: entries held."""
    from issuer.store import engine as store_engine

    found = [
        f"{len(e._compiled_cache) if e._compiled_cache is not None else 0}"
        for e in list(store_engine._SHARED.values())
    ]
    return f"compiled-statement cache entries {'/'.join(found) or 'none'}"


def _types() -> Counter[str]:
    return Counter(type(o).__qualname__ for o in gc.get_objects())


def watch_memory(out: Path, every: float, *, trace: bool) -> None:
    """A daemon thread: each *every* s, the native figures, the compiled-statement caches and
    the object types (and with *trace*, tracemalloc's lines) that grew since the first tick
    (one interval in, after warm-up), to *out*.

    One frame a trace: deeper tracebacks slowed the server to a quarter of the soak's rate.
    """
    import tracemalloc

    if trace:
        tracemalloc.start(1)

    def run() -> None:
        time.sleep(every)
        first = tracemalloc.take_snapshot() if trace else None
        types = _types()
        started = time.monotonic()
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as log:
            log.write(f"== first tick: {native_memory()}; {_engines()}\n")
            while True:
                time.sleep(every)
                minute = (time.monotonic() - started) / 60
                log.write(f"== {minute:.1f} min later: {native_memory()}; {_engines()}\n")
                now = _types()
                grown = sorted(((now[k] - types[k], k) for k in now), reverse=True)[:10]
                log.write("  objects: " + ", ".join(f"{k} {n:+d}" for n, k in grown) + "\n")
                if first is not None:
                    snap = tracemalloc.take_snapshot()
                    for stat in snap.compare_to(first, "lineno")[:15]:
                        frame = stat.traceback[0]
                        log.write(
                            f"  {stat.size_diff / 1e3:+9.1f} kB {stat.count_diff:+7d}  "
                            f"{frame.filename}:{frame.lineno}\n"
                        )
                log.flush()

    threading.Thread(target=run, name="memory-watch", daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--error", choices=sorted(ERRORS), default="DeviceError")
    parser.add_argument("--memory", type=Path, default=None, metavar="FILE")
    parser.add_argument("--tracemalloc", action="store_true", help="with --memory: its lines")
    parser.add_argument("--every", type=float, default=60, help="seconds between snapshots")
    args, rest = parser.parse_known_args()
    if not rest or rest[0] != "serve":
        parser.error("the arguments of `zorgid serve` expected after the runner's own")
    install_switch(_config_path(rest), ERRORS[args.error])
    if args.memory is not None:
        watch_memory(args.memory, args.every, trace=args.tracemalloc)
    from issuer.cli import main as zorgid

    return zorgid(rest)


if __name__ == "__main__":
    sys.exit(main())
