"""The development token directory refuses a second token of one label.

A second ``softhsm2-util --init-token --free`` of a label makes a second token and
takes over the PIN file, while lookups by label still find the first: every login to
it then fails with a wrong PIN. A session fixture imported into a second conftest did
exactly that to the flows' CA token, failing 83 tests far from the cause.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.softhsm import SoftHsmDir


def test_a_label_is_initialised_once(tmp_path: Path) -> None:
    tokens = SoftHsmDir.create(tmp_path / "softhsm")
    first = tokens.init_token("only-once")
    pin_before = first.pin_file.read_bytes()
    with pytest.raises(ValueError, match="exists already"):
        tokens.init_token("only-once")
    assert first.pin_file.read_bytes() == pin_before  # the PIN file is untouched
    shown = subprocess.run(
        ["softhsm2-util", "--show-slots"],
        env=dict(os.environ, SOFTHSM2_CONF=str(tokens.conf)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    labels = [line.split(":", 1)[1].strip() for line in shown.splitlines() if "Label:" in line]
    assert labels.count("only-once") == 1
