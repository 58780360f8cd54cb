"""Serial numbers as openssl prints them, and every common form an operator pastes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from issuer.errors import ZorgIdError
from issuer.serials import ACCEPTED_FORMS, format_serial, parse_serial, store_form


def _openssl_says(serial: int, folder: Path) -> str:
    """The serial of a certificate openssl itself made with *serial*, as openssl prints it."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", str(key), "-subj", "/CN=serial", "-days", "1",
            "-set_serial", f"0x{serial:x}", "-out", str(cert),
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    done = subprocess.run(
        ["openssl", "x509", "-noout", "-serial", "-in", str(cert)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip().removeprefix("serial=")


@pytest.mark.parametrize(
    "serial",
    [0x0ABC, 0x8F0102, 0xFF, 0x1, 0x00FF00, (1 << 159) - 1, 0x7F << 152],
    ids=["leading-zero", "high-bit", "one-octet", "one-digit", "inner-zero", "159-bits", "20-oct"],
)
def test_printed_as_openssl_prints_and_read_back(serial: int, tmp_path: Path) -> None:
    said = _openssl_says(serial, tmp_path)
    assert format_serial(serial) == said
    assert parse_serial(said) == serial
    assert parse_serial(f"serial={said}") == serial


@pytest.mark.parametrize(
    "text",
    ["0A1B2C", "0a1b2c", "a1b2c", "0x0A1B2C", "0XA1B2C", "0A:1B:2C", "0a:1b:2c", "0A 1B 2C",
     " 0a1b2c\n", "serial=0A1B2C", "dec:662316"],
)  # fmt: skip
def test_every_common_form_names_one_serial(text: str) -> None:
    assert parse_serial(text) == 0x0A1B2C


def test_digits_only_are_hexadecimal() -> None:
    """A tool's serial is hexadecimal; a decimal one must say so (or the wrong one is found)."""
    assert parse_serial("1234") == 0x1234
    assert parse_serial("dec:1234") == 1234


@pytest.mark.parametrize(
    "text",
    ["", "not-hex", "0x", "-1A", "+1A", "0", "00:00", "dec:12ab", "dec:", "0A:1B2C:3D", "0A::1B",
     "0A;1B", "1" * 41, "dec:-5", "\uff11\uff12", "dec:\uff11\uff12"],
)  # fmt: skip
def test_anything_else_is_malformed_and_names_the_forms(text: str) -> None:
    with pytest.raises(ZorgIdError) as caught:
        parse_serial(text)
    assert caught.value.code == "ZID-0005"
    assert ACCEPTED_FORMS in str(caught.value)


def test_the_store_form_has_no_leading_zero() -> None:
    assert store_form(parse_serial("00:0A:1B")) == "a1b"
