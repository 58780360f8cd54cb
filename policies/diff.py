"""What a proposed policy changes: key-by-key changes and a unified text diff.

Both are computed from the *parsed* documents (their canonical JSON), not from
the TOML text: a comment or re-ordering is no change, any value change is
(the same identity :attr:`policies.Policy.digest` uses). Officers approve
what the engine will enforce, so that is what they must be shown.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

from policies.reader import dump
from policies.schema import Policy

__all__ = ["Change", "changes", "unified_diff"]

_MISSING = object()


@dataclass(frozen=True, kw_only=True)
class Change:
    """One leaf that differs; ``old``/``new`` are JSON texts, ``None`` when absent."""

    path: str
    old: str | None
    new: str | None

    @property
    def kind(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"


def _walk(old: object, new: object, path: str, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            _walk(
                old.get(key, _MISSING),
                new.get(key, _MISSING),
                f"{path}.{key}" if path else key,
                out,
            )
        return
    if old == new:
        return
    out.append(
        Change(
            path=path,
            old=None if old is _MISSING else json.dumps(old, sort_keys=True, ensure_ascii=False),
            new=None if new is _MISSING else json.dumps(new, sort_keys=True, ensure_ascii=False),
        )
    )


def changes(old: Policy | None, new: Policy) -> tuple[Change, ...]:
    """Every leaf (arrays compared whole) that differs between ``old`` and ``new``."""
    out: list[Change] = []
    before: object = json.loads(old.canonical) if old is not None else {}
    _walk(before, json.loads(new.canonical), "", out)
    return tuple(out)


def unified_diff(
    old: Policy | None, new: Policy, *, old_label: str = "active", new_label: str = "proposed"
) -> str:
    """A unified diff of the pretty canonical JSON of both documents (RFC-free, `diff -u`)."""
    before = dump(old).splitlines(keepends=True) if old is not None else []
    after = dump(new).splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, fromfile=old_label, tofile=new_label, n=2)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
