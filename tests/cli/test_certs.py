"""``zorgid certs list|show|revoke``: serials as openssl prints them, ``--all`` read page by
page as a table or JSON lines, and a revocation only after it was confirmed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from issuer.cli import main
from issuer.cli.failures import Exit
from issuer.issuance.certificates import get_certificate
from issuer.issuance.records import IssuedCertificate
from issuer.serials import format_serial
from testkit.phone import Phone
from tests.cli.conftest import engine_config
from tests.cli.terminal import on_terminal
from tests.issuance.conftest import MOBILE, World, attributes


def _issue(world: World, new_phone: Callable[..., Phone], count: int) -> list[IssuedCertificate]:
    issued = []
    for n in range(count):
        enrolment = world.enrol(attributes(f"90001652{n}"))
        redeemed = world.redeemer.redeem(enrolment.token, new_phone().csr(), actor=MOBILE)
        issued.append(redeemed.certificate)
    return issued


def _openssl_serial(cert: IssuedCertificate, folder: Path) -> str:
    """What ``openssl x509 -noout -serial`` prints for *cert*: ``serial=0A1B...``."""
    pem = folder / f"{cert.id}.pem"
    pem.write_bytes(cert.certificate.public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(
        ["openssl", "x509", "-noout", "-serial", "-in", str(pem)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_list_all_reads_every_page_as_a_table_or_json_lines(
    world: World, new_phone: Callable[..., Phone], capsys: pytest.CaptureFixture[str]
) -> None:
    issued = _issue(world, new_phone, 5)
    printed = {format_serial(int(c.serial, 16)) for c in issued}
    url = world.db.cli_url
    # Two certificates a read: three pages, the last one short.
    assert main(["certs", "list", "--database", url, "--all", "--page", "2"]) == Exit.OK
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split() == [
        "SERIAL", "STATE", "NOT", "BEFORE", "NOT", "AFTER", "USAGE", "POLICY", "SUBJECT"
    ]  # fmt: skip
    rows = [line.split() for line in lines[2:]]
    assert {row[0] for row in rows} == printed and len(rows) == 5
    assert {row[1] for row in rows} == {"good"}
    assert "5 certificate(s)" in captured.err
    assert main(["certs", "list", "--database", url, "--all", "--json", "--page", "2"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {c["serial"] for c in listed} == printed and len(listed) == 5
    assert {c["subject"] for c in listed} == {"Zoë van der Heijden"}
    # The filters of before stay, in either output.
    person = issued[0].person_id
    assert person is not None
    assert main(["certs", "list", "--database", url, "--person", person, "--json"]) == 0
    mine = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {c["person_id"] for c in mine} == {person}


def test_serials_round_trip_with_openssl(
    world: World,
    new_phone: Callable[..., Phone],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (cert,) = _issue(world, new_phone, 1)
    said = _openssl_serial(cert, tmp_path)
    digits = said.removeprefix("serial=")
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    url = world.db.cli_url
    assert main(["certs", "list", "--database", url, "--all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["serial"] == digits
    for form in (
        said,  # openssl's line pasted whole
        digits,
        digits.lower(),
        f"0x{digits}",
        ":".join(pairs),
        " ".join(pairs).lower(),
        f"dec:{cert.certificate.serial_number}",
    ):
        assert main(["certs", "show", "--database", url, "--serial", form]) == 0, form
        assert json.loads(capsys.readouterr().out)["id"] == cert.id, form


def test_revoke_asks_first_and_refuses_without_a_terminal(
    world: World,
    new_phone: Callable[..., Phone],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = _issue(world, new_phone, 2)
    config = str(engine_config(world, tmp_path))
    serial = format_serial(int(first.serial, 16))
    argv = ["certs", "revoke", "--config", config, "--reason", "superseded"]
    # No terminal to ask on (pytest's stdin) and no --yes: nothing happens.
    assert main([*argv, "--serial", serial]) == Exit.USAGE
    err = capsys.readouterr().err
    assert f"serial   {serial}" in err and "pass --yes" in err
    assert get_certificate(world.engine, certificate_id=first.id).status == "good"
    # --yes (scripts), the serial in openssl's colon form.
    colons = ":".join(serial[i : i + 2] for i in range(0, len(serial), 2))
    assert main([*argv, "--serial", colons, "--yes"]) == Exit.OK
    assert json.loads(capsys.readouterr().out)["serial"] == serial
    assert get_certificate(world.engine, certificate_id=first.id).status == "revoked"
    # The id form stays, and asks too.
    assert main([*argv, second.id]) == Exit.USAGE
    assert get_certificate(world.engine, certificate_id=second.id).status == "good"


def test_revoke_on_a_terminal_acts_on_yes_only(
    world: World, new_phone: Callable[..., Phone], tmp_path: Path
) -> None:
    (cert,) = _issue(world, new_phone, 1)
    config = str(engine_config(world, tmp_path))
    argv = [
        "certs",
        "revoke",
        "--config",
        config,
        "--serial",
        cert.serial,
        "--reason",
        "superseded",
    ]
    status, shown = on_terminal(*argv, answer="n")
    assert status == Exit.PROBLEM, shown
    assert "revoke? [y/N]" in shown and "not revoked" in shown
    assert format_serial(int(cert.serial, 16)) in shown
    assert get_certificate(world.engine, certificate_id=cert.id).status == "good"
    status, shown = on_terminal(*argv, answer="y")
    assert status == Exit.OK, shown
    assert get_certificate(world.engine, certificate_id=cert.id).status == "revoked"
