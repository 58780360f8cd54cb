"""Every ``buf curl`` command of the README's "Calling the API" runs as printed.

The commands are read from README.md itself, so the section cannot rot: each is run
against a real ``zorgid dev`` with only its address (``localhost:50051``) and data folder
(``var/``) swapped for this run's, and each must have the outcome this test expects of it.
A command added to the section without an expectation here fails, and so does an
expectation whose command was removed.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import ROOT, DevEngine

SECTION = "## Calling the API"
VENV_BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    """The commands of the section's ``sh`` blocks: continuations joined, comments dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SECTION in text, f"README.md has no {SECTION!r}"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    commands = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        commands += [
            " ".join(line.split())
            for line in joined.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    return commands


Key = tuple[str, str, str]
"""A command, as (role of its client certificate, RPC path, request JSON or "")."""


def key_of(args: list[str]) -> Key:
    cert = args[args.index("--cert") + 1]
    url = next(a for a in args if a.startswith("https://"))
    data = args[args.index("-d") + 1] if "-d" in args else ""
    return Path(cert).stem, url.removeprefix("https://localhost:50051"), data


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _services(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    listed = result.stdout.split()
    for service in (
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "zorgid.v1.ErrorCatalogueService",
        "zorgid.v1.LoginService",
    ):
        assert service in listed, result.stdout


def _serving(result: subprocess.CompletedProcess[str]) -> None:
    assert _json(result) == {"status": "SERVING"}


def _catalogue(result: subprocess.CompletedProcess[str]) -> None:
    codes = [entry["code"] for entry in _json(result)["errors"]]
    assert codes == sorted(codes)
    assert {"ZID-0003", "ZID-1701", "ZID-1706"} <= set(codes)


def _login_qr(result: subprocess.CompletedProcess[str]) -> None:
    reply = _json(result)
    assert reply["qr"]["payload"].startswith(f"zorgid://login?v=1&c={reply['challengeId']}&n=")
    assert reply["expiresAt"]


def _refused(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 7 << 3, result.stdout + result.stderr  # PERMISSION_DENIED
    status = json.loads(result.stderr)
    assert status["code"] == "permission_denied"
    assert status["message"].startswith("ZID-0003")
    assert "google.rpc.ErrorInfo" in [d["type"] for d in status["details"]]


EXPECTED: dict[Key, Callable[[subprocess.CompletedProcess[str]], None]] = {
    ("auditor", "", ""): _services,
    ("auditor", "/grpc.health.v1.Health/Check", ""): _serving,
    ("auditor", "/grpc.health.v1.Health/Check", '{"service": "zorgid.v1.LoginService"}'): _serving,
    ("auditor", "/zorgid.v1.ErrorCatalogueService/ListErrors", ""): _catalogue,
    ("portal", "/zorgid.v1.LoginService/CreateLoginChallenge", ""): _login_qr,
    ("auditor", "/zorgid.v1.LoginService/CreateLoginChallenge", ""): _refused,
}


def test_every_command_of_the_section_is_checked() -> None:
    keys = [key_of(shlex.split(command)) for command in readme_commands()]
    assert sorted(keys) == sorted(EXPECTED)


def _id(command: str) -> str:
    role, path, data = key_of(shlex.split(command))
    return f"{role}:{path or 'list-services'}{':data' if data else ''}"


@pytest.mark.parametrize("command", readme_commands(), ids=_id)
def test_the_readme_command_runs_as_printed(command: str, dev_engine: DevEngine) -> None:
    # As printed: against `make run`'s engine and folder, with the venv's buf.
    assert command.startswith(".venv/bin/buf curl --protocol grpc ")
    assert "https://localhost:50051" in command and "var/tls/" in command
    args = [
        arg.replace(".venv/bin/", f"{VENV_BIN}/", 1)
        .replace("var/tls/", f"{dev_engine.root}/tls/")
        .replace("localhost:50051", dev_engine.target)
        for arg in shlex.split(command)
    ]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    EXPECTED[key_of(shlex.split(command))](result)
