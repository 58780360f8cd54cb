"""Health, reflection and CaService over real mTLS; domain errors as google.rpc.Status."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from grpc_status import rpc_status

from issuer.api.zorgid.v1 import ca_pb2, ca_pb2_grpc
from issuer.errors import CATALOGUE, ZorgIdError
from issuer.server.app import BuiltServer
from issuer.server.ca_service import CaCertificateStore
from tests.server.conftest import PROBE, ChannelFactory, ClientPki, method

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def check(channel: grpc.Channel, service: str = "") -> int:
    reply = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=10
    )
    status: int = reply.status
    return status


def test_health_answers_serving_over_mtls_even_without_a_role(channel_for: ChannelFactory) -> None:
    for who in ("auditor", "norole"):
        assert check(channel_for(who)) == SERVING
        assert check(channel_for(who), "zorgid.v1.CaService") == SERVING


def test_health_can_be_flipped_to_not_serving_and_back(
    mtls_server: BuiltServer, channel_for: ChannelFactory
) -> None:
    channel = channel_for("operator")
    watch = health_pb2_grpc.HealthStub(channel).Watch(
        health_pb2.HealthCheckRequest(service=""), timeout=10
    )
    assert next(watch).status == SERVING
    mtls_server.health.set_not_serving("HSM unavailable")
    mtls_server.health.set_not_serving("database unavailable")
    assert next(watch).status == NOT_SERVING
    assert check(channel) == NOT_SERVING
    assert check(channel, "zorgid.v1.CaService") == NOT_SERVING
    mtls_server.health.set_serving("HSM unavailable")
    assert check(channel) == NOT_SERVING, "the database reason still holds"
    mtls_server.health.set_serving("database unavailable")
    assert check(channel) == SERVING
    watch.cancel()


def test_health_refuses_a_client_without_certificate(channel_for: ChannelFactory) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        check(channel_for(None))
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_reflection_lists_the_services(channel_for: ChannelFactory) -> None:
    database = ProtoReflectionDescriptorDatabase(channel_for("mobile"))
    services = set(database.get_services())
    assert {
        "zorgid.v1.CaService",
        PROBE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= services
    # And it serves the descriptors, so grpcurl-like tools can call the API.
    described = database.FindFileContainingSymbol("zorgid.v1.CaService")
    assert described.name == "zorgid/v1/ca.proto"


def test_ca_certificates_for_every_role(test_pki: ClientPki, channel_for: ChannelFactory) -> None:
    expected = {
        name: issued.cert.public_bytes(serialization.Encoding.DER)
        for name, issued in test_pki.ca_files.items()
    }
    for role in ("portal", "mobile", "operator", "security-officer", "auditor"):
        reply = ca_pb2_grpc.CaServiceStub(channel_for(role)).GetCaCertificates(  # type: ignore[no-untyped-call]
            ca_pb2.GetCaCertificatesRequest(), timeout=10
        )
        assert reply.root_certificate == expected["root.pem"]
        assert reply.issuing_ca_certificate == expected["issuing-ca.pem"]
        assert reply.ocsp_responder_certificate == expected["ocsp-responder.pem"]
        x509.load_der_x509_certificate(reply.issuing_ca_certificate)


def test_ca_certificates_refused_without_a_role(channel_for: ChannelFactory) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        ca_pb2_grpc.CaServiceStub(channel_for("norole")).GetCaCertificates(  # type: ignore[no-untyped-call]
            ca_pb2.GetCaCertificatesRequest(), timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "/zorgid.v1.CaService/GetCaCertificates" in (refused.value.details() or "")


def test_ca_store_names_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ZorgIdError) as missing:
        CaCertificateStore(tmp_path).load()
    assert missing.value.code == "ZID-0101"
    assert "root.pem, issuing-ca.pem, ocsp-responder.pem" in missing.value.detail


def test_domain_error_arrives_as_google_rpc_status(channel_for: ChannelFactory) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        channel_for("portal").unary_unary(method("Fail"), None, None)(b"", timeout=10)
    err = failed.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Field 'csr' is empty" in (err.details() or "")
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    infos, messages = [], {}
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            infos.append(info)
        elif detail.Is(error_details_pb2.LocalizedMessage.DESCRIPTOR):
            text = error_details_pb2.LocalizedMessage()
            detail.Unpack(text)
            messages[text.locale] = text.message
    assert [(i.reason, i.domain) for i in infos] == [("ZID-0005", "zorg-id")]
    spec = CATALOGUE["ZID-0005"]
    assert set(messages) == {"en", "nl-NL"}
    assert spec.cause_en in messages["en"] and spec.solution_en in messages["en"]
    assert spec.cause_nl in messages["nl-NL"] and spec.solution_nl in messages["nl-NL"]


def test_internal_error_leaks_nothing(channel_for: ChannelFactory) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        channel_for("auditor").unary_unary(method("Crash"), None, None)(b"", timeout=10)
    err = failed.value
    assert err.code() == grpc.StatusCode.INTERNAL
    assert "hunter2" not in (err.details() or "") and "RuntimeError" not in (err.details() or "")
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    assert "hunter2" not in str(status)
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "ZID-0001"


def test_open_health_watches_do_not_use_up_the_worker_threads(
    mtls_server: BuiltServer, channel_for: ChannelFactory
) -> None:
    # The test server has 4 workers; twice as many open Watch streams must
    # leave them free (grpc's non-blocking Watch survives the interceptor).
    channel = channel_for("operator")
    watches = [
        health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=20)
        for _ in range(8)
    ]
    try:
        assert [next(w).status for w in watches] == [SERVING] * 8
        assert check(channel) == SERVING
        reply = channel.unary_unary(method("Operator"), None, None)(b"x", timeout=10)
        assert reply == b"ok:x"
    finally:
        for w in watches:
            w.cancel()


def test_servicer_abort_passes_through(channel_for: ChannelFactory) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        channel_for("portal").unary_unary(method("Abort"), None, None)(b"", timeout=10)
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert failed.value.details() == "no such thing"


def test_exception_after_set_code_is_still_internal_and_silent(
    channel_for: ChannelFactory,
) -> None:
    with pytest.raises(grpc.RpcError) as failed:
        channel_for("portal").unary_unary(method("SetCodeCrash"), None, None)(b"", timeout=10)
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert "abc123" not in (failed.value.details() or "")
    assert "ValueError" not in (failed.value.details() or "")
