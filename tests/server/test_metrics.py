"""gRPC calls counted and timed by method and code, scraped over HTTP (issue 21, metrics).

A real server over mTLS with the probe service, the metrics interceptor before
the guard, and prometheus_client's HTTP server on a free loopback port.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from issuer.config import load_config
from issuer.metrics import Metrics, MetricsServer, start_metrics_server
from issuer.server.app import BuiltServer, build_server
from tests.scrape import labelled, scrape, value
from tests.server.conftest import (
    TEST_TABLE,
    ChannelFactory,
    ClientPki,
    method,
    probe_binding,
    write_config,
)

HANDLED = "zorgid_grpc_server_handled_total"
SECONDS_COUNT = "zorgid_grpc_server_handling_seconds_count"


@pytest.fixture(scope="module")
def metered(
    tmp_path_factory: pytest.TempPathFactory, test_pki: ClientPki
) -> Iterator[tuple[BuiltServer, MetricsServer]]:
    config = load_config(write_config(tmp_path_factory.mktemp("metered"), test_pki))
    metrics = Metrics()
    built = build_server(config, [probe_binding()], table=TEST_TABLE, metrics=metrics)
    built.start()
    served = start_metrics_server(metrics, "127.0.0.1", 0)
    yield built, served
    served.stop()
    built.stop(0)


@pytest.fixture(scope="module")
def mtls_server(metered: tuple[BuiltServer, MetricsServer]) -> BuiltServer:
    """The conftest's ``channel_for`` connects to this metered server."""
    return metered[0]


def _call(channel: grpc.Channel, name: str) -> str:
    """Call the probe's *name*; the status code name the caller received."""
    try:
        channel.unary_unary(method(name))(b"x", timeout=10)
    except grpc.RpcError as exc:
        return str(exc.code().name)
    return "OK"


def test_calls_are_counted_by_method_and_the_code_the_caller_got(
    metered: tuple[BuiltServer, MetricsServer], channel_for: ChannelFactory
) -> None:
    _, served = metered
    before = scrape(served.url)
    assert labelled(before, HANDLED) == {}
    portal, operator = channel_for("portal"), channel_for("operator")
    codes = [_call(portal, "Portal") for _ in range(3)]
    codes.append(_call(portal, "Operator"))  # refused by the guard
    codes.append(_call(operator, "Fail"))  # a ZorgIdError, translated
    codes.append(_call(operator, "Crash"))  # any other exception
    codes.append(_call(operator, "Abort"))  # the servicer's own abort
    streamed = list(portal.unary_stream(method("PortalStream"))(b"x", timeout=10))
    assert codes == [
        "OK",
        "OK",
        "OK",
        "PERMISSION_DENIED",
        "INVALID_ARGUMENT",
        "INTERNAL",
        "NOT_FOUND",
    ]
    assert streamed == [b"one", b"two"]

    after = scrape(served.url)
    assert labelled(after, HANDLED) == {
        frozenset({("method", method("Portal")), ("code", "OK")}): 3.0,
        frozenset({("method", method("Operator")), ("code", "PERMISSION_DENIED")}): 1.0,
        frozenset({("method", method("Fail")), ("code", "INVALID_ARGUMENT")}): 1.0,
        frozenset({("method", method("Crash")), ("code", "INTERNAL")}): 1.0,
        frozenset({("method", method("Abort")), ("code", "NOT_FOUND")}): 1.0,
        frozenset({("method", method("PortalStream")), ("code", "OK")}): 1.0,
    }
    # The latency histogram saw each call once, under its method.
    assert value(after, SECONDS_COUNT, method=method("Portal")) == 3.0
    assert value(after, SECONDS_COUNT, method=method("Operator")) == 1.0
    assert value(after, SECONDS_COUNT, method=method("PortalStream")) == 1.0
    total = value(after, "zorgid_grpc_server_handling_seconds_sum", method=method("Portal"))
    assert 0 < total < 30
    # Bounded labels: nothing of the caller (subject, certificate) is in any sample.
    text = repr(after)
    assert "portal-client" not in text and "sha256:" not in text
