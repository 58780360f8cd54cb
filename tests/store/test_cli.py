"""`zorgid db upgrade` and `zorgid db check` against both back ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.cli import main
from issuer.store import check_schema, head_revision
from tests.store.dbfixtures import Database


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "zorgid.toml"
    path.write_text(
        'data_dir = "data"\n'
        "[server]\n"
        'listen = "127.0.0.1:50051"\n'
        "dev_plaintext = true\n"
        "[hsm]\n"
        'token = "zorgid"\n'
        'pin_source = "file:pin"\n'
        "[database]\n"
        f'url = "{url}"\n'
    )
    return path


def test_check_then_upgrade_then_check(
    database: Database, engine: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "check", "--database", database.cli_url]) == 1
    err = capsys.readouterr().err
    assert "run `zorgid db upgrade --config FILE`" in err
    assert main(["db", "upgrade", "--database", database.cli_url]) == 0
    assert f"upgraded from empty to revision {head_revision()}" in capsys.readouterr().out
    assert main(["db", "upgrade", "--database", database.cli_url]) == 0
    assert "already at revision" in capsys.readouterr().out
    assert main(["db", "check", "--database", database.cli_url]) == 0
    check_schema(engine)


def test_upgrade_with_a_config_file(database: Database, engine: sa.Engine, tmp_path: Path) -> None:
    config = _config(tmp_path, database.cli_url)
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert main(["db", "check", "--config", str(config)]) == 0
    check_schema(engine)


def test_the_installed_command(database: Database, engine: sa.Engine) -> None:
    zorgid = Path(sys.executable).parent / "zorgid"
    done = subprocess.run(
        [str(zorgid), "db", "upgrade", "--database", database.cli_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    check_schema(engine)


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "check", "--database", "mysql://nobody@localhost/x"]) == 2
    assert "expected sqlite:///PATH or postgresql" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('data_dir = "d"\nsurprise = 1\n')
    assert main(["db", "upgrade", "--config", str(bad)]) == 2
    assert "surprise" in capsys.readouterr().err
