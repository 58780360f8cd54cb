"""``zorgid dev`` serves Prometheus metrics on loopback; ``zorgid serve`` only when configured.

The engines run as real processes: gRPC calls over mTLS with the development role
certificates, OCSP over HTTP, then a scrape of /metrics over HTTP read with
prometheus_client's parser. Issue 21's "a scrape of /metrics after a demo run asserting
the counters moved" is :func:`assert_every_family_moved`, called by
``tests/flows/test_demo.py`` after its demo run (the demo waits out the development
policy's 30-second login QR, so the suite runs it once).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import pytest
from cryptography import x509

from ocsp.issuers import IssuingCa
from tests.ocsp.helpers import build_request, get_path, http, post
from tests.scrape import Samples, labelled, scrape, value

ZORGID = str(Path(sys.executable).with_name("zorgid"))
HANDLED = "zorgid_grpc_server_handled_total"
EXPIRY = "zorgid_certificate_expiry_seconds"
CA_CERTIFICATES = "/zorgid.v1.CaService/GetCaCertificates"
LIST_POLICIES = "/zorgid.v1.PolicyService/ListPolicies"  # security officers and auditors only


def _wait_for(log: Path, proc: subprocess.Popen[bytes], text: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = log.read_text()
        if text in found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"the engine exited with {proc.returncode}:\n{found}")
        time.sleep(0.2)
    pytest.fail(f"{text!r} not seen in {timeout} s:\n{log.read_text()}")


def _channel(root: Path, role: str, port: int) -> grpc.Channel:
    tls = root / "tls"
    creds = grpc.ssl_channel_credentials(
        root_certificates=(tls / "client-ca.pem").read_bytes(),
        private_key=(tls / "clients" / f"{role}.key").read_bytes(),
        certificate_chain=(tls / "clients" / f"{role}.pem").read_bytes(),
    )
    return grpc.secure_channel(
        f"localhost:{port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
    )


def _code(channel: grpc.Channel, method: str) -> str:
    try:
        channel.unary_unary(method)(b"", timeout=30)
    except grpc.RpcError as exc:
        return str(exc.code().name)
    return "OK"


def _post_ocsp(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/ocsp-request"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return int(reply.status)


def test_dev_engine_counts_calls_and_ocsp_and_shows_expiry(tmp_path: Path) -> None:
    root = tmp_path / "var"
    log = tmp_path / "dev.log"
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    proc = subprocess.Popen(
        [ZORGID, "dev", "--data-dir", str(root), "--listen", "127.0.0.1:0",
         "--ocsp-listen", "127.0.0.1:0"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        banner = _wait_for(log, proc, "Stop with Ctrl-C")
        metrics_url = re.search(r"metrics +(http://127\.0\.0\.1:\d+/metrics)", banner)
        grpc_port = re.search(r"mutual TLS on 127\.0\.0\.1:(\d+)", banner)
        ocsp_url = re.search(r"ocsp +(http://127\.0\.0\.1:\d+\S*) \(CRL", banner)
        assert metrics_url and grpc_port and ocsp_url, banner
        # The development config names it on loopback, on a free port like gRPC's here.
        assert 'listen = "127.0.0.1:0"' in (root / "zorgid.toml").read_text()

        before = scrape(metrics_url.group(1))
        with _channel(root, "portal", int(grpc_port.group(1))) as portal:
            codes = [_code(portal, CA_CERTIFICATES) for _ in range(2)]
            codes.append(_code(portal, LIST_POLICIES))
        assert codes == ["OK", "OK", "PERMISSION_DENIED"]
        assert _post_ocsp(ocsp_url.group(1), b"\x30\x00") == 200  # malformedRequest
        after = scrape(metrics_url.group(1))

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert moved(HANDLED, method=CA_CERTIFICATES, code="OK") == 2
        assert moved(HANDLED, method=LIST_POLICIES, code="PERMISSION_DENIED") == 1
        assert sum(labelled(after, HANDLED).values()) - sum(labelled(before, HANDLED).values()) == 3
        assert (
            moved(
                "zorgid_ocsp_responses_total",
                status="error",
                response_status="malformedRequest",
                cache="miss",
            )
            == 1
        )
        ca = root / "ca"
        now = time.time()
        for certificate, generation, pem in (
            ("root", "", "root.pem"),
            ("issuing_ca", "1", "issuing-ca.pem"),
            ("ocsp_responder", "1", "ocsp-responder.pem"),
        ):
            cert = x509.load_pem_x509_certificate((ca / pem).read_bytes())
            expected = cert.not_valid_after_utc.timestamp() - now
            seconds = value(after, EXPIRY, certificate=certificate, generation=generation)
            assert abs(seconds - expected) < 60, certificate

    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0


ISSUANCE_STEPS = ("check", "reserve", "lint", "sign", "verify", "ocsp", "store")


def assert_every_family_moved(root: Path, ocsp_url: str, url: str, before: Samples) -> None:
    """After ``zorgid demo`` against the engine (``tests/flows/test_demo.py`` runs it: one demo
    run serves both tests, its login QR's 30 s wait being the suite's cost): OCSP asked twice
    and with a nonce, then a scrape shows every family moved since *before*."""
    ocsp = urlsplit(ocsp_url)
    assert ocsp.port is not None
    with sqlite3.connect(root / "zorgid.sqlite3") as db:
        (serial,) = db.execute("SELECT serial FROM certificates WHERE status = 'good'").fetchone()
    ca = IssuingCa.from_certificate(
        x509.load_pem_x509_certificate((root / "ca" / "issuing-ca.pem").read_bytes())
    )
    plain = get_path(build_request(ca, [int(serial, 16)]), prefix=ocsp.path.rstrip("/"))
    replies = [http(ocsp.port, "GET", plain), http(ocsp.port, "GET", plain)]  # within the cache
    replies.append(
        post(
            ocsp.port,
            build_request(ca, [int(serial, 16)], nonce=secrets.token_bytes(16)),
            ocsp.path,
        )
    )
    assert [r.ocsp_status() for r in replies] == ["successful"] * 3
    after = scrape(url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("zorgid_issuance_total", outcome="issued", family="") >= 5, labelled(
        after, "zorgid_issuance_total"
    )
    for step in ISSUANCE_STEPS:
        assert moved("zorgid_issuance_step_seconds_count", step=step) >= 5, step
    assert moved("zorgid_hsm_operation_seconds_count", operation="sign") >= 10
    assert ("zorgid_hsm_reinitializations_total", frozenset()) in after
    assert (
        moved(
            "zorgid_ocsp_responses_total", status="good", response_status="successful", cache="hit"
        )
        >= 1
    )
    assert moved("zorgid_ocsp_on_demand_signatures_total", reason="request", result="signed") == 1
    assert value(after, "zorgid_issuance_stale_reservations") == 0
    assert ("zorgid_issuance_stale_reservations", frozenset()) in after
    assert value(after, "zorgid_uzi_watch_passes_total", result="completed") >= 1
    assert value(after, "zorgid_uzi_watch_passes_total", result="failed") == 0
    assert value(after, "zorgid_uzi_watch_cards") >= 0
    assert ("zorgid_uzi_watch_since_success_seconds", frozenset()) in after
