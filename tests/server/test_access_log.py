"""One access line per gRPC call (issue 21, logs): fields, request id, formats, no secrets.

Real gRPC over mTLS: the conftest's server with the probe service (one observer,
outermost, before the guard) and ``zorgid serve --log-format json`` as a process,
every line of whose stderr must parse back with ``json.loads``.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2

from issuer.api.zorgid.v1 import enrollment_pb2, errors_pb2, organization_pb2
from issuer.logs import GRPC_ACCESS
from tests.logcapture import Captured, capture
from tests.server.conftest import ChannelFactory, ClientPki, method, write_config
from tests.server.test_serve_cli import ZORGID

ACCESS_FIELDS = {
    "method",
    "code",
    "zid",
    "duration_ms",
    "request_id",
    "roles",
    "identity",
    "subject",
    "peer",
}
FIXED = {"time", "level", "logger", "message", "pid"}
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
NEW_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def captured() -> Iterator[Captured]:
    """The gRPC access logger's lines as the JSON and the text format write them."""
    with capture(GRPC_ACCESS) as streams:
        yield streams


def _call(
    channel: grpc.Channel, name: str, body: bytes = b"x", metadata: tuple[Any, ...] = ()
) -> tuple[str, str | None]:
    """Call the probe's *name*: the code the caller got and the request id it was given."""
    try:
        _, call = channel.unary_unary(method(name)).with_call(
            body, timeout=10, metadata=metadata or None
        )
        initial, code = call.initial_metadata(), "OK"
    except grpc.RpcError as exc:
        initial, code = exc.initial_metadata(), str(exc.code().name)  # type: ignore[attr-defined]
    ids = [str(value) for key, value in initial or () if key == "x-request-id"]
    return code, ids[0] if ids else None


def test_each_call_gets_one_line_with_caller_code_zid_and_its_request_id(
    channel_for: ChannelFactory, captured: Captured
) -> None:
    portal, operator = channel_for("portal"), channel_for("operator")
    got = [
        _call(portal, "Portal", metadata=(("x-request-id", "req-7f3a.1"),)),
        _call(portal, "Operator"),  # refused by the guard: before admission
        _call(operator, "Fail"),  # a ZorgIdError, translated
        _call(operator, "Crash"),  # any other exception
        _call(operator, "Abort"),  # the servicer's own abort: no ZID code
    ]
    streamed = list(portal.unary_stream(method("PortalStream"))(b"x", timeout=10))
    assert streamed == [b"one", b"two"]
    assert [code for code, _ in got] == [
        "OK",
        "PERMISSION_DENIED",
        "INVALID_ARGUMENT",
        "INTERNAL",
        "NOT_FOUND",
    ]
    lines = captured.lines()
    assert len(lines) == 6
    for line in lines:
        assert set(line) == FIXED | ACCESS_FIELDS
        assert line["logger"] == GRPC_ACCESS and line["level"] == "INFO"
        assert RFC3339_UTC.fullmatch(line["time"])
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        assert line["peer"].startswith("ipv4:127.0.0.1:")
        assert line["identity"].startswith("sha256:")
    assert [(x["method"], x["code"], x["zid"]) for x in lines] == [
        (method("Portal"), "OK", None),
        (method("Operator"), "PERMISSION_DENIED", "ZID-0003"),
        (method("Fail"), "INVALID_ARGUMENT", "ZID-0005"),
        (method("Crash"), "INTERNAL", "ZID-0001"),
        (method("Abort"), "NOT_FOUND", None),
        (method("PortalStream"), "OK", None),
    ]
    assert [x["roles"] for x in lines] == [["portal"], ["portal"], *[["operator"]] * 3, ["portal"]]
    assert lines[0]["subject"] == "CN=portal-client,OU=Koppelingen,O=ZORG-ID tests"
    # The caller's sane id is kept and echoed; the others got a new one each, also echoed.
    assert lines[0]["request_id"] == got[0][1] == "req-7f3a.1"
    for line, (_, echoed) in zip(lines[1:5], got[1:], strict=True):
        assert NEW_ID.fullmatch(line["request_id"]) and line["request_id"] == echoed
    assert len({x["request_id"] for x in lines}) == 6
    text = captured.text.getvalue().splitlines()
    assert len(text) == 6
    assert "code=PERMISSION_DENIED zid=ZID-0003" in text[1] and "roles=portal" in text[1]


