"""Health/List and reflection v1 over real mTLS (issue 21, "Health").

The v1 reflection client here is built from the published protocol's field numbers
(grpc/reflection/v1/reflection.proto), in its own descriptor pool: it shares nothing
with the server's v1alpha implementation, so a server that only answered v1alpha, or
answered v1 with other messages, fails these tests.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from issuer.config import load_config
from issuer.server.app import BuiltServer, build_server
from tests.server.conftest import (
    PROBE,
    TEST_TABLE,
    ChannelFactory,
    ClientPki,
    probe_binding,
    write_config,
)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
_F = descriptor_pb2.FieldDescriptorProto


def _v1_client_messages() -> tuple[type[Message], type[Message]]:
    """ServerReflectionRequest / Response of grpc.reflection.v1, the fields these tests use."""
    file = descriptor_pb2.FileDescriptorProto(
        name="test/reflection_v1_client.proto", package="grpc.reflection.v1", syntax="proto3"
    )

    def message(name: str, *fields: tuple[str, int, int, str, bool]) -> None:
        made = file.message_type.add(name=name)
        for field_name, number, kind, type_name, repeated in fields:
            added = made.field.add(
                name=field_name,
                number=number,
                type=kind,
                label=_F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL,
            )
            if type_name:
                added.type_name = type_name

    message(
        "ServerReflectionRequest",
        ("host", 1, _F.TYPE_STRING, "", False),
        ("file_containing_symbol", 4, _F.TYPE_STRING, "", False),
        ("list_services", 7, _F.TYPE_STRING, "", False),
    )
    message("ServiceResponse", ("name", 1, _F.TYPE_STRING, "", False))
    message(
        "ListServiceResponse",
        ("service", 1, _F.TYPE_MESSAGE, ".grpc.reflection.v1.ServiceResponse", True),
    )
    message("FileDescriptorResponse", ("file_descriptor_proto", 1, _F.TYPE_BYTES, "", True))
    message(
        "ServerReflectionResponse",
        (
            "file_descriptor_response",
            4,
            _F.TYPE_MESSAGE,
            ".grpc.reflection.v1.FileDescriptorResponse",
            False,
        ),
        (
            "list_services_response",
            6,
            _F.TYPE_MESSAGE,
            ".grpc.reflection.v1.ListServiceResponse",
            False,
        ),
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionRequest")
        ),
        message_factory.GetMessageClass(
            pool.FindMessageTypeByName("grpc.reflection.v1.ServerReflectionResponse")
        ),
    )


REQUEST, RESPONSE = _v1_client_messages()


def _v1_ask(channel: grpc.Channel, **fields: str) -> Message:
    call = channel.stream_stream(
        V1, request_serializer=REQUEST.SerializeToString, response_deserializer=RESPONSE.FromString
    )
    for reply in call(iter([REQUEST(**fields)]), timeout=10):
        answer: Message = reply
        return answer
    raise AssertionError("the reflection stream ended without an answer")


def test_health_list_answers_serving_for_the_server_and_each_service(
    mtls_server: BuiltServer, channel_for: ChannelFactory
) -> None:
    stub = health_pb2_grpc.HealthStub(channel_for("norole"))  # health needs no role
    reply = stub.List(health_pb2.HealthListRequest(), timeout=10)
    statuses = {name: got.status for name, got in reply.statuses.items()}
    expected = {"", *(b.name for b in mtls_server.bindings)}
    assert PROBE in expected and "zorgid.v1.CaService" in expected
    assert statuses == dict.fromkeys(expected, SERVING)


def test_health_list_follows_not_serving(
    mtls_server: BuiltServer, channel_for: ChannelFactory
) -> None:
    stub = health_pb2_grpc.HealthStub(channel_for("auditor"))
    mtls_server.health.set_not_serving("HSM unavailable")
    try:
        reply = stub.List(health_pb2.HealthListRequest(), timeout=10)
        assert {got.status for got in reply.statuses.values()} == {NOT_SERVING}
        assert "" in reply.statuses
    finally:
        mtls_server.health.set_serving("HSM unavailable")
    reply = stub.List(health_pb2.HealthListRequest(), timeout=10)
    assert {got.status for got in reply.statuses.values()} == {SERVING}


def test_health_list_says_not_serving_for_good_once_draining_starts(
    tmp_path: Path, test_pki: ClientPki
) -> None:
    built = build_server(
        load_config(write_config(tmp_path, test_pki)), [probe_binding()], table=TEST_TABLE
    )
    built.start()
    cert, key = test_pki.client("norole")
    creds = grpc.ssl_channel_credentials(
        root_certificates=test_pki.server_ca_pem,
        private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes(),
    )
    channel = grpc.secure_channel(f"127.0.0.1:{built.port}", creds)
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        before = stub.List(health_pb2.HealthListRequest(), timeout=10)
        assert {n: s.status for n, s in before.statuses.items()} == {"": SERVING, PROBE: SERVING}
        built.health.shutdown()  # what stop() does first, before the drain
        built.health.set_serving()  # a late recovery report must not bring it back
        after = stub.List(health_pb2.HealthListRequest(), timeout=10)
        assert {n: s.status for n, s in after.statuses.items()} == {
            "": NOT_SERVING,
            PROBE: NOT_SERVING,
        }
    finally:
        channel.close()
        built.stop(0)


def test_reflection_v1_lists_the_services(channel_for: ChannelFactory) -> None:
    reply = _v1_ask(channel_for("norole"), list_services="*")
    names = {s.name for s in reply.list_services_response.service}  # type: ignore[attr-defined]
    assert {
        "zorgid.v1.CaService",
        PROBE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    } <= names


@pytest.mark.parametrize(
    ("symbol", "file"),
    [
        ("zorgid.v1.CaService", "zorgid/v1/ca.proto"),
        ("grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto"),
    ],
)
def test_reflection_v1_describes_what_it_lists(
    channel_for: ChannelFactory, symbol: str, file: str
) -> None:
    reply = _v1_ask(channel_for("mobile"), file_containing_symbol=symbol)
    found = reply.file_descriptor_response.file_descriptor_proto  # type: ignore[attr-defined]
    described = [descriptor_pb2.FileDescriptorProto.FromString(raw) for raw in found]
    assert described[0].name == file
    if file.startswith("grpc/reflection/v1/"):
        service = described[0].service[0]
        assert service.method[0].input_type == ".grpc.reflection.v1.ServerReflectionRequest"


def test_reflection_v1_refuses_a_client_without_certificate(channel_for: ChannelFactory) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _v1_ask(channel_for(None), list_services="*")
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
