"""OCSP answers counted by status, and the CA certificates' expiry, scraped over HTTP
(issue 21, metrics): a real ceremony on SoftHSM, the aiohttp responder on a real port,
prometheus_client's HTTP server on another."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.metrics import Metrics, MetricsServer, start_metrics_server
from issuer.wiring import ca_expiries
from tests.ocsp.conftest import OcspEnv, Pki, Served, http_app, make_env, serve_app
from tests.ocsp.helpers import get_path, http, make_request, post
from tests.ocsp.test_cli import ZORGID, _config, _free_port
from tests.scrape import labelled, scrape, value
from tests.store.dbfixtures import Database

RESPONSES = "zorgid_ocsp_responses_total"
EXPIRY = "zorgid_certificate_expiry_seconds"


@pytest.fixture
def metered(env: OcspEnv) -> Iterator[tuple[Served, MetricsServer]]:
    metrics = Metrics()
    served, stop = serve_app(http_app(env, on_answer=metrics.ocsp_answer))
    scraped = start_metrics_server(metrics, "127.0.0.1", 0)
    yield served, scraped
    scraped.stop()
    stop()


def test_ocsp_answers_are_counted_by_status(
    env: OcspEnv, metered: tuple[Served, MetricsServer]
) -> None:
    served, scraped = metered
    assert labelled(scrape(scraped.url), RESPONSES) == {}
    good, revoked = env.issue(), env.issue()
    env.revoke(revoked)
    issuer = env.pki.issuing_pem
    good_req = make_request(issuer, f"-cert {good.pem}", out=env.tmp / "good.der")
    revoked_req = make_request(issuer, f"-cert {revoked.pem}", out=env.tmp / "revoked.der")
    never = make_request(issuer, "-serial 0x7a7a7a7a", out=env.tmp / "never.der")
    replies = [
        post(served.port, good_req),
        http(served.port, "GET", get_path(good_req)),  # the same answer again (GET)
        post(served.port, revoked_req),
        post(served.port, never),  # a serial never issued: unauthorized
        post(served.port, b"\x30\x03\x02\x01\x01"),  # not an OCSP request
        http(served.port, "GET", "/ocsp/!!not-base64!!"),  # malformed in the path
        http(served.port, "GET", "/crl/issuing-ca.crl"),  # a CRL: not an OCSP answer
    ]
    assert [r.status for r in replies] == [200] * 7
    assert [r.ocsp_status() for r in replies[:6]] == [
        "successful",
        "successful",
        "successful",
        "unauthorized",
        "malformed_request",
        "malformed_request",
    ]
    assert labelled(scrape(scraped.url), RESPONSES) == {
        frozenset({("status", "good"), ("response_status", "successful")}): 2.0,
        frozenset({("status", "revoked"), ("response_status", "successful")}): 1.0,
        frozenset({("status", "error"), ("response_status", "unauthorized")}): 1.0,
        frozenset({("status", "error"), ("response_status", "malformedRequest")}): 2.0,
    }


def test_expiry_gauges_are_the_seconds_until_each_certificates_not_after(pki: Pki) -> None:
    metrics = Metrics()
    metrics.watch_expiry(ca_expiries(pki.data_dir))
    scraped = start_metrics_server(metrics, "127.0.0.1", 0)
    try:
        before = time.time()
        samples = scrape(scraped.url)
        after = time.time()
    finally:
        scraped.stop()
    material = pki.material
    expected = {
        ("root", ""): material.root.not_valid_after_utc.timestamp(),
        ("issuing_ca", "1"): material.issuing_ca.not_valid_after_utc.timestamp(),
        ("ocsp_responder", "1"): material.ocsp_responder.not_valid_after_utc.timestamp(),
    }
    gauges = labelled(samples, EXPIRY)
    assert len(gauges) == len(expected)
    for (certificate, generation), not_after in expected.items():
        seconds = value(samples, EXPIRY, certificate=certificate, generation=generation)
        # Read at the scrape: between notAfter - after and notAfter - before.
        assert not_after - after - 1 <= seconds <= not_after - before + 1, certificate
        assert seconds > 0
    # Three different certificates, three different values: none is another's.
    assert len(set(gauges.values())) == 3


def test_the_standalone_responder_serves_its_metrics_on_ocsp_listen(
    pki: Pki, migrated_db: Database, migrated: sa.Engine, tmp_path: Path
) -> None:
    env = make_env(pki, migrated, tmp_path)
    good = env.issue()
    port = _free_port()
    config = _config(pki, migrated_db, tmp_path, port)
    config.write_text(config.read_text() + '\n[metrics]\nocsp_listen = "127.0.0.1:0"\n')
    proc = subprocess.Popen(
        [str(ZORGID), "ocsp", "serve", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        found = None
        for line in proc.stderr:  # ends if the process dies
            found = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", line)
            if found:
                break
        assert found, "zorgid ocsp serve did not report its metrics address"
        assert proc.stdout is not None and "serving" in proc.stdout.readline()
        request = make_request(pki.issuing_pem, f"-cert {good.pem}", out=tmp_path / "req.der")
        assert post(port, request).ocsp_status() == "successful"
        samples = scrape(found.group(1))
        assert labelled(samples, RESPONSES) == {
            frozenset({("status", "good"), ("response_status", "successful")}): 1.0
        }
        assert value(samples, EXPIRY, certificate="ocsp_responder", generation="1") > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0
