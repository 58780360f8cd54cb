"""The development plaintext listener: loopback only, roles from ``dev_roles``."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from issuer.config import ConfigError, load_config
from issuer.server.app import BuiltServer, build_server
from issuer.server.interceptors import GuardInterceptor
from issuer.server.roles import RoleMapper
from tests.server.conftest import TEST_TABLE, ClientPki, method, probe_binding, write_config


@pytest.fixture(scope="module")
def plaintext_server(
    tmp_path_factory: pytest.TempPathFactory, test_pki: ClientPki
) -> Iterator[BuiltServer]:
    folder = tmp_path_factory.mktemp("plaintext")
    path = write_config(
        folder, test_pki, server='dev_plaintext = true\ndev_roles = ["auditor"]', tls=False
    )
    built = build_server(load_config(path), [probe_binding()], table=TEST_TABLE)
    built.start()
    yield built
    built.stop(0)


def test_plaintext_caller_gets_dev_roles_only(plaintext_server: BuiltServer) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{plaintext_server.port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert channel.unary_unary(method("Auditor"), None, None)(b"x", timeout=10) == b"ok:x"
        with pytest.raises(grpc.RpcError) as refused:
            channel.unary_unary(method("Portal"), None, None)(b"x", timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "dev-plaintext@loopback" in (refused.value.details() or "")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "[::]", "example.org"])
def test_plaintext_refused_on_a_non_loopback_address(
    tmp_path: Path, test_pki: ClientPki, host: str
) -> None:
    path = write_config(tmp_path, test_pki, server="dev_plaintext = true", tls=False)
    path.write_text(path.read_text().replace("127.0.0.1:0", f"{host}:50051"))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert any(
        p.startswith("server.dev_plaintext: refused") and "not a loopback" in p
        for p in refused.value.problems
    ), refused.value.problems


def test_guard_answers_unauthenticated_when_no_certificate_reached_it() -> None:
    # With mTLS the handshake stops such callers first; this drives the guard
    # itself (as if a listener without client auth were added by mistake).
    guard = GuardInterceptor(table=TEST_TABLE, mapper=RoleMapper(()), plaintext_roles=None)
    server = grpc.server(futures.ThreadPoolExecutor(2), interceptors=[guard])
    probe_binding().add_to(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with (
            grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
            pytest.raises(grpc.RpcError) as refused,
        ):
            channel.unary_unary(method("Auditor"), None, None)(b"x", timeout=10)
        err = refused.value
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert method("Auditor") in (err.details() or "")
        status = rpc_status.from_call(err)  # type: ignore[arg-type]
        assert status is not None
        info = error_details_pb2.ErrorInfo()
        status.details[0].Unpack(info)
        assert info.reason == "ZID-0002"
    finally:
        server.stop(0)
