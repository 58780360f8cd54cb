"""The role allowlist over real mTLS: one method per role, every other role refused."""

from __future__ import annotations

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from issuer.config import Role
from tests.server.conftest import CLIENTS, ROLE_METHODS, ChannelFactory, ClientPki, method


def call(channel: grpc.Channel, name: str, payload: bytes = b"ping") -> bytes:
    result: bytes = channel.unary_unary(method(name), None, None)(payload, timeout=10)
    return result


def error_info(err: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None, f"no google.rpc.Status in the trailer of {err}"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError(f"no ErrorInfo in {status}")


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_allowed_role_passes_and_every_other_role_is_refused(
    role: Role, channel_for: ChannelFactory
) -> None:
    name = ROLE_METHODS[role]
    assert call(channel_for(role.value), name) == b"ok:ping"
    for other in [c for c in CLIENTS if c not in (role.value, "stranger")]:
        with pytest.raises(grpc.RpcError) as refused:
            call(channel_for(other), name)
        err = refused.value
        assert err.code() == grpc.StatusCode.PERMISSION_DENIED, other
        details = err.details() or ""
        assert method(name) in details
        assert f"CN={other}-client" in details or "CN=nobody" in details
        assert error_info(err).reason == "ZID-0003"


def test_streaming_method_is_guarded_too(channel_for: ChannelFactory) -> None:
    stream = channel_for("portal").unary_stream(method("PortalStream"), None, None)
    assert list(stream(b"", timeout=10)) == [b"one", b"two"]
    with pytest.raises(grpc.RpcError) as refused:
        list(
            channel_for("mobile").unary_stream(method("PortalStream"), None, None)(b"", timeout=10)
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_method_missing_from_the_table_is_refused_for_every_role(
    channel_for: ChannelFactory,
) -> None:
    for role in Role:
        with pytest.raises(grpc.RpcError) as refused:
            call(channel_for(role.value), "Unlisted")
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "not in the role table" in (refused.value.details() or "")


def test_client_without_certificate_fails_the_tls_handshake(channel_for: ChannelFactory) -> None:
    # require_client_auth=True: the server ends the handshake, so no RPC is ever
    # dispatched and the client sees the transport fail (UNAVAILABLE), not a status.
    with pytest.raises(grpc.RpcError) as refused:
        call(channel_for(None), "Portal")
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_client_certificate_from_another_ca_fails_the_tls_handshake(
    channel_for: ChannelFactory,
) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        call(channel_for("stranger"), "Portal")
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_oversize_message_is_refused_before_the_servicer(channel_for: ChannelFactory) -> None:
    # [server] max_message_bytes defaults to 4 MiB.
    with pytest.raises(grpc.RpcError) as refused:
        call(channel_for("portal"), "Portal", b"x" * (4 * 1024 * 1024 + 1))
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_servicer_sees_the_verified_caller(
    test_pki: ClientPki, channel_for: ChannelFactory
) -> None:
    cert_path, _ = test_pki.client("security-officer")
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    fingerprint = cert.fingerprint(hashes.SHA256()).hex()
    # Metadata a caller writes must not change who it is.
    reply = channel_for("security-officer").unary_unary(method("WhoAmI"), None, None)(
        b"", timeout=10, metadata=(("x-zorgid-role", "operator"), ("x-client-cn", "admin"))
    )
    assert reply.decode() == f"sha256:{fingerprint}|security-officer"
