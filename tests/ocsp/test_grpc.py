"""``zorgid.v1.OcspService/GetOcspResponse`` over real gRPC with mutual TLS and the role table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from issuer.api.zorgid.v1 import ocsp_pb2, ocsp_pb2_grpc
from issuer.config import load_config
from issuer.server.app import BuiltServer, build_server
from issuer.server.binding import ocsp_service_binding
from ocsp.codec import response_cert_state
from tests.ocsp.conftest import OcspEnv
from tests.ocsp.helpers import make_request
from tests.server.conftest import ClientPki, write_config


@pytest.fixture
def server(env: OcspEnv, test_pki: ClientPki, tmp_path: Path) -> Iterator[BuiltServer]:
    config = load_config(write_config(tmp_path / "srv", test_pki))
    built = build_server(config, [ocsp_service_binding(env.service.responder)])
    built.start()
    yield built
    built.stop(0)


def _stub(server: BuiltServer, pki: ClientPki, role: str) -> ocsp_pb2_grpc.OcspServiceStub:
    cert, key = pki.client(role)
    creds = grpc.ssl_channel_credentials(
        root_certificates=pki.server_ca_pem,
        private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes(),
    )
    channel = grpc.secure_channel(
        f"localhost:{server.port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
    )
    return ocsp_pb2_grpc.OcspServiceStub(channel)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("role", ["portal", "mobile", "operator"])
def test_allowed_roles_get_the_same_answer_as_http(
    env: OcspEnv,
    server: BuiltServer,
    test_pki: ClientPki,
    tmp_path: Path,
    role: str,
) -> None:
    cert = env.issue()
    env.revoke(cert)
    der = make_request(env.pki.issuing_pem, f"-cert {cert.pem}", out=tmp_path / "req.der")
    reply = _stub(server, test_pki, role).GetOcspResponse(
        ocsp_pb2.GetOcspResponseRequest(ocsp_request=der)
    )
    assert reply.outcome == ocsp_pb2.OCSP_OUTCOME_SUCCESSFUL
    assert response_cert_state(reply.ocsp_response) == "revoked"
    assert reply.ocsp_response == env.service.responder.answer(der).der
    assert reply.HasField("next_update")
    garbage = _stub(server, test_pki, role).GetOcspResponse(
        ocsp_pb2.GetOcspResponseRequest(ocsp_request=b"nonsense")
    )
    assert garbage.outcome == ocsp_pb2.OCSP_OUTCOME_MALFORMED_REQUEST
    assert not garbage.HasField("next_update")


def test_other_roles_are_refused_and_empty_requests_invalid(
    server: BuiltServer,
    test_pki: ClientPki,
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _stub(server, test_pki, "auditor").GetOcspResponse(
            ocsp_pb2.GetOcspResponseRequest(ocsp_request=b"x")
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as empty:
        _stub(server, test_pki, "portal").GetOcspResponse(ocsp_pb2.GetOcspResponseRequest())
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
