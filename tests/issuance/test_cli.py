"""``zorgid certs`` and ``zorgid issuance stale`` in-process, through the real parser."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from issuer.cli import main
from issuer.issuance.records import IssuanceRequest
from issuer.serials import format_serial
from testkit.phone import Phone
from tests.issuance.conftest import MOBILE, World, attributes


def test_certs_list_and_show(
    world: World, new_phone: Callable[..., Phone], capsys: pytest.CaptureFixture[str]
) -> None:
    enrolment = world.enrol()
    cert = world.redeemer.redeem(enrolment.token, new_phone().csr(), actor=MOBILE).certificate
    url = world.db.cli_url
    assert (
        main(["certs", "list", "--database", url, "--person", enrolment.person_id, "--json"]) == 0
    )
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [c["serial"] for c in listed] == [format_serial(int(cert.serial, 16))]
    assert main(["certs", "show", "--database", url, "--serial", cert.serial.upper(), "--pem"]) == 0
    out = capsys.readouterr().out
    assert '"status": "good"' in out and "BEGIN CERTIFICATE" in out
    # No card date recorded with this enrolment: the policy's validity, and it says so.
    assert f'"not_after_reason": "policy {world.cycle.policy.profile.validity_days} days"' in out
    assert main(["certs", "show", "--database", url, "--serial", "abc"]) == 3
    assert "ZID-1210" in capsys.readouterr().err
    assert main(["issuance", "lint-scan", "--database", url]) == 0
    assert "0 certificate(s) with pkilint findings" in capsys.readouterr().err


def test_issuance_stale_lists_an_interrupted_issuance(
    world: World, new_phone: Callable[..., Phone], capsys: pytest.CaptureFixture[str]
) -> None:
    request = IssuanceRequest(
        attrs=attributes(), csr=new_phone().csr(), person_id="p", actor=MOBILE
    )
    checked = world.cycle.step1_check_request(request)
    reservation = world.cycle.step2_reserve_serial(checked)  # ...and the process "died" here
    url = world.db.cli_url
    assert main(["issuance", "stale", "--database", url, "--older-than", "0"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["serial"] for r in rows] == [format_serial(int(reservation.serial_hex, 16))]
    assert datetime.fromisoformat(rows[0]["reserved_at"]) <= datetime.now(UTC)
    assert main(["issuance", "stale", "--database", url, "--fail-if-any"]) == 0  # < 300 s old
    assert main(["issuance", "stale", "--database", url, "--older-than", "0", "--fail-if-any"]) == 1
