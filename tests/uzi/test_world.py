"""The test UZI-register is sound outside our own code: OpenSSL and pkilint accept it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from testkit.uzi_world import Kind
from tests.uzi.conftest import World


def test_openssl_verifies_every_card_certificate_with_crls(uzi: World, tmp_path: Path) -> None:
    world = uzi.world
    root = tmp_path / "root.pem"
    root.write_bytes(world.root.pem)
    crls = tmp_path / "crls.pem"
    crls.write_bytes(
        b"".join(
            subprocess.run(
                ["openssl", "crl", "-inform", "DER", "-outform", "PEM"],
                input=der,
                capture_output=True,
                check=True,
            ).stdout
            for der in world.crls().values()
        )
    )
    card = uzi.app.card
    untrusted = tmp_path / "chain.pem"
    untrusted.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in card.chain))
    for kind in Kind:
        leaf = tmp_path / f"{kind}.der"
        leaf.write_bytes(card.der(kind))
        pem = subprocess.run(
            ["openssl", "x509", "-inform", "DER", "-in", str(leaf)], capture_output=True, check=True
        ).stdout
        (tmp_path / f"{kind}.pem").write_bytes(pem)
        proc = subprocess.run(
            [
                "openssl",
                "verify",
                "-CAfile",
                str(root),
                "-untrusted",
                str(untrusted),
                "-CRLfile",
                str(crls),
                "-crl_check_all",
                "-attime",
                str(int(world.now.timestamp())),
                str(tmp_path / f"{kind}.pem"),
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_openssl_sees_the_revoked_card_as_revoked(uzi: World, tmp_path: Path) -> None:
    world = uzi.world
    (tmp_path / "root.pem").write_bytes(world.root.pem)
    crls = b"".join(
        subprocess.run(
            ["openssl", "crl", "-inform", "DER", "-outform", "PEM"],
            input=der,
            capture_output=True,
            check=True,
        ).stdout
        for der in world.crls().values()
    )
    (tmp_path / "crls.pem").write_bytes(crls)
    proc = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-untrusted",
            str(uzi.broken["revoked"]),
            "-CRLfile",
            str(tmp_path / "crls.pem"),
            "-crl_check_all",
            "-attime",
            str(int(world.now.timestamp())),
            str(uzi.broken["revoked"]),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "revoked" in (proc.stdout + proc.stderr)


def test_pkilint_finds_no_rfc5280_errors_in_card_certificates(uzi: World) -> None:
    from issuer.lint import Severity, pkilint_cert

    card = uzi.app.card
    for kind in Kind:
        findings = [f for f in pkilint_cert(card.der(kind)) if f.severity <= Severity.ERROR]
        assert findings == [], (kind, findings)
