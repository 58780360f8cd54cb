"""``[hsm.environment]``: the module's configuration lives in the file, not in an export.

Issue 21: ``zorgid ocsp refresh --config var/zorgid.toml`` failed unless SOFTHSM2_CONF
was exported, while ``config check`` said OK. The attack: a process whose exported
SOFTHSM2_CONF points at the wrong token directory must still reach the configured token,
and one process must never serve a module under two configurations.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hsm import HsmUnavailable
from hsm.module import load_module
from issuer.ca.config import load_ceremony_config
from issuer.ca.errors import CeremonyConfigError
from issuer.config import ConfigError, parse_config
from tests.softhsm import SOFTHSM_MODULE, SoftHsmDir, SoftHsmToken

ROOT = Path(__file__).resolve().parents[2]


def _config(token: SoftHsmToken, environment: str) -> str:
    return textwrap.dedent(
        f"""\
        data_dir = "."
        [server]
        dev_plaintext = true
        [hsm]
        module = "{token.module}"
        token = "{token.label}"
        pin_source = "file:{token.pin_file}"
        {environment}
        """
    )


def _open_in_fresh_process(config: Path, exported: str) -> subprocess.CompletedProcess[str]:
    """Open the configured token the way every ``--config`` command does (issuer.wiring)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from issuer.config import load_config\n"
        "from issuer.wiring import open_hsm\n"
        "hsm = open_hsm(load_config(Path(sys.argv[1])))\n"
        "print('opened', hsm.token_label)\n"
    )
    env = dict(os.environ, SOFTHSM2_CONF=exported, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", code, str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> tuple[SoftHsmDir, SoftHsmToken]:
    """A token in a directory of its own, which this test process's SOFTHSM2_CONF doesn't name."""
    made = SoftHsmDir.create(tmp_path_factory.mktemp("softhsm-elsewhere"))
    return made, made.init_token("zorgid-elsewhere")


def test_the_configured_module_environment_wins_over_a_wrong_export(
    elsewhere: tuple[SoftHsmDir, SoftHsmToken], tmp_path: Path
) -> None:
    tokens, token = elsewhere
    empty = SoftHsmDir.create(tmp_path / "empty")
    without = tmp_path / "without.toml"
    without.write_text(_config(token, ""))
    with_env = tmp_path / "with.toml"
    with_env.write_text(_config(token, f'[hsm.environment]\nSOFTHSM2_CONF = "{tokens.conf}"'))

    # Without the table the export decides, and it names a directory without the token.
    missed = _open_in_fresh_process(without, str(empty.conf))
    assert missed.returncode != 0
    assert "zorgid-elsewhere" in missed.stderr

    found = _open_in_fresh_process(with_env, str(empty.conf))
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "opened zorgid-elsewhere"
    # Which variable was overridden is said; its value is not (it may carry a credential).
    assert "SOFTHSM2_CONF is set in the environment" in found.stderr
    assert str(empty.conf) not in found.stderr


def test_a_loaded_module_is_not_served_under_another_configuration(
    engine_token: SoftHsmToken, tmp_path: Path
) -> None:
    current = os.environ["SOFTHSM2_CONF"]
    assert load_module(SOFTHSM_MODULE, {"SOFTHSM2_CONF": current}) is load_module(SOFTHSM_MODULE)
    with pytest.raises(HsmUnavailable, match=r"already loaded .* SOFTHSM2_CONF"):
        load_module(SOFTHSM_MODULE, {"SOFTHSM2_CONF": str(tmp_path / "other.conf")})
    assert os.environ["SOFTHSM2_CONF"] == current


def test_the_environment_table_is_checked(tmp_path: Path) -> None:
    text = (
        'data_dir = "."\n[server]\ndev_plaintext = true\n'
        '[hsm]\ntoken = "t"\npin_source = "env:PIN"\n'
        '[hsm.environment]\n"1BAD" = "x"\nGOOD = "x"\nNUMBER = 5\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base=tmp_path)
    problems = "\n".join(caught.value.problems)
    assert "hsm.environment.1BAD: '1BAD' is not a variable name" in problems
    assert "hsm.environment.NUMBER: expected a string, got int" in problems
    assert "GOOD" not in problems

    good = parse_config(
        text.split('"1BAD"')[0] + 'P11_KIT_SERVER_ADDRESS = "unix:path=/run/p"\n', base=tmp_path
    )
    assert good.hsm.environment == {"P11_KIT_SERVER_ADDRESS": "unix:path=/run/p"}


def test_the_ceremony_file_carries_the_same_table(tmp_path: Path) -> None:
    example = (ROOT / "docs" / "ceremony.example.toml").read_text()
    example = example.replace(
        "# [hsm.environment]\n# SOFTHSM2_CONF", "[hsm.environment]\nSOFTHSM2_CONF"
    )
    good = tmp_path / "ceremony.toml"
    good.write_text(example)
    assert load_ceremony_config(good).hsm.environment == {
        "SOFTHSM2_CONF": "/etc/softhsm/softhsm2.conf"
    }
    bad = tmp_path / "bad.toml"
    bad.write_text(example.replace("SOFTHSM2_CONF =", '"X-Y" ='))
    with pytest.raises(CeremonyConfigError, match=r"hsm\.environment\.X-Y"):
        load_ceremony_config(bad)
