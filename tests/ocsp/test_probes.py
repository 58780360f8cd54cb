"""``/healthz``, ``/readyz`` and ``HEAD`` on the OCSP/CRL front, over real HTTP (issue 21).

The readiness checks are the composition root's own (``issuer.ocsp_wiring``), against the
real store and a real SoftHSM token: a PostgreSQL URL to a closed port and a token moved
out of SoftHSM's directory must turn ``/readyz`` to 503, naming what failed and nothing
secret.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator

import pytest

from hsm import Hsm
from hsm.spec import KeySpec
from issuer.ocsp_wiring import readiness_checks
from issuer.store import Engine, create_engine_for
from ocsp.front import Front
from tests.hsm.conftest import token_dir
from tests.ocsp.conftest import CA_PATH, CRL_PATH, OcspEnv, http_app, serve_app
from tests.ocsp.helpers import HttpResult, get_path, http
from tests.softhsm import SoftHsmDir

PASSWORD = "probe-secret-pw"
Serve = Callable[[Front], int]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(app)`` -> the port it answers on; stopped after the test."""
    stops: list[Callable[[], None]] = []

    def start(app: Front) -> int:
        made, stop = serve_app(app)
        stops.append(stop)
        return made.port

    yield start
    for stop in stops:
        stop()


def _app(env: OcspEnv, engine: Engine, hsm: Hsm, label: str) -> Front:
    return http_app(env, readiness_checks(engine, hsm, lambda: label))


def _json(got: HttpResult) -> dict[str, object]:
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["cache-control"] == "no-store"
    loaded: dict[str, object] = json.loads(got.body)
    return loaded


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_live_and_ready_when_database_and_token_answer(env: OcspEnv, serve: Serve) -> None:
    port = serve(_app(env, env.engine, env.pki.hsm, env.pki.material.ocsp_responder_key_label))
    live = http(port, "GET", "/healthz")
    assert live.status == 200
    assert _json(live) == {"status": "live"}
    ready = http(port, "GET", "/readyz")
    assert ready.status == 200, ready.body
    assert _json(ready) == {"status": "ready", "checked": ["database", "hsm"]}


def test_not_ready_when_the_database_is_gone(env: OcspEnv, serve: Serve) -> None:
    closed = _closed_port()
    gone = create_engine_for(f"postgresql+psycopg://zorgid:{PASSWORD}@127.0.0.1:{closed}/zorgid")
    try:
        port = serve(_app(env, gone, env.pki.hsm, env.pki.material.ocsp_responder_key_label))
        got = http(port, "GET", "/readyz")
        assert got.status == 503
        assert _json(got) == {
            "status": "not ready",
            "failed": {"database": "the database does not answer a read"},
        }
        for secret in (PASSWORD, str(closed), "psycopg"):
            assert secret not in got.body.decode()
        assert http(port, "GET", "/healthz").status == 200, "alive all the same"
    finally:
        gone.dispose()


def test_not_ready_when_the_key_is_not_on_the_token(env: OcspEnv, serve: Serve) -> None:
    port = serve(_app(env, env.engine, env.pki.hsm, "no-such-responder-key"))
    got = http(port, "GET", "/readyz")
    assert got.status == 503
    assert set(_json(got)["failed"]) == {"hsm"}  # type: ignore[arg-type]
    assert "no-such-responder-key" not in got.body.decode()


def test_not_ready_while_the_token_is_removed_and_ready_when_back(
    env: OcspEnv, softhsm_dir: SoftHsmDir, serve: Serve
) -> None:
    token = softhsm_dir.init_token(f"readyz-{secrets.token_hex(3)}")
    hsm = Hsm.open(token.uri)
    hsm.generate_key("responder", KeySpec.EC_P256)
    port = serve(_app(env, env.engine, hsm, "responder"))
    assert http(port, "GET", "/readyz").status == 200
    where = token_dir(softhsm_dir, token.label)
    away = softhsm_dir.root / f"removed-{token.label}"
    shutil.move(where, away)
    try:
        got = http(port, "GET", "/readyz")
        assert got.status == 503
        assert _json(got)["failed"] == {
            "hsm": "the HSM does not answer or the responder key is not on it"
        }
        assert token.label not in got.body.decode()
    finally:
        shutil.move(away, where)
    assert http(port, "GET", "/readyz").status == 200, "ready again once the token is back"
    hsm.close()


def _raw_head(port: int, path: str) -> bytes:
    """Everything the server sends for a HEAD (http.client would not read a stray body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("path", [CRL_PATH, CA_PATH, "/healthz", "/readyz"])
def test_head_has_gets_headers_and_no_body(env: OcspEnv, serve: Serve, path: str) -> None:
    env.service.crls.publish(env.pki.issuer_id)
    port = serve(http_app(env))
    got = http(port, "GET", path)
    assert got.status == 200 and got.body
    head = http(port, "HEAD", path)
    assert head.status == 200
    for name in ("content-type", "content-length", "cache-control", "etag", "expires"):
        assert head.headers.get(name) == got.headers.get(name), name
    assert head.headers["content-length"] == str(len(got.body))
    raw = _raw_head(port, path)
    assert raw.startswith(b"HTTP/1.1 200")
    assert raw.endswith(b"\r\n\r\n"), "no body after the headers"


def test_head_is_not_an_ocsp_request(env: OcspEnv, serve: Serve) -> None:
    port = serve(http_app(env))
    got = http(port, "HEAD", get_path(b"\x30\x03\x02\x01\x01"))
    assert got.status == 405
    assert got.headers["allow"] == "GET, POST"
    assert http(port, "HEAD", "/nothing-here").status == 404
