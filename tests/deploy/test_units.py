"""The systemd unit files of packaging/systemd: systemd accepts them, their commands exist.

``systemd-analyze verify`` exits 0 even on an unknown key or a bad value (it logs
and ignores them), so a unit passes only when it also says nothing. The commands
need to exist for ``verify``: the units' ``/opt/zorgid/bin/zorgid`` is pointed at this
checkout's console script in a copy.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from issuer.cli import build_parser

UNITS = Path(__file__).resolve().parents[2] / "packaging" / "systemd"
INSTALLED = "/opt/zorgid/bin/zorgid"
ZORGID = str(Path(sys.executable).with_name("zorgid"))


def _verify(folder: Path) -> str:
    """What ``systemd-analyze verify`` says of every unit in *folder* ('' when all is well)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd; `make system-deps`)")
    copies = []
    for unit in sorted(folder.glob("*.service")):
        copy = folder.parent / "verify" / unit.name
        copy.parent.mkdir(exist_ok=True)
        copy.write_text(unit.read_text().replace(INSTALLED, ZORGID))
        copies.append(str(copy))
    done = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True, timeout=60)
    said = (done.stdout + done.stderr).strip()
    return said if said or done.returncode == 0 else f"exit {done.returncode}"


def test_systemd_accepts_the_unit_files(tmp_path: Path) -> None:
    assert {u.name for u in UNITS.glob("*.service")} == {
        "zorgid.service",
        "zorgid-ocsp.service",
        "zorgid-p11-kit.service",
    }
    shutil.copytree(UNITS, tmp_path / "units")
    assert _verify(tmp_path / "units") == ""


def test_the_check_sees_a_unit_systemd_would_half_ignore(tmp_path: Path) -> None:
    shutil.copytree(UNITS, tmp_path / "units")
    unit = tmp_path / "units" / "zorgid.service"
    unit.write_text(
        unit.read_text().replace("Restart=on-failure", "Restart=on-failure\nRestartz=1")
    )
    assert "Unknown key" in _verify(tmp_path / "units")


def _zorgid_commands() -> list[list[str]]:
    found = []
    for unit in UNITS.glob("*.service"):
        for line in unit.read_text().splitlines():
            key, _, value = line.partition("=")
            if key in ("ExecStart", "ExecStartPre") and value.startswith(INSTALLED):
                found.append(shlex.split(value)[1:])
    return found


def test_every_zorgid_command_of_the_units_is_one_the_cli_accepts() -> None:
    commands = _zorgid_commands()
    assert ["serve", "--config", "/etc/zorgid/zorgid.toml"] in commands
    assert ["ocsp", "serve", "--config", "/etc/zorgid/zorgid.toml"] in commands
    parser = build_parser()
    for argv in commands:
        assert callable(parser.parse_args(argv).func), argv
    with pytest.raises(SystemExit):  # the check can fail: a command the CLI does not have
        parser.parse_args(["serve", "--configuration", "/etc/zorgid/zorgid.toml"])
