"""Every error code the source can raise is in the one catalogue (issue 5, "error overview").

``ZorgIdError`` takes a ``Code`` (mypy refuses a string); this also finds one
before it runs: every ``Code.ZID_nnnn`` or ``"ZID-nnnn"`` in the engine's
packages (raised directly, or kept as a named constant such as
``issuer.uzi.errors.SESSION_UNKNOWN``)
must be a catalogue entry that is not retired, and every catalogue entry has
both languages. ``tests/server/test_errors.py`` checks docs/errors.md is current.
"""

from __future__ import annotations

import re
from pathlib import Path

from issuer.errors import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("issuer", "hsm", "policies", "ocsp", "testkit")
LITERAL = re.compile(r"""["'](ZID-\d{4})["']|\bCode\.ZID_(\d{4})\b""")
"""A code as written in the source: the string ``"ZID-nnnn"`` or the member ``Code.ZID_nnnn``."""
TABLES = ("issuer/errors/", "issuer/uzi/errors.py")
"""Where codes are defined (catalogue rows, named constants) rather than raised."""


def _used_codes() -> dict[str, list[str]]:
    used: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "api" in path.relative_to(ROOT).parts[:2]:
                continue
            text = path.read_text(encoding="utf-8")
            for match in LITERAL.finditer(text):
                code = match.group(1) or f"ZID-{match.group(2)}"
                used.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return used


def test_every_code_in_the_source_is_in_the_catalogue() -> None:
    used = _used_codes()
    assert "ZID-1602" in used and "ZID-1122" in used  # the scan sees flows and UZI constants
    missing = {code: where for code, where in used.items() if code not in CATALOGUE}
    assert not missing, f"codes raised but not in the issuer/errors/ CATALOGUE: {missing}"


def test_raised_codes_are_not_retired() -> None:
    raised = {
        code: where
        for code, where in _used_codes().items()
        if any(not w.startswith(TABLES) for w in where)
    }
    retired = sorted(code for code in raised if CATALOGUE[code].retired)
    assert not retired, f"retired codes still raised: {retired}"


def test_flow_codes_have_both_languages() -> None:
    flow = [spec for code, spec in CATALOGUE.items() if "ZID-1600" <= code < "ZID-2000"]
    assert len(flow) >= 25
    for spec in flow:
        assert spec.cause_nl != spec.cause_en and spec.solution_nl != spec.solution_en
