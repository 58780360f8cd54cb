"""One access line per OCSP/CRL HTTP request (issue 21, logs), in both formats, parsed back.

The real front (granian) on a real port with a ceremony's CA on SoftHSM; the lines are
written by the engine's own formatters (:mod:`issuer.logs`). The requests carry nonces,
which must never reach a line: an OCSP GET's path is logged as its length only.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from issuer.logs import FIELDS, HTTP_ACCESS, TextFormatter
from ocsp.front import ACCESS_LOGGER, MAX_LOGGED_PATH
from ocsp.issuers import IssuingCa
from tests.logcapture import Captured, capture
from tests.ocsp.conftest import (
    CA_PATH,
    CRL_PATH,
    OcspEnv,
    Pki,
    Served,
    http_app,
    make_env,
    serve_app,
)
from tests.ocsp.helpers import build_request, get_path, http, post
from tests.ocsp.test_cli import ZORGID, _config, _free_port
from tests.store.dbfixtures import Database

FIELD_NAMES = {"method", "path", "status", "kind", "bytes", "duration_ms", "remote"}


@pytest.fixture
def captured() -> Iterator[Captured]:
    """The access logger's lines as the JSON and the text format write them."""
    with capture(ACCESS_LOGGER) as streams:
        yield streams


@pytest.fixture
def front(env: OcspEnv) -> Iterator[Served]:
    served, stop = serve_app(http_app(env))
    yield served
    stop()


def test_the_logger_is_the_one_the_engine_documents() -> None:
    assert ACCESS_LOGGER == HTTP_ACCESS  # ocsp imports nothing of issuer: the same literal


def test_every_request_gets_one_json_line_with_its_kind_and_no_nonce(
    env: OcspEnv, front: Served, captured: Captured
) -> None:
    ca = IssuingCa.from_certificate(env.pki.material.issuing_ca)
    good, revoked = env.issue(), env.issue()
    env.revoke(revoked)
    nonces = [secrets.token_bytes(32) for _ in range(3)]
    good_get = build_request(ca, [good.serial], nonce=nonces[0])
    good_path = get_path(good_get)
    revoked_post = build_request(ca, [revoked.serial], nonce=nonces[1])
    never_post = build_request(ca, [secrets.randbits(63) | 1 << 62], nonce=nonces[2])
    replies = [
        http(front.port, "GET", good_path),
        post(front.port, revoked_post),
        post(front.port, never_post),
        http(front.port, "GET", "/ocsp/!!not-base64!!"),
        http(front.port, "GET", CRL_PATH),
        http(front.port, "HEAD", CRL_PATH),
        http(front.port, "GET", CA_PATH),
        http(front.port, "GET", "/nothing/here?token=" + "x" * 200),
        http(front.port, "PUT", "/ocsp"),
    ]
    lines = captured.lines()
    assert len(lines) == len(replies)
    for line, reply in zip(lines, replies, strict=True):
        assert set(line) >= FIELD_NAMES
        assert {"time", "level", "logger", "message"} <= set(line)
        assert line["logger"] == "zorgid.access.http" and line["level"] == "INFO"
        assert str(line["time"]).endswith("Z")
        assert line["status"] == reply.status
        assert line["remote"] == "127.0.0.1"
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        assert len(str(line["path"])) <= MAX_LOGGED_PATH + 20
    assert [(line["method"], line["kind"]) for line in lines] == [
        ("GET", "good"),
        ("POST", "revoked"),
        ("POST", "unauthorized"),
        ("GET", "malformed"),
        ("GET", "crl"),
        ("HEAD", "crl"),
        ("GET", "ca_certificate"),
        ("GET", "http_error"),
        ("PUT", "http_error"),
    ]
    assert [line["status"] for line in lines] == [200, 200, 200, 200, 200, 200, 200, 404, 405]
    # The length of the request as the server hands it over: granian percent-decodes paths.
    assert lines[0]["path"] == f"/ocsp/<{len(unquote(good_path)) - len('/ocsp/')} chars>"
    assert lines[0]["bytes"] == len(replies[0].body) > 0
    assert lines[4]["bytes"] == len(replies[4].body) > 0  # the CRL
    assert lines[5]["bytes"] == 0  # HEAD: headers only
    assert lines[7]["path"] == "/nothing/here"  # never the query
    text = captured.text.getvalue()
    assert len(text.splitlines()) == len(replies)
    assert "kind=revoked" in text and "status=405" in text
    for written in (captured.json.getvalue(), text):
        for nonce in nonces:
            for form in (nonce.hex(), base64.b64encode(nonce).decode()):
                assert form not in written
        assert good_path.removeprefix("/ocsp/")[:40] not in written  # not even its start
        assert "token=" not in written


