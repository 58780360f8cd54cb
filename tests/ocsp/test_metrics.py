"""OCSP answers counted by status, and the CA certificates' expiry, scraped over HTTP
(issue 21, metrics): a real ceremony on SoftHSM, the granian front on a real port,
prometheus_client's HTTP server on another."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pkcs11 import exceptions as p11e

from issuer.cli.failures import Exit
from issuer.metrics import Metrics, MetricsServer, start_metrics_server
from issuer.wiring import ca_expiries
from ocsp.issuers import IssuingCa
from tests.ocsp.conftest import OcspEnv, Pki, Served, http_app, make_env, serve_app
from tests.ocsp.helpers import build_request, get_path, http, make_request, post
from tests.ocsp.test_cli import ZORGID, _config, _free_port
from tests.scrape import labelled, scrape, value
from tests.store.dbfixtures import Database

RESPONSES = "zorgid_ocsp_responses_total"
ON_DEMAND = "zorgid_ocsp_on_demand_signatures_total"
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
    miss = ("cache", "miss")  # this responder caches nothing (cache_seconds 0)
    assert labelled(scrape(scraped.url), RESPONSES) == {
        frozenset({("status", "good"), ("response_status", "successful"), miss}): 2.0,
        frozenset({("status", "revoked"), ("response_status", "successful"), miss}): 1.0,
        frozenset({("status", "error"), ("response_status", "unauthorized"), miss}): 1.0,
        frozenset({("status", "error"), ("response_status", "malformedRequest"), miss}): 2.0,
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
            frozenset(
                {("status", "good"), ("response_status", "successful"), ("cache", "miss")}
            ): 1.0
        }
        assert value(samples, EXPIRY, certificate="ocsp_responder", generation="1") > 0
        # The answer was signed now, on the token: its HSM time is this process's too.
        assert value(samples, "zorgid_hsm_operation_seconds_count", operation="sign") >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert proc.returncode == 0


def test_a_taken_metrics_address_stops_the_responder_with_exit_4(
    pki: Pki, migrated_db: Database, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        config = _config(pki, migrated_db, tmp_path, _free_port())
        config.write_text(config.read_text() + f'\n[metrics]\nocsp_listen = "127.0.0.1:{port}"\n')
        done = subprocess.run(
            [str(ZORGID), "ocsp", "serve", "--config", str(config)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == Exit.UNREACHABLE, done.stderr
    assert f"not starting: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def _counts(url: str) -> tuple[dict[tuple[str, str, str], float], dict[tuple[str, str], float]]:
    """Answers by (status, response_status, cache) and on-demand signatures by (reason, result)."""
    samples = scrape(url)
    answers = {
        (d["status"], d["response_status"], d["cache"]): v
        for labels, v in labelled(samples, RESPONSES).items()
        for d in [dict(labels)]
    }
    signatures = {
        (d["reason"], d["result"]): v
        for labels, v in labelled(samples, ON_DEMAND).items()
        for d in [dict(labels)]
    }
    return answers, signatures


def _hsm_sign_fails(operation: str) -> Callable[[str], None]:
    def hook(op: str) -> None:
        if op == operation:
            raise p11e.DeviceError()

    return hook


def test_cache_hits_and_on_demand_signatures_are_counted_for_their_cause(
    pki: Pki, migrated: sa.Engine, tmp_path: Path
) -> None:
    env = make_env(pki, migrated, tmp_path, cache=60.0)
    metrics = Metrics()
    served, stop = serve_app(http_app(env, on_answer=metrics.ocsp_answer))
    scraped = start_metrics_server(metrics, "127.0.0.1", 0)
    ca = IssuingCa.from_certificate(pki.material.issuing_ca)
    presigned, missing, missing_too = (
        env.issue(),
        env.issue(presign=False),
        env.issue(presign=False),
    )
    try:
        assert _counts(scraped.url) == ({}, {})
        plain = build_request(ca, [presigned.serial])
        replies = [post(served.port, plain), post(served.port, plain)]  # stored, then cached
        assert _counts(scraped.url) == (
            {("good", "successful", "miss"): 1, ("good", "successful", "hit"): 1},
            {},
        )

        # No stored response: signed now and stored (the refresher is behind); then cached.
        stale = build_request(ca, [missing.serial])
        replies += [post(served.port, stale), post(served.port, stale)]
        # A nonce is echoed only in a response signed for it.
        replies.append(post(served.port, build_request(ca, [presigned.serial], nonce=b"n" * 16)))
        answers, signatures = _counts(scraped.url)
        assert signatures == {("stale", "signed"): 1, ("request", "signed"): 1}
        assert answers[("good", "successful", "hit")] == 2
        assert answers[("good", "successful", "miss")] == 3

        # The HSM away: the nonce request gets the stored response, the missing one tryLater.
        pki.hsm.set_fault_hook(_hsm_sign_fails("sign"))
        try:
            replies.append(
                post(served.port, build_request(ca, [presigned.serial], nonce=b"m" * 16))
            )
            replies.append(post(served.port, build_request(ca, [missing_too.serial])))
        finally:
            pki.hsm.set_fault_hook(None)
        assert [r.ocsp_status() for r in replies] == ["successful"] * 6 + ["try_later"]
        answers, signatures = _counts(scraped.url)
        assert signatures == {
            ("stale", "signed"): 1,
            ("request", "signed"): 1,
            ("request", "failed"): 1,
            ("stale", "failed"): 1,
        }
        assert answers[("error", "tryLater", "miss")] == 1
    finally:
        scraped.stop()
        stop()


def test_signatures_over_the_rate_are_counted_as_limited(
    pki: Pki, migrated: sa.Engine, tmp_path: Path
) -> None:
    env = make_env(pki, migrated, tmp_path, sign_rate=0.0)  # on-demand signing off
    metrics = Metrics()
    served, stop = serve_app(http_app(env, on_answer=metrics.ocsp_answer))
    scraped = start_metrics_server(metrics, "127.0.0.1", 0)
    ca = IssuingCa.from_certificate(pki.material.issuing_ca)
    presigned, missing = env.issue(), env.issue(presign=False)
    try:
        replies = [
            post(served.port, build_request(ca, [presigned.serial], nonce=b"n" * 16)),
            post(served.port, build_request(ca, [missing.serial])),
        ]
        assert [r.ocsp_status() for r in replies] == ["successful", "try_later"]
        answers, signatures = _counts(scraped.url)
        assert signatures == {("request", "limited"): 1, ("stale", "limited"): 1}
        assert answers == {("good", "successful", "miss"): 1, ("error", "tryLater", "miss"): 1}
    finally:
        scraped.stop()
        stop()
