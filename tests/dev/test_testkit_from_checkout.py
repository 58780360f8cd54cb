"""``testkit`` is not installed with the engine: ``zorgid dev``/``demo`` load it from a checkout."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

from issuer.cli import demo

ROOT = Path(__file__).resolve().parents[2]


def _as_if_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``testkit`` on the path and none imported yet, as after ``pip install -e .``."""
    real = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "testkit" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    for name in [n for n in sys.modules if n == "testkit" or n.startswith("testkit.")]:
        monkeypatch.delitem(sys.modules, name)


def test_the_checkout_testkit_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    _as_if_not_installed(monkeypatch)
    demo.require_testkit()
    from testkit.uzi_world import UziWorld

    assert Path(sys.modules["testkit"].__file__ or "") == ROOT / "testkit" / "__init__.py"
    assert UziWorld.__module__ == "testkit.uzi_world"


def test_without_a_checkout_it_says_where_to_run_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _as_if_not_installed(monkeypatch)
    monkeypatch.setattr(demo, "__file__", str(tmp_path / "issuer" / "cli" / "demo.py"))
    with pytest.raises(SystemExit, match=r"run them from a checkout of the repository"):
        demo.require_testkit()
    assert "testkit" not in sys.modules


def test_every_other_command_works_without_testkit() -> None:
    # Every ``zorgid`` command imports issuer.cli.demo to build its parser.
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'testkit':\n"
        "            raise ImportError('testkit is not installed')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from issuer.cli import main\n"
        "sys.exit(main(['config', 'doc']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", blocker], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Configuration reference")
