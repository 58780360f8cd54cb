"""Instructions per certificate through the issuance cycle (valgrind callgrind), beside a raw HSM
signature's, in one run.

Why instructions: on a shared virtual machine the wall time of the same code
swings by 2x within minutes (docs/decisions/issuance.md, fourth session), so
a change worth a few per cent cannot be seen in certificates/s. callgrind
counts the instructions executed, which repeats to about 0.2% run to run:
a change to the cycle is judged by this figure first and by the rate after.

The cycle runs in-process, one thread, as ``bench/issuance.py`` runs it
(SQLite, OCSP pre-signing on, P-256 issuing CA): set-up, enrolment and the
phones' keys are made with instrumentation off; it is switched on
(``callgrind_control -i on``) for ``--n`` redemptions, the counters are
dumped, then for ``--n`` raw signatures of the issuing key through
python-pkcs11 (the baseline). Printed: instructions a certificate, a raw HSM
signature, their ratio, and the inclusive share of the cycle's instructions
in the parts the issue requires (SoftHSM's signing, the CSR signature check,
the lint-key signature) and in SQLite.

    PYTHONPATH=. .venv/bin/python bench/issuance_instructions.py [--n 100]

Needs valgrind (Debian package ``valgrind``). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARTS = {
    "SoftHSM signing (C_SignInit + C_Sign)": ("C_SignInit", "C_Sign"),
    "CSR signature check (ECPublicKey.verify)": ("ECPublicKey>::__pymethod_verify__",),
    "lint-key signature (ECPrivateKey.sign)": ("ECPrivateKey>::__pymethod_sign__",),
    "SQLite (sqlite3_step)": ("sqlite3_step",),
}
"""Inclusive shares to print: label -> callgrind symbol fragments (summed)."""


def child(n: int) -> None:
    """Set up, then run the two measured sections when told (one line on stdin each)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from bench.issuance import ACTOR, csrs, enrol, p256_cycle
    from hsm import Hsm
    from issuer.enrolment.redeem import Redeemer

    with tempfile.TemporaryDirectory(prefix="zorgid-instr-") as tmp:
        setup, engine, cycle = p256_cycle(Path(tmp), "instr")
        warm = 5
        tokens = enrol(engine, cycle, n + warm, 0)
        requests = csrs(n + warm)
        redeemer = Redeemer(cycle)
        for token, csr in zip(tokens[:warm], requests[:warm], strict=True):
            redeemer.redeem(token, csr, actor=ACTOR)
        key = Hsm.open(setup.token_uri).get_key("issuing-ca")
        data = os.urandom(600)  # about a TBSCertificate
        key.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,arg-type]
        print("ready", flush=True)
        sys.stdin.readline()
        for token, csr in zip(tokens[warm:], requests[warm:], strict=True):
            redeemer.redeem(token, csr, actor=ACTOR)
        print("done", flush=True)
        sys.stdin.readline()
        for _ in range(n):
            key.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[call-arg,arg-type]
        print("done", flush=True)
        sys.stdin.readline()
        engine.dispose()


def _totals(path: Path) -> int:
    found = re.search(r"^totals:\s+(\d+)", path.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no totals in {path}")
    return int(found.group(1))


def _shares(path: Path) -> dict[str, int]:
    """Inclusive instructions per :data:`PARTS` label, from ``callgrind_annotate``."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    best: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)$", line)
        if m is None:
            continue
        count, symbol = int(m.group(1).replace(",", "")), m.group(2)
        for label, fragments in PARTS.items():
            for fragment in fragments:
                # the outermost frame of each part: the symbol itself, first (largest) line
                key = f"{label}|{fragment}"
                if re.search(rf"[:>]{re.escape(fragment)}( |$|\[)", symbol) and key not in best:
                    best[key] = count
    out: dict[str, int] = dict.fromkeys(PARTS, 0)
    for key, count in best.items():
        out[key.split("|", 1)[0]] += count
    return out


def parent(n: int) -> None:
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind is not installed (Debian package valgrind): no instruction counts")
        return
    with tempfile.TemporaryDirectory(prefix="zorgid-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                "--n",
                str(n),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        assert proc.stdin is not None and proc.stdout is not None

        def expect(word: str) -> None:
            line = proc.stdout.readline().strip() if proc.stdout else ""
            if line != word:
                proc.kill()
                raise RuntimeError(f"the measured process said {line!r}; expected {word!r}")

        def control(*args: str) -> None:
            subprocess.run(["callgrind_control", *args, str(proc.pid)], capture_output=True)

        def step() -> None:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()

        expect("ready")
        control("--instr=on")
        step()
        expect("done")
        control("--dump=cycle")
        step()
        expect("done")
        control("--instr=off")
        control("--dump=raw")
        step()
        proc.wait(timeout=600)
        dumps = sorted(Path(tmp).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
        if len(dumps) < 2:
            raise RuntimeError(f"expected two callgrind dumps; got {[p.name for p in dumps]}")
        cycle_path, raw_path = dumps[0], dumps[1]
        per_cert = _totals(cycle_path) / n
        per_sign = _totals(raw_path) / n
        print(
            f"zorgid issuance instructions (callgrind, {n} in-process redemptions, SQLite, "
            f"P-256 issuing CA, OCSP pre-signing on; {os.cpu_count()} CPUs)"
        )
        print(f"  instructions a certificate:       {per_cert:12,.0f}")
        print(
            f"  instructions a raw HSM signature: {per_sign:12,.0f}"
            "  (hsm/ key.sign: SHA-256, then ECDSA in SoftHSM)"
        )
        print(f"  certificate / raw HSM signature = {per_cert / per_sign:.1f}")
        total = _totals(cycle_path)
        for label, count in _shares(cycle_path).items():
            print(f"    {label:44s} {count / total:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="redemptions (and raw signatures)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.n)
    else:
        parent(args.n)


if __name__ == "__main__":
    main()
