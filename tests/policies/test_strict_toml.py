"""One strict TOML reader: config, policy and ceremony files refuse bad input alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from issuer.ca import load_ceremony_config
from issuer.ca.errors import CeremonyConfigError
from issuer.config import ConfigError, load_config
from policies import PolicyError, load_policy
from policies.strict_toml import TomlError, read_toml

BAD_UTF8 = b'data_dir = "\xff"\n'
DUPLICATE = b"a = 1\na = 2\n"


def test_the_reader_refuses_bad_utf8_and_duplicate_keys() -> None:
    assert read_toml(b"a = 1\n") == {"a": 1}
    assert read_toml("a = 1\n") == {"a": 1}
    with pytest.raises(TomlError, match="utf-8"):
        read_toml(BAD_UTF8)
    with pytest.raises(TomlError, match="overwrite"):
        read_toml(DUPLICATE)


@pytest.mark.parametrize("content", [BAD_UTF8, DUPLICATE])
def test_every_file_kind_refuses_with_its_own_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "file.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as config:
        load_config(path)
    assert config.value.code == "ZID-0901"
    assert config.value.problems[0].startswith("not valid TOML: ")
    with pytest.raises(PolicyError, match="invalid TOML"):
        load_policy(path)
    with pytest.raises(CeremonyConfigError, match="not valid UTF-8 TOML"):
        load_ceremony_config(path)
