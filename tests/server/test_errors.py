"""The error catalogue, its generated document, and its google.rpc.Status form."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2

from issuer.errors import CATALOGUE, Status, ZorgIdError
from issuer.server.interceptors import to_rpc_status

ROOT = Path(__file__).resolve().parents[2]


def test_status_numbers_are_the_grpc_numbers() -> None:
    for status in Status:
        assert grpc.StatusCode[status.name].value[0] == int(status)


def test_catalogue_entries_are_complete_and_keyed_by_their_code() -> None:
    assert CATALOGUE
    for code, spec in CATALOGUE.items():
        assert code == spec.code
        assert spec.cause_nl != spec.cause_en, f"{code}: Dutch text missing"


def test_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown error code 'ZID-9999'"):
        ZorgIdError("ZID-9999")


def test_status_carries_error_info_and_both_locales() -> None:
    error = ZorgIdError("ZID-0004", "HSM did not answer.", metadata={"component": "hsm"})
    status = to_rpc_status(error)
    assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert status.message == f"ZID-0004: {CATALOGUE['ZID-0004'].cause_en} HSM did not answer."
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "ZID-0004",
        "zorg-id",
        {"component": "hsm"},
    )
    locales = []
    for detail in status.details[1:]:
        text = error_details_pb2.LocalizedMessage()
        assert detail.Unpack(text)
        locales.append(text.locale)
    assert locales == ["en", "nl-NL"]


def test_docs_errors_md_is_generated_from_the_catalogue() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_errors_doc.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    text = (ROOT / "docs" / "errors.md").read_text()
    for code in CATALOGUE:
        assert f"## {code}" in text
