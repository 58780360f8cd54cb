"""Faults under a steady load of issuance, login and OCSP, each against a real engine.

Each fault runs in a process of its own (``bench/robustness.py``'s runners: an
engine subprocess, its own SoftHSM folder, ceremony and database), with short
phases so that all of them fit CI's time: 2 s of load, 3 s of fault, then load until the
recovery is seen and 1 s more (6 s at most: ``faults.run_fault``'s *settle*).
Shown for every fault: no certificate a client was handed is missing from the
store, no serial twice, the audit chain verifies, an OCSP sample answers good
(and revoked once revoked), no request outlives its deadline, and the engine
issues again and says SERVING within 5 s of the fault's end without being
restarted (the SIGKILL's recovery is the supervisor's restart, timed from the kill).
The UZI-register's CRL server down or slow: with card proofs in the load, held 4 s
(the register's CRLs live 5 s: the engine's copy runs out within the fault), proofs
fail only with the codes of an unobtainable CRL and succeed again within 5 s.
``bench/robustness.py`` runs the same faults longer (``docs/robustness.md``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from bench import faults, robustness

RECOVERY_SECONDS = 5.0
"""The issue's bound: SERVING again (and issuing) within 5 s of the fault's end."""
TIMING = argparse.Namespace(rate=16.0, warm=2.0, hold=3.0, after=6.0, settle=1.0)
CRL_TIMING = argparse.Namespace(rate=16.0, warm=3.0, hold=4.0, after=6.0, settle=1.0)
CRL_CODES = ("UNAVAILABLE/ZID-1111", "UNAVAILABLE/ZID-1150")
"""A card proof without a current CRL in hard mode: unobtainable, or being fetched."""


def _nothing_lost(result: faults.FaultResult) -> None:
    checked = result.checked
    assert checked.acknowledged > 0, result
    assert checked.lost == [], f"{len(checked.lost)} acknowledged certificate(s) lost"
    assert checked.duplicate_serials == 0
    assert checked.audit_ok, checked.audit_output
    assert checked.ocsp_wrong == []
    assert checked.revoked > 0
    assert result.hung == 0, f"slowest request {result.slowest:.1f} s"


def _recovered(result: faults.FaultResult) -> None:
    assert result.serving_after is not None and result.serving_after <= RECOVERY_SECONDS, result
    assert result.issuing_after is not None and result.issuing_after <= RECOVERY_SECONDS, result


def _failed_during(result: faults.FaultResult, *codes: str) -> None:
    """The fault was real: requests failed, and only with the codes a client can act on."""
    assert result.errors, "no request failed: the fault did not reach the engine"
    assert all(key.split(" ", 1)[1].startswith(codes) for key in result.errors), result.errors


def _run(name: str, tmp_path: Path, timing: argparse.Namespace = TIMING) -> faults.FaultResult:
    return robustness.run_isolated(name, tmp_path / name, timing)


def test_a_server_process_sigkilled_mid_load(tmp_path: Path) -> None:
    result = _run("sigkill", tmp_path)
    _nothing_lost(result)
    _recovered(result)
    # UNAVAILABLE, or CANCELLED for a call the surviving process had taken in but not yet
    # handed to a handler when it stopped: gRPC's server cancels those on stop, whatever
    # the grace. Both leave nothing done: redemption is exactly-once, a retry is safe.
    _failed_during(result, "UNAVAILABLE", "CANCELLED")
    assert set(result.health_during) - {"SERVING"}, result.health_during


def test_the_hsm_token_away_mid_load(tmp_path: Path) -> None:
    result = _run("hsm", tmp_path)
    _nothing_lost(result)
    _recovered(result)
    _failed_during(result, "UNAVAILABLE/ZID-0004")
    assert result.health_during["NOT_SERVING"] > 0, result.health_during
    assert result.health_during["NOT_SERVING"] > 0, result.health_during


def test_hsm_device_errors_mid_load(tmp_path: Path) -> None:
    """Every PKCS#11 call failing with CKR_DEVICE_ERROR (the module's fault hook, switched
    in the server by ``bench/fault_server.py``): UNAVAILABLE, never INTERNAL."""
    result = _run("hsm-errors", tmp_path)
    _nothing_lost(result)
    _recovered(result)
    _failed_during(result, "UNAVAILABLE/ZID-0004")
    assert result.health_during["NOT_SERVING"] > 0, result.health_during


def test_the_sqlite_disk_full_mid_load(tmp_path: Path) -> None:
    result = _run("disk-full", tmp_path)
    _nothing_lost(result)
    _recovered(result)
    _failed_during(result, "UNAVAILABLE/ZID-0004")


def test_postgresql_restarted_mid_load(tmp_path: Path) -> None:
    result = _run("postgres", tmp_path)
    _nothing_lost(result)
    _recovered(result)
    _failed_during(result, "UNAVAILABLE/ZID-0004", "OCSP TRY_LATER")
    assert result.health_during["NOT_SERVING"] > 0, result.health_during


def _register_away(result: faults.FaultResult) -> None:
    """Only card proofs failed, with a CRL's codes; health SERVING throughout (the engine
    still issues to the registered and answers OCSP); proofs accepted within 5 s of the end."""
    _nothing_lost(result)
    _recovered(result)
    assert result.ok["card"] > 0 and result.errors, result
    assert all(k.split(" ", 1)[0] == "card" for k in result.errors), result.errors
    _failed_during(result, *CRL_CODES)
    health = result.health_during  # a Check timing out on a busy machine is no NOT_SERVING
    assert health["SERVING"] > 0 and health["NOT_SERVING"] == 0, health
    after = result.proving_after
    assert after is not None and after <= RECOVERY_SECONDS, result


def test_the_uzi_crl_server_down_mid_load(tmp_path: Path) -> None:
    _register_away(_run("crl-down", tmp_path, CRL_TIMING))


def test_the_uzi_crl_server_slow_mid_load(tmp_path: Path) -> None:
    _register_away(_run("crl-slow", tmp_path, CRL_TIMING))


def _tampered(root: Path) -> tuple[int, int]:
    """A short load, then a certificate the engine never issued and a serial twice added to
    what the clients hold: (lost, serials twice) as the check counts them."""
    from bench.load import Held, Load, World, check
    from tests.server.pki import make_ca

    world = World.create(root)
    try:
        tokens = world.enrol(20)
        world.start()
        load = Load(world, tokens, rate=10)
        load.start(2, max_requests=8)  # a few certificates held are all the check needs
        load.wait()
        stranger = make_ca("Never issued by the engine")
        der = stranger.cert.public_bytes(Encoding.DER)
        load.held.append(Held(der, stranger.key, stranger.cert.serial_number))
        load.held.append(load.held[0])
        checked = check(world, load, sample=0)
        return len(checked.lost), checked.duplicate_serials
    finally:
        world.stop()


def test_the_check_finds_a_lost_certificate_and_a_serial_twice(tmp_path: Path) -> None:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        lost, twice = pool.submit(_tampered, tmp_path / "tampered").result()
    assert (lost, twice) == (1, 1)


@pytest.fixture(autouse=True)
def _root() -> None:
    """The tmpfs mount and the private PostgreSQL need root (CI runs as root): fail, never skip."""
    if os.geteuid() != 0:
        raise RuntimeError("tests/robustness needs root (tmpfs mount, user postgres)")
