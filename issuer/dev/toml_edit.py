"""One setting of the development config changed by a one-line edit.

Why a line edit and not a TOML writer: the development config is the tool's own
file but a developer may have commented or changed it; rewriting one line keeps
everything else as they left it. Why the check after: a layout the edit does not
understand (an inline table, dotted keys) must be refused, never half-changed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from issuer.files import write_file
from policies.strict_toml import TomlError, read_toml

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\-]+)\s*\]\s*(#.*)?$")


def with_setting(text: str, table: str, key: str, value: str) -> str:
    """*text* (a TOML document) with *key* of ``[table]`` (dotted: a sub-table) set to *value*.

    Edits the one line (or adds it, or the table at the end), so the file's comments
    and layout stay; raises ValueError when the result would differ from *text* in
    anything else (the file is then edited by hand).
    """
    lines = text.splitlines(keepends=True)
    line = f"{key} = {json.dumps(value)}\n"
    setting = re.compile(rf"^\s*{re.escape(key)}\s*=")
    start = next(
        (i for i, ln in enumerate(lines) if (m := _HEADER.match(ln)) and m[1] == table), None
    )
    if start is None:
        new = text + ("" if text.endswith("\n") or not text else "\n") + f"\n[{table}]\n{line}"
    else:
        end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
        at = next((i for i in range(start + 1, end) if setting.match(lines[i])), None)
        if at is None:
            lines.insert(start + 1, line)
        else:
            lines[at] = line
        new = "".join(lines)
    wanted: dict[str, Any] = read_toml(text)
    inner = wanted
    for part in table.split("."):
        inner = inner.setdefault(part, {})
    inner[key] = value
    try:
        got: dict[str, Any] | None = read_toml(new)
    except TomlError:
        got = None
    if got != wanted:
        raise ValueError(f"[{table}] {key} is not one line of a [{table}] table there")
    return new


def replace_text(path: Path, text: str) -> None:
    """Replace *path*'s content by *text* at once (0600): a reader sees the old or the new
    file, never a half-written one."""
    staged = path.with_name(f".{path.name}.new")
    staged.unlink(missing_ok=True)
    write_file(staged, text.encode(), exclusive=True)
    os.replace(staged, path)
