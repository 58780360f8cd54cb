"""Fixtures for the key ceremony: a fresh real SoftHSM token and a ceremony file per test."""

from __future__ import annotations

import hashlib
import secrets
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hsm import Hsm
from issuer.ca import CeremonyConfig, load_ceremony_config
from tests.softhsm import SoftHsmDir, SoftHsmToken

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "ceremony.example.toml"
VENV_BIN = REPO / ".venv" / "bin"


def toml_text(doc: dict[str, Any]) -> str:
    """A tiny TOML writer for the ceremony file's shape (scalars, string lists, one level)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(type(v))

    lines = [f"{k} = {value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"\n[{k}]")
            lines.extend(f"{kk} = {value(vv)}" for kk, vv in v.items())
    return "\n".join(lines) + "\n"


def example_doc() -> dict[str, Any]:
    """The committed example ceremony file, parsed: every test starts from it."""
    return tomllib.loads(EXAMPLE.read_text())


@dataclass
class CeremonySetup:
    """A fresh token, a data directory that does not exist yet, and a ceremony file for both."""

    token: SoftHsmToken
    hsm: Hsm
    data_dir: Path
    config_path: Path
    doc: dict[str, Any]

    @property
    def config(self) -> CeremonyConfig:
        return load_ceremony_config(self.config_path)

    def rewrite(self, change: Callable[[dict[str, Any]], None]) -> CeremonyConfig:
        """Change the ceremony file (e.g. key specs) and return the re-read config."""
        change(self.doc)
        self.config_path.write_text(toml_text(self.doc))
        return self.config

    def token_state(self) -> list[str]:
        return sorted(self.hsm.list_keys())

    def data_state(self) -> dict[str, str] | None:
        """Every file under data_dir with its SHA-256, or None when data_dir does not exist."""
        if not self.data_dir.exists():
            return None
        return {
            str(p.relative_to(self.data_dir)): (
                hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            )
            for p in sorted(self.data_dir.rglob("*"))
        }


@pytest.fixture
def setup(softhsm_dir: SoftHsmDir, tmp_path: Path) -> CeremonySetup:
    """A brand-new token ``ceremony-<random>`` and the example file pointed at it."""
    token = softhsm_dir.init_token(f"ceremony-{secrets.token_hex(4)}")
    hsm = Hsm.open(
        module_path=token.module, token_label=token.label, pin_source=f"file:{token.pin_file}"
    )
    data_dir = tmp_path / "data"
    doc = example_doc()
    doc["data_dir"] = str(data_dir)
    doc["hsm"] = {
        "module": token.module,
        "token": token.label,
        "pin_source": f"file:{token.pin_file}",
    }
    config_path = tmp_path / "ceremony.toml"
    config_path.write_text(toml_text(doc))
    return CeremonySetup(token=token, hsm=hsm, data_dir=data_dir, config_path=config_path, doc=doc)


def openssl_verify(
    root: Path, cert: Path, untrusted: Path | None = None, at: datetime | None = None
) -> subprocess.CompletedProcess[str]:
    """``openssl verify -x509_strict`` as a real subprocess (purpose left to the chain itself)."""
    cmd = ["openssl", "verify", "-x509_strict", "-CAfile", str(root)]
    if at is not None:
        cmd += ["-attime", str(int(at.timestamp()))]
    if untrusted is not None:
        cmd += ["-untrusted", str(untrusted)]
    cmd.append(str(cert))
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def pkilint_cert(cert: Path) -> subprocess.CompletedProcess[str]:
    """pkilint's own console script, findings at WARNING or above."""
    return subprocess.run(
        [
            str(VENV_BIN / "lint_pkix_cert"),
            "lint",
            "-s",
            "WARNING",
            "--document-format",
            "PEM",
            str(cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def pkilint_pair(issuer: Path, subject: Path) -> subprocess.CompletedProcess[str]:
    """pkilint's issuer/subject chain linter, findings at WARNING or above."""
    return subprocess.run(
        [
            str(VENV_BIN / "lint_pkix_signer_signee_cert_chain"),
            "lint",
            "-s",
            "WARNING",
            "--document-format",
            "PEM",
            str(issuer),
            str(subject),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
