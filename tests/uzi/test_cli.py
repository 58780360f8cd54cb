"""``zorgid uzi inspect`` as a real process: JSON output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from issuer.serials import format_serial
from tests.uzi.conftest import NOW, World

ZORGID = [str(Path(sys.executable).with_name("zorgid"))]


def _run(*args: str) -> tuple[int, dict[str, object] | None, str]:
    proc = subprocess.run(
        [*ZORGID, "uzi", "inspect", *args], capture_output=True, text=True, timeout=120
    )
    obj = json.loads(proc.stdout) if "--json" in args and proc.stdout.strip() else None
    return proc.returncode, obj, proc.stdout + proc.stderr


def _files(uzi: World, tmp_path: Path) -> tuple[Path, Path]:
    card = tmp_path / "card.der"
    card.write_bytes(uzi.app.card.der())
    chain = tmp_path / "chain.pem"
    chain.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in uzi.app.card.chain))
    return card, chain


def test_valid_card_as_json(uzi: World, tmp_path: Path) -> None:
    card, chain = _files(uzi, tmp_path)
    code, obj, out = _run(
        str(card),
        "--chain",
        str(chain),
        "--trust",
        str(uzi.trust_dir),
        "--at",
        NOW.isoformat(),
        "--revocation",
        "hard",
        "--json",
    )
    assert code == 0, out
    assert obj is not None
    assert obj["valid"] is True and obj["error"] is None
    assert obj["kind"] == "authentication" and obj["card_type"] == "Z"
    assert obj["uzi_number"] == uzi.app.card.uzi_number
    assert obj["subscriber_number"] == "90000382" and obj["role"] == "01.015"
    assert obj["agb_code"] == "00000000"
    assert (obj["given_name"], obj["surname"], obj["common_name"]) == (
        "Jan",
        "de Vries",
        "Jan de Vries",
    )
    assert obj["title"] == "arts" and obj["organization"] == "Testziekenhuis Zorg-ID"
    assert obj["serial"] == format_serial(uzi.app.card.auth.serial_number)
    assert obj["not_before"] == "2026-05-02T12:00:00Z"
    assert isinstance(obj["chain"], list) and len(obj["chain"]) == 4
    assert "TEST Zorg CSP Root CA G3" in obj["chain"][-1]
    assert "TEST UZI-register Zorgverlener CA G3" in str(obj["issuer"])


def test_revoked_card_with_offline_crls_exits_1(uzi: World, tmp_path: Path) -> None:
    crl_args: list[str] = []
    for path, der in uzi.world.crls().items():
        (tmp_path / path).write_bytes(der)
        crl_args += ["--crl", str(tmp_path / path)]
    uzi.server.down = True  # offline: only the files can answer
    try:
        code, obj, out = _run(
            str(uzi.broken["revoked"]),
            "--trust",
            str(uzi.trust_dir),
            "--at",
            NOW.isoformat(),
            *crl_args,
            "--json",
        )
    finally:
        uzi.server.down = False
    assert code == 1, out
    assert obj is not None and obj["valid"] is False
    assert obj["error"]["code"] == "ZID-1110"  # type: ignore[index]
    assert obj["uzi_number"] is not None


def test_signature_certificate_for_its_own_usage(uzi: World, tmp_path: Path) -> None:
    cert = tmp_path / "sig.pem"
    cert.write_bytes(uzi.app.card.signature.public_bytes(Encoding.PEM))
    args = [
        str(cert),
        "--trust",
        str(uzi.trust_dir),
        "--at",
        NOW.isoformat(),
        "--revocation",
        "off",
        "--json",
    ]
    code, obj, _ = _run(*args)
    assert code == 1 and obj is not None and obj["error"]["code"] == "ZID-1105"  # type: ignore[index]
    code, obj, out = _run(*args, "--usage", "signature")
    assert code == 0, out
    assert obj is not None and obj["kind"] == "signature"


def test_unusable_input_exits_2(uzi: World, tmp_path: Path) -> None:
    code, obj, _ = _run(str(uzi.broken["garbage"]), "--trust", str(uzi.trust_dir), "--json")
    assert code == 2 and obj is not None and obj["error"]["code"] == "ZID-1101"  # type: ignore[index]
    code, _, out = _run(str(tmp_path / "missing.der"), "--trust", "acc")
    assert code == 5 and "cannot read" in out  # docs/cli.md: a file missing
    card, _ = _files(uzi, tmp_path)
    code, _, out = _run(str(card), "--at", "yesterday")
    assert code == 2 and "ISO-8601" in out


def test_human_output_names_the_refusal(uzi: World) -> None:
    code, _, out = _run(
        str(uzi.broken["card-type-M"]),
        "--trust",
        "acc",
        "--at",
        NOW.isoformat(),
        "--revocation",
        "off",
    )
    assert code == 1
    assert "ZID-1112" in out  # a test-register card is not trusted under 'acc'


def test_cli_choices_match_the_enums() -> None:
    from issuer.cli.uzi import REVOCATION_MODES, USAGES
    from issuer.uzi.card import CertKind
    from issuer.uzi.validate import RevocationMode

    assert tuple(m.value for m in RevocationMode) == REVOCATION_MODES
    assert tuple(k.value for k in CertKind) == USAGES
