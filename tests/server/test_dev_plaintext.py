"""The development plaintext listener: loopback only, roles from ``dev_roles``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from issuer.config import ConfigError, load_config
from issuer.server.app import BuiltServer, build_server
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
        assert channel.unary_unary(method("Auditor"))(b"x", timeout=10) == b"ok:x"
        with pytest.raises(grpc.RpcError) as refused:
            channel.unary_unary(method("Portal"))(b"x", timeout=10)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "dev-plaintext@loopback" in refused.value.details()


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
