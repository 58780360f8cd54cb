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

``--tracemalloc FILE`` (no signals needed) writes, every ``--every`` seconds, the
top 10 differences of a ``tracemalloc`` snapshot against the first one taken (by line
and by traceback), for finding what grows in a soak (``bench/robustness.py --soak``).

    PYTHONPATH=. .venv/bin/python bench/fault_server.py [--error DeviceRemoved] \
        [--tracemalloc FILE [--every 60]] serve --config zorgid.toml

Only ``[server] processes = 1``: the hook is switched in this process only.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
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


def trace_memory(out: Path, every: float) -> None:
    """A daemon thread: each *every* s, the top growths since the first snapshot to *out*."""
    import tracemalloc

    tracemalloc.start(8)

    def run() -> None:
        first = tracemalloc.take_snapshot()
        started = time.monotonic()
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as log:
            while True:
                time.sleep(every)
                snap = tracemalloc.take_snapshot().filter_traces(
                    (tracemalloc.Filter(False, tracemalloc.__file__),)
                )
                size = tracemalloc.get_traced_memory()[0]
                minute = (time.monotonic() - started) / 60
                log.write(f"== minute {minute:.1f}: traced {size / 1e6:.2f} MB\n")
                for key in ("lineno", "traceback"):
                    for stat in snap.compare_to(first, key)[:10]:
                        frames = " <- ".join(
                            f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback
                        )
                        log.write(
                            f"  {stat.size_diff / 1e3:+9.1f} kB {stat.count_diff:+7d}  {frames}\n"
                        )
                log.flush()

    threading.Thread(target=run, name="tracemalloc", daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--error", choices=sorted(ERRORS), default="DeviceError")
    parser.add_argument("--tracemalloc", type=Path, default=None, metavar="FILE")
    parser.add_argument("--every", type=float, default=60, help="seconds between snapshots")
    args, rest = parser.parse_known_args()
    if not rest or rest[0] != "serve":
        parser.error("the arguments of `zorgid serve` expected after the runner's own")
    install_switch(_config_path(rest), ERRORS[args.error])
    if args.tracemalloc is not None:
        trace_memory(args.tracemalloc, args.every)
    from issuer.cli import main as zorgid

    return zorgid(rest)


if __name__ == "__main__":
    sys.exit(main())
