"""The engine's distribution: what ``pip install zorgid`` puts on a machine.

``testkit`` doubles the outside world (a UZI register, phones, a desktop app) for
tests, ``zorgid dev`` and ``zorgid demo``; it must not ship with the engine, where
a test CA's private keys would sit beside production code.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = {"issuer", "hsm", "policies", "ocsp", "portal"}


def test_the_wheel_holds_the_engine_and_no_testkit(tmp_path: Path) -> None:
    # Built from a copy so the build's scratch folders never land in the checkout.
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    source = tmp_path / "src"
    for name in listed:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(source),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        capture_output=True,
        check=True,
        timeout=300,
    )
    (wheel,) = out.glob("zorgid-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == ENGINE
    assert "policies/default.toml" in names and "issuer/config/__init__.py" in names
    assert "portal/templates/index.html" in names and "portal/static/portal.js" in names
    assert not [n for n in names if n.startswith("testkit/")]


def test_zorgid_says_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    from issuer.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"zorgid {version('zorgid')}\n"
