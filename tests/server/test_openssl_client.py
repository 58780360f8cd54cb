"""``openssl s_client`` (a real, independent TLS client) against the mTLS listener."""

from __future__ import annotations

import subprocess

import pytest

from issuer.server.app import BuiltServer
from tests.server.conftest import ClientPki


def s_client(server: BuiltServer, pki: ClientPki, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        "openssl",
        "s_client",
        "-connect",
        f"127.0.0.1:{server.port}",
        "-CAfile",
        str(pki.root / "server-ca.pem"),
        "-verify_return_error",
        "-alpn",
        "h2",
        *extra,
    ]
    done = subprocess.run(command, input=b"", capture_output=True, timeout=30)
    return subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
    )


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_handshake_completes_with_a_client_certificate(
    mtls_server: BuiltServer, test_pki: ClientPki, version: str
) -> None:
    cert, key = test_pki.client("portal")
    done = s_client(mtls_server, test_pki, version, "-cert", str(cert), "-key", str(key))
    assert done.returncode == 0, done.stderr
    assert "Verify return code: 0 (ok)" in done.stdout
    assert "ALPN protocol: h2" in done.stdout
    assert "error:" not in done.stderr


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_connection_refused_without_a_client_certificate(
    mtls_server: BuiltServer, test_pki: ClientPki, version: str
) -> None:
    # -ign_eof: keep reading until the server acts; it closes the connection at
    # once because the client sent no certificate (with TLS 1.3 only after the
    # client considers its side of the handshake done, RFC 8446 section 4.4.2).
    done = s_client(mtls_server, test_pki, version, "-ign_eof")
    assert done.returncode != 0
    assert "unexpected eof" in done.stderr or "alert" in done.stderr, done.stderr


def test_connection_refused_with_a_certificate_of_another_ca(
    mtls_server: BuiltServer, test_pki: ClientPki
) -> None:
    cert, key = test_pki.client("stranger")
    done = s_client(mtls_server, test_pki, "-ign_eof", "-cert", str(cert), "-key", str(key))
    assert done.returncode != 0
    assert "unexpected eof" in done.stderr or "alert" in done.stderr, done.stderr