def test_no_secret_of_a_call_reaches_its_line_in_either_format(
    channel_for: ChannelFactory, captured: Captured
) -> None:
    token, pin = secrets.token_urlsafe(32), f"{secrets.randbelow(10**8):08d}"
    forged = f'{token} "forged"'  # not a plain id: replaced, so never logged (grpc refuses \n)
    metadata = (("authorization", f"Bearer {token}"), ("x-pin", pin), ("x-request-id", forged))
    code, echoed = _call(channel_for("portal"), "Portal", token.encode(), metadata)
    assert code == "OK" and echoed is not None and NEW_ID.fullmatch(echoed)
    code, _ = _call(channel_for("operator"), "Portal", f"{token} {pin}".encode(), metadata)
    assert code == "PERMISSION_DENIED"
    line, _ = captured.lines()
    assert line["request_id"] == echoed  # the forged id was not taken
    for written in (captured.json.getvalue(), captured.text.getvalue()):
        assert token not in written and pin not in written and "forged" not in written
    assert len(captured.text.getvalue().splitlines()) == 2


def test_a_servers_json_lines_all_parse_back(tmp_path: Path, test_pki: ClientPki) -> None:
    """``zorgid serve --log-format json``: every stderr line one JSON object, access lines too."""
    config = write_config(tmp_path, test_pki)
    process = subprocess.Popen(
        [ZORGID, "serve", "--config", str(config), "--log-format", "json"],
        stderr=subprocess.PIPE,
        text=True,
    )
    token = secrets.token_urlsafe(32)
    try:
        assert process.stderr is not None
        before: list[str] = []
        port = None
        for raw in process.stderr:  # ends if the process dies
            before.append(raw)
            found = re.search(r"on 127\.0\.0\.1:(\d+) \(mTLS\)", json.loads(raw)["message"])
            if found:
                port = int(found.group(1))
                break
        assert port, f"zorgid serve did not report its port: {before}"
        codes = _calls_to_a_real_server(test_pki, port, token)
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=60)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = [json.loads(raw) for raw in [*before, *rest.splitlines()]]
    assert all(set(line) >= FIXED and RFC3339_UTC.fullmatch(line["time"]) for line in lines)
    access = [line for line in lines if line["logger"] == GRPC_ACCESS]
    assert [(x["method"], x["code"]) for x in access] == list(codes.items())
    for line in access:
        assert set(line) >= ACCESS_FIELDS
        assert line["roles"] and line["identity"].startswith("sha256:")
    denied = access[2]
    assert denied["zid"] == "ZID-0003" and denied["roles"] == ["auditor"]
    assert access[3]["roles"] == ["mobile"] and access[3]["zid"]
    assert token not in "".join([*before, rest])


def _calls_to_a_real_server(test_pki: ClientPki, port: int, token: str) -> dict[str, str]:
    """Health, the catalogue, a refused call and a redemption carrying a token."""

    def channel(role: str) -> grpc.Channel:
        cert, key = test_pki.client(role)
        creds = grpc.ssl_channel_credentials(
            test_pki.server_ca_pem, key.read_bytes(), cert.read_bytes()
        )
        return grpc.secure_channel(
            f"127.0.0.1:{port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
        )

    codes: dict[str, str] = {}
    with channel("auditor") as auditor, channel("mobile") as mobile:
        calls: list[tuple[str, grpc.Channel, Any, Any]] = [
            (
                "/grpc.health.v1.Health/Check",
                auditor,
                health_pb2.HealthCheckRequest(),
                health_pb2.HealthCheckResponse,
            ),
            (
                "/zorgid.v1.ErrorCatalogueService/ListErrors",
                auditor,
                errors_pb2.ListErrorsRequest(),
                errors_pb2.ListErrorsResponse,
            ),
            (
                "/zorgid.v1.OrganizationService/RegisterOrganization",
                auditor,
                organization_pb2.RegisterOrganizationRequest(),
                organization_pb2.RegisterOrganizationResponse,
            ),
            (
                "/zorgid.v1.EnrollmentService/RedeemEnrollment",
                mobile,
                enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=b"\x30\x00"),
                enrollment_pb2.RedeemEnrollmentResponse,
            ),
        ]
        for name, ch, request, reply in calls:
            stub = ch.unary_unary(
                name,
                request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=reply.FromString,
            )
            try:
                stub(request, timeout=10)
                codes[name] = "OK"
            except grpc.RpcError as exc:
                codes[name] = str(exc.code().name)
    assert list(codes.values())[:3] == ["OK", "OK", "PERMISSION_DENIED"]
    assert codes["/zorgid.v1.EnrollmentService/RedeemEnrollment"] != "OK"
    return codes
