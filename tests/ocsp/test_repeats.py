"""A repeated OCSP GET is answered from the front's finished responses (``KeptCopies``,
issue 23): the same bytes and headers as the first time, never past the responder cache's
bound on a revocation, never for a conditional or oversized request, and logged one line
in ``repeat_log_sample``. Served by the real front (granian) on a real port."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from asn1crypto import ocsp as asn1_ocsp

from ocsp.front import MAX_AGE_MARGIN_SECONDS, MAX_HEADER_BYTES, HttpRequest
from ocsp.issuers import IssuingCa
from ocsp.kept import Kept, KeptCopies
from ocsp.responder import Answer
from tests.logcapture import capture
from tests.ocsp.conftest import OcspEnv, Pki, Served, http_app, make_env, serve_app
from tests.ocsp.helpers import build_request, get_path, http

CACHE_SECONDS = 5.0


@pytest.fixture
def cached(pki: Pki, migrated: sa.Engine, tmp_path: Path) -> OcspEnv:
    """A responder keeping answers ``CACHE_SECONDS`` (the default), on a clock tests move."""
    return make_env(pki, migrated, tmp_path, cache=CACHE_SECONDS)


def _status(body: bytes) -> str:
    basic = asn1_ocsp.OCSPResponse.load(body).basic_ocsp_response
    return str(basic["tbs_response_data"]["responses"][0]["cert_status"].name)


def _path(env: OcspEnv, serial: int) -> str:
    return get_path(
        build_request(IssuingCa.from_certificate(env.pki.material.issuing_ca), [serial])
    )


@pytest.fixture
def heard(cached: OcspEnv) -> Iterator[tuple[Served, list[Answer]]]:
    answers: list[Answer] = []
    served, stop = serve_app(http_app(cached, on_answer=answers.append))
    yield served, answers
    stop()


def test_a_repeat_is_the_first_answer_again_and_counted(
    cached: OcspEnv, heard: tuple[Served, list[Answer]]
) -> None:
    served, answers = heard
    path = _path(cached, cached.issue().serial)
    first, second = http(served.port, "GET", path), http(served.port, "GET", path)
    assert first.status == second.status == 200
    assert second.body == first.body and _status(second.body) == "good"
    for name in ("content-type", "etag", "last-modified", "expires", "cache-control"):
        assert second.headers[name] == first.headers[name], name
    # Every answer reaches the metrics; the repeat as a hit (no store read, no signature).
    assert [a.cached for a in answers] == [False, True]
    assert answers[1].on_demand is None


def test_a_revocation_is_served_once_the_kept_answer_is_due(
    cached: OcspEnv, heard: tuple[Served, list[Answer]]
) -> None:
    """The kept response lives no longer than the responder's cache entry: a revocation
    (another node's, as far as this responder knows) is served after ``cache_seconds``."""
    served, _answers = heard
    cert = cached.issue()
    path = _path(cached, cert.serial)
    assert _status(http(served.port, "GET", path).body) == "good"
    assert _status(http(served.port, "GET", path).body) == "good"  # the kept one
    cached.revoke(cert)
    assert _status(http(served.port, "GET", path).body) == "good"  # within the bound
    cached.clock.advance(timedelta(seconds=CACHE_SECONDS + 0.5))
    assert _status(http(served.port, "GET", path).body) == "revoked"


def test_a_conditional_repeat_gets_304(cached: OcspEnv, heard: tuple[Served, list[Answer]]) -> None:
    served, _answers = heard
    path = _path(cached, cached.issue().serial)
    etag = http(served.port, "GET", path).headers["etag"]
    assert http(served.port, "GET", path).status == 200  # kept now
    again = http(served.port, "GET", path, headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert http(served.port, "GET", path, headers={"If-None-Match": '"other"'}).status == 200


def test_oversized_headers_on_a_kept_target_are_431(
    cached: OcspEnv, heard: tuple[Served, list[Answer]]
) -> None:
    served, _answers = heard
    path = _path(cached, cached.issue().serial)
    assert http(served.port, "GET", path).status == 200
    assert http(served.port, "GET", path).status == 200
    big = {"X-Filler": "a" * (MAX_HEADER_BYTES + 1)}
    assert http(served.port, "GET", path, headers=big).status == 431


def test_without_a_responder_cache_nothing_is_kept(env: OcspEnv, served: Served) -> None:
    """``cache_seconds = 0``: every GET reads the store, so a revocation is served at once."""
    cert = env.issue()
    path = _path(env, cert.serial)
    assert _status(http(served.port, "GET", path).body) == "good"
    assert _status(http(served.port, "GET", path).body) == "good"
    env.revoke(cert)
    assert _status(http(served.port, "GET", path).body) == "revoked"


def test_repeats_are_logged_one_in_the_sample_and_everything_else_each(cached: OcspEnv) -> None:
    served, stop = serve_app(http_app(cached, repeat_log_sample=3))
    try:
        path = _path(cached, cached.issue().serial)
        with capture("zorgid.access.http") as captured:
            for _ in range(7):  # the first answer, then six repeats
                assert http(served.port, "GET", path).status == 200
            assert http(served.port, "GET", "/ocsp/!!not-base64!!").status == 200
            assert http(served.port, "GET", "/nothing").status == 404
    finally:
        stop()
    lines = captured.lines()
    assert [(line["kind"], line.get("sample")) for line in lines] == [
        ("good", None),  # the first: read from the store, logged
        ("good", 3),  # the 3rd repeat stands for three
        ("good", 3),  # the 6th
        ("malformed", None),
        ("http_error", None),
    ]


T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_get_is_kept_only_when_the_responder_keeps_its_answer(
    cached: OcspEnv, env: OcspEnv
) -> None:
    """No socket: the front's own steps. A responder without a cache keeps nothing, so
    its front keeps nothing either (every GET then reads the store)."""
    for responder_env, kept in ((cached, True), (env, False)):
        front = http_app(responder_env)
        path = unquote(_path(responder_env, responder_env.issue().serial))
        assert front.handle(HttpRequest(method="GET", raw_path=path)).status == 200
        again = front.again(path)
        assert (again is not None) is kept
        if again is not None:
            assert again.answer is not None and again.answer.cached
        assert front.again(path + "?x") is None  # another target


def test_copies_live_as_the_answers_they_were_made_from() -> None:
    lives = [Kept(("issuer", n), T0, T0, T0 + timedelta(seconds=60)) for n in range(5)]
    copies: KeptCopies[str] = KeptCopies(3, lambda life: life.until > T0, max_seconds=60)
    for n in range(3):
        copies.keep(f"/ocsp/{n}", lives[n], f"copy {n}")
    assert len(copies) == 3 and copies.get("/ocsp/1") == "copy 1"
    lives[0].until = T0  # ended: the feed named it, or its time is up
    assert copies.get("/ocsp/0") is None
    copies.keep("/ocsp/3", lives[3], "copy 3")  # full: the ended one goes
    assert len(copies) == 3 and copies.get("/ocsp/3") == "copy 3"
    copies.keep("/ocsp/4", lives[4], "copy 4")  # full, none ended: all go
    assert len(copies) == 1 and copies.get("/ocsp/4") == "copy 4"
    nothing: KeptCopies[str] = KeptCopies(0, lambda life: True, max_seconds=60)
    nothing.keep("/ocsp/0", lives[1], "copy")
    assert nothing.get("/ocsp/0") is None


def test_a_kept_response_is_sent_at_most_the_max_age_margin_after_it_was_made() -> None:
    """Its max-age was computed when it was made: later it would say more than is left."""
    now = [1000.0]
    life = Kept(("issuer", 1), T0, T0, T0 + timedelta(hours=1))
    copies: KeptCopies[str] = KeptCopies(
        10, lambda life: True, max_seconds=MAX_AGE_MARGIN_SECONDS, clock=lambda: now[0]
    )
    copies.keep("/ocsp/m", life, "response")
    now[0] += MAX_AGE_MARGIN_SECONDS - 0.1
    assert copies.get("/ocsp/m") == "response"
    now[0] += 0.2
    assert copies.get("/ocsp/m") is None
