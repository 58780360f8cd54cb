"""``openssl ocsp`` is the client: POST and GET, with and without nonce, good / revoked,
SHA-1 and SHA-256 CertIDs; every answer must verify against root + issuing CA with the
delegated responder certificate from the response, with no WARNING. A serial the engine
never issued is refused unsigned (``unauthorized``, issue 16 item 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.ocsp.conftest import OcspEnv, Served
from tests.ocsp.helpers import get_path, http, make_request, openssl


def _check_verified(stdout: str, stderr: str) -> None:
    assert "Response verify OK" in stderr, stderr
    assert "WARNING" not in stderr, stderr
    assert "WARNING" not in stdout, stdout


def ocsp_post(env: OcspEnv, served: Served, *targets: str, nonce: bool, digest: str) -> str:
    args = ["ocsp", digest, "-issuer", str(env.pki.issuing_pem)]
    for target in targets:
        args += target.split(" ", 1)
    args += ["-url", served.url(), "-CAfile", str(env.pki.cafile)]
    args.append("-nonce" if nonce else "-no_nonce")
    done = openssl(*args)
    assert done.returncode == 0, done.stderr
    _check_verified(done.stdout, done.stderr)
    return done.stdout


def ocsp_get(env: OcspEnv, served: Served, target: str, *, digest: str, tmp: Path) -> str:
    """RFC 5019 GET with curl, then ``openssl ocsp -respin`` verifies and prints."""
    der = make_request(env.pki.issuing_pem, target, digest=digest, out=tmp / "req.der")
    got = http(served.port, "GET", get_path(der))
    assert got.status == 200
    (tmp / "resp.der").write_bytes(got.body)
    kind, value = target.split(" ", 1)
    done = openssl(
        "ocsp", digest, "-issuer", str(env.pki.issuing_pem), kind, value,
        "-respin", str(tmp / "resp.der"), "-CAfile", str(env.pki.cafile), "-no_nonce",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    _check_verified(done.stdout, done.stderr)
    return done.stdout


def _unauthorized(env: OcspEnv, served: Served, *targets: str, nonce: bool, digest: str) -> bool:
    """``openssl ocsp`` reports the unsigned ``unauthorized`` error response."""
    args = ["ocsp", digest, "-issuer", str(env.pki.issuing_pem)]
    for target in targets:
        args += target.split(" ", 1)
    args += ["-url", served.url(), "-CAfile", str(env.pki.cafile)]
    args.append("-nonce" if nonce else "-no_nonce")
    done = openssl(*args)
    return "Responder Error: unauthorized (6)" in done.stdout + done.stderr


@pytest.mark.parametrize("digest", ["-sha1", "-sha256"])
@pytest.mark.parametrize("nonce", [False, True])
def test_post_good_revoked_and_never_issued(
    env: OcspEnv, served: Served, digest: str, nonce: bool
) -> None:
    good = env.issue()
    gone = env.issue()
    env.revoke(gone, "keyCompromise")
    out = ocsp_post(env, served, f"-cert {good.pem}", nonce=nonce, digest=digest)
    assert f"{good.pem}: good" in out
    out = ocsp_post(env, served, f"-cert {gone.pem}", nonce=nonce, digest=digest)
    assert f"{gone.pem}: revoked" in out
    assert "Reason: keyCompromise" in out
    assert re.search(r"Revocation Time: \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} GMT", out)
    assert _unauthorized(env, served, "-serial 0x1234567890abcdef", nonce=nonce, digest=digest)


@pytest.mark.parametrize("digest", ["-sha1", "-sha256"])
def test_get_good_revoked_and_never_issued(
    env: OcspEnv, served: Served, digest: str, tmp_path: Path
) -> None:
    good = env.issue()
    gone = env.issue()
    env.revoke(gone, "superseded")
    assert f"{good.pem}: good" in ocsp_get(
        env, served, f"-cert {good.pem}", digest=digest, tmp=tmp_path
    )
    out = ocsp_get(env, served, f"-cert {gone.pem}", digest=digest, tmp=tmp_path)
    assert f"{gone.pem}: revoked" in out
    assert "Reason: superseded" in out
    der = make_request(env.pki.issuing_pem, "-serial 0x7777", digest=digest, out=tmp_path / "u")
    assert http(served.port, "GET", get_path(der)).ocsp_status() == "unauthorized"


def test_several_certificates_in_one_request(env: OcspEnv, served: Served) -> None:
    a, b = env.issue(), env.issue()
    env.revoke(b, "affiliationChanged")
    out = ocsp_post(
        env,
        served,
        f"-cert {a.pem}",
        f"-cert {b.pem}",
        nonce=True,
        digest="-sha256",
    )
    assert f"{a.pem}: good" in out
    assert f"{b.pem}: revoked" in out
    assert "Reason: affiliationChanged" in out
    assert _unauthorized(
        env, served, f"-cert {a.pem}", "-serial 0x42", nonce=True, digest="-sha256"
    ), "one never-issued serial among issued ones: refused whole"


def test_other_issuer_is_unauthorized(env: OcspEnv, served: Served, tmp_path: Path) -> None:
    # The root is a real CA, just not one whose certificates we answer for.
    other = tmp_path / "root.pem"
    from cryptography.hazmat.primitives.serialization import Encoding

    other.write_bytes(env.pki.material.root.public_bytes(Encoding.PEM))
    done = openssl(
        "ocsp", "-issuer", str(other), "-serial", "0x1", "-url", served.url(), "-no_nonce"
    )
    assert "Responder Error: unauthorized (6)" in done.stdout + done.stderr


def test_sha384_certid_signed_on_demand(env: OcspEnv, served: Served) -> None:
    good = env.issue()
    out = ocsp_post(env, served, f"-cert {good.pem}", nonce=False, digest="-sha384")
    assert f"{good.pem}: good" in out