def test_a_long_unknown_path_is_logged_bounded(front: Served, captured: Captured) -> None:
    long_path = "/" + "a" * 500
    assert http(front.port, "GET", long_path).status == 404
    (line,) = captured.lines()
    assert line["path"] == "/" + "a" * (MAX_LOGGED_PATH - 1) + "...(501 chars)"


def test_access_lines_can_be_switched_off_by_level(front: Served, captured: Captured) -> None:
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    assert http(front.port, "GET", "/ocsp/!!not-base64!!").status == 200
    assert captured.json.getvalue() == ""


def test_the_text_line_quotes_what_could_break_it() -> None:
    record = logging.LogRecord(HTTP_ACCESS, logging.INFO, __file__, 1, "m", None, None)
    setattr(record, FIELDS, {"path": "/a b\nINFO forged line", "status": 404})
    line = TextFormatter().format(record)
    assert "\n" not in line
    assert 'path="/a b\\nINFO forged line" status=404' in line


def test_a_responders_json_lines_all_parse_back(
    pki: Pki, migrated_db: Database, migrated: sa.Engine, tmp_path: Path
) -> None:
    """``zorgid ocsp serve --log-format json``: every stderr line one JSON object; one access
    line each for an OCSP GET and POST and a CRL GET; neither the PIN nor a nonce in any."""
    env = make_env(pki, migrated, tmp_path)
    good, revoked = env.issue(), env.issue()
    env.revoke(revoked)
    ca = IssuingCa.from_certificate(pki.material.issuing_ca)
    nonces = [secrets.token_bytes(32) for _ in range(2)]
    port = _free_port()
    config = _config(pki, migrated_db, tmp_path, port)
    proc = subprocess.Popen(
        [str(ZORGID), "ocsp", "serve", "--config", str(config), "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None and "serving" in proc.stdout.readline()
        replies = [
            http(port, "GET", get_path(build_request(ca, [good.serial], nonce=nonces[0]))),
            post(port, build_request(ca, [revoked.serial], nonce=nonces[1])),
            http(port, "GET", CRL_PATH),
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    lines = [json.loads(raw) for raw in stderr.splitlines()]
    assert lines, "the responder logged nothing"
    assert all({"time", "level", "logger", "message", "pid"} <= set(line) for line in lines)
    access = [line for line in lines if line["logger"] == HTTP_ACCESS]
    assert [(x["method"], x["kind"], x["status"]) for x in access] == [
        ("GET", "good", replies[0].status),
        ("POST", "revoked", replies[1].status),
        ("GET", "crl", replies[2].status),
    ]
    assert [x["bytes"] for x in access] == [len(r.body) for r in replies]
    assert pki.token.pin not in stderr
    for nonce in nonces:
        assert nonce.hex() not in stderr and base64.b64encode(nonce).decode() not in stderr


def test_two_processes_share_the_port_and_both_answer(
    pki: Pki, migrated_db: Database, migrated: sa.Engine, tmp_path: Path
) -> None:
    """``[ocsp] processes = 2``: both bind the port (SO_REUSEPORT) and answer. The second
    is spawned after the first says "serving", so requests (each on a new connection) go on
    until the access lines name two process ids (200 requests or 20 s at most)."""
    make_env(pki, migrated, tmp_path)
    port = _free_port()
    config = _config(pki, migrated_db, tmp_path, port)
    config.write_text(config.read_text() + "processes = 2\nrefresh_interval_seconds = 0\n")
    log = tmp_path / "stderr.log"  # a file: a pipe read only at the end would fill and block
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [str(ZORGID), "ocsp", "serve", "--config", str(config), "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=sink, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    statuses: list[int] = []
    try:
        assert proc.stdout is not None and "serving" in proc.stdout.readline()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(statuses) < 200:
            statuses.append(http(port, "GET", "/healthz").status)
            if len(statuses) % 10 == 0 and len(_access_pids(log)) == 2:
                break  # both answered: more requests show nothing more
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert set(statuses) == {200}
    pids = _access_pids(log)
    assert len(pids) == 2, f"{len(statuses)} requests answered by process(es) {pids}"


def _access_pids(log: Path) -> set[int]:
    """The process ids of the access lines written to *log* so far (whole lines only)."""
    raws = log.read_text().splitlines(keepends=True)
    lines = [json.loads(raw) for raw in raws if raw.startswith("{") and raw.endswith("\n")]
    return {int(line["pid"]) for line in lines if line["logger"] == HTTP_ACCESS}
