"""Run the fuzz targets with atheris (libFuzzer) and print what each did.

``python -m fuzz.run [--seconds N] [--runs N] [--work DIR] [TARGET ...]`` (``make fuzz``):
makes the seed corpora (:mod:`fuzz.seeds`), then runs each target in its own
process, one after the other, for ``--seconds`` (or ``--runs`` inputs), with a
hang limit of one second an input (``-timeout=1``) and a memory limit
(``-rss_limit_mb``). Prints per target: inputs executed, inputs a second, crashes
(inputs kept under ``<work>/crashes/<target>/``), and libFuzzer's coverage
counters (``cov``: edges reached in the instrumented code; ``ft``: features).
Exit 1 when a target crashed.

``python -m fuzz.run --one TARGET [libFuzzer arguments]`` runs one target in
this process (what the runner starts; also to reproduce: give a crash file).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fuzz import env
from fuzz.targets import TARGETS

INSTRUMENTED = ["issuer", "ocsp", "policies", "hsm", "fuzz.targets", "asn1crypto"]
"""The code whose branches guide the search: the engine and the pure-Python ASN.1 parser."""
HANG_SECONDS = 1
RSS_LIMIT_MB = 2048
CRASH_EXIT = 70
"""Exit status of a target process that kept a crash (libFuzzer's own are 1, 70, 71, 77)."""
_STATS = re.compile(r"^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+)")
_ARTIFACTS = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-")


@dataclass(frozen=True, kw_only=True)
class Result:
    target: str
    executed: int
    seconds: float
    """Fuzzing time (libFuzzer's rate over it), without the target's start-up."""
    coverage: int
    features: int
    crashes: list[Path]
    exit_code: int

    @property
    def rate(self) -> float:
        return self.executed / self.seconds if self.seconds else 0.0


def guarded(test_one_input: Callable[[bytes], None], artifacts: str) -> Callable[[bytes], None]:
    """*test_one_input*, keeping the input of a crash and ending the process at once.

    Atheris leaves an uncaught exception to the interpreter's exit, which waits for the
    target's worker threads (a CRL fetch of the servicers' UZI verifier, a thread pool)
    until libFuzzer's alarm kills it, and the input is lost: so it is written here,
    with the traceback, and the process ends with ``os._exit``.
    """

    def run(data: bytes) -> None:
        try:
            test_one_input(data)
        except BaseException:
            path = Path(f"{artifacts}crash-{hashlib.sha1(data).hexdigest()}")  # noqa: S324
            path.write_bytes(data)
            print("=== Uncaught Python exception: ===", file=sys.stderr)
            traceback.print_exc()
            print(f"Test unit written to {path}", file=sys.stderr, flush=True)
            os._exit(CRASH_EXIT)

    return run


def one(target: str, work: Path, libfuzzer_args: list[str]) -> None:
    """Instrument the engine, build *target* and hand it to libFuzzer (never returns)."""
    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        module = importlib.import_module(f"fuzz.targets.{target}")
        test_one_input = module.build(work)
    prefixes = [a.split("=", 1)[1] for a in libfuzzer_args if a.startswith("-artifact_prefix=")]
    runner = guarded(test_one_input, prefixes[-1] if prefixes else "./")
    atheris.Setup([sys.argv[0], *libfuzzer_args], runner)
    atheris.Fuzz()


def _parse(target: str, log: str, seconds: float, crashes: list[Path], code: int) -> Result:
    executed = coverage = features = 0
    rate = 0.0
    for line in log.splitlines():
        match = _STATS.match(line)
        if match:
            executed, coverage, features = (int(g) for g in match.groups())
        elif line.startswith("stat::number_of_executed_units:"):
            executed = int(line.split(":")[-1])
        elif line.startswith("stat::average_exec_per_sec:"):
            rate = float(line.split(":")[-1])
    return Result(
        target=target,
        executed=executed,
        seconds=executed / rate if rate else seconds,
        coverage=coverage,
        features=features,
        crashes=crashes,
        exit_code=code,
    )


def fuzz(target: str, work: Path, *, seconds: int, runs: int | None) -> Result:
    """Run *target* in a child process; its libFuzzer log goes to ``<work>/logs/``."""
    from fuzz.seeds import corpus_dir

    crashes = work / "crashes" / target
    crashes.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    before = set(crashes.iterdir())
    args = [
        str(corpus_dir(work, target)),
        f"-max_total_time={seconds}",
        f"-timeout={HANG_SECONDS}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
    ]
    if runs is not None:
        args.append(f"-runs={runs}")
    command = [sys.executable, "-m", "fuzz.run", "--work", str(work), "--one", target, *args]
    started = time.monotonic()
    with (logs / f"{target}.log").open("w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=env.ROOT)
    elapsed = time.monotonic() - started
    found = sorted(p for p in set(crashes.iterdir()) - before if p.name.startswith(_ARTIFACTS))
    text = (logs / f"{target}.log").read_text(errors="replace")
    return _parse(target, text, elapsed, found, done.returncode)


def table(results: list[Result]) -> str:
    head = f"{'target':16} {'inputs':>11} {'exec/s':>8} {'crashes':>7} {'cov':>6} {'ft':>7}"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.target:16} {r.executed:>11,} {r.rate:>8,.0f} {len(r.crashes):>7} "
            f"{r.coverage:>6} {r.features:>7}"
        )
        lines += [f"  {r.target}: {p}" for p in r.crashes]
        if r.exit_code and not r.crashes:
            lines.append(
                f"  {r.target}: ended with status {r.exit_code}, no input kept (see its log)"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--work", type=Path, default=env.DEFAULT_WORK)
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--runs", type=int, default=None, help="stop a target after N inputs")
    parser.add_argument("--one", metavar="TARGET", choices=TARGETS, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.one:
        one(args.one, args.work, rest)
        return 0
    targets = rest or list(TARGETS)
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        parser.error(f"unknown targets {unknown}; expected some of {list(TARGETS)}")
    from fuzz.seeds import make

    make(args.work, targets)
    results = []
    for target in targets:
        print(f"fuzzing {target} for {args.seconds} s ...", flush=True)
        results.append(fuzz(target, args.work, seconds=args.seconds, runs=args.runs))
    print(table(results))
    return 1 if any(r.crashes or r.exit_code for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
