"""``docs/config.md`` rendered from the section declarations, so the reference cannot drift."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import types
import typing
from pathlib import Path
from typing import Any, Final

from hsm import PinSource
from issuer.config.base import is_section, key_fields
from issuer.config.schema import Config

_MISSING: Final = dataclasses.MISSING


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _type_name(inner[0])
    if origin is tuple:
        return f"array of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"table of {_type_name(typing.get_args(tp)[1])}s"
    if is_section(tp):
        return "table"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " \\| ".join(f'"{m.value}"' for m in tp)
    return {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        Path: "path",
        PinSource: "pin source",
    }.get(tp, str(tp))


def _default_text(fld: dataclasses.Field[Any]) -> str:
    if fld.default is _MISSING and fld.default_factory is _MISSING:
        return "**required**"
    if fld.default is _MISSING:
        return "{}" if fld.default_factory is dict else "(defaults of the table)"
    value = fld.default
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[]" if not value else repr(list(value))
    if isinstance(value, str | Path):
        return f'"{value}"'
    return str(value)


def _clean(doc: str | None) -> str:
    return " ".join((doc or "").split())


EXAMPLE: Final = """\
# /etc/zorgid/zorgid.toml
data_dir = "/var/lib/zorgid"

[server]
listen = "0.0.0.0:8443"
workers = 8

[tls]
cert = "tls/server.pem"
key = "tls/server.key"
client_ca = "tls/client-ca.pem"

[[roles.rule]]
role = "portal"
san_uri = "urn:zorgid:role:portal"

[[roles.rule]]
role = "mobile"
san_uri = "urn:zorgid:role:mobile"

[[roles.rule]]
role = "operator"
subject_o = "ZORG-ID Beheer"
subject_ou = "Operations"

[hsm]
token = "zorgid"
pin_source = "file:/run/secrets/zorgid-pin"

[hsm.keys]
issuing_ca = "pkcs11:token=zorgid;object=issuing-ca-2026"

[hsm.environment]
SOFTHSM2_CONF = "/etc/softhsm/softhsm2.conf"

[database]
url = "postgresql+psycopg://zorgid@db.internal/zorgid"
"""
"""A complete production-style file (shown in docs/config.md; a test parses it)."""


def _doc_markdown(docstring: str) -> list[str]:
    """A class docstring as Markdown: paragraphs joined, ``::`` blocks as TOML code."""
    lines = inspect.cleandoc(docstring).replace("``", "`").splitlines()
    out: list[str] = []
    paragraph: list[str] = []
    code: list[str] | None = None
    for line in [*lines, ""]:
        if code is not None:
            if line.startswith("    ") or not line.strip():
                code.append(line[4:])
                continue
            while code and not code[-1].strip():
                code.pop()
            out.extend(["", "```toml", *code, "```"])
            code = None
        if line.strip():
            paragraph.append(line.strip())
            continue
        if paragraph:
            text = " ".join(paragraph)
            if text.endswith("::"):
                text, code = text[:-1], []
            out.extend(["", text])
            paragraph = []
    return out[1:] if out and out[0] == "" else out


def render_markdown() -> str:
    """``docs/config.md``: every section and key with meaning, type, default, unit and why."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from issuer/config.py by `zorgid config doc`; do not edit. -->",
        "",
        "One TOML file, given to `zorgid serve --config FILE`; check it without starting",
        "with `zorgid config check FILE`. Unknown keys and wrong types are refused with",
        "the key's path. Relative paths are relative to the config file's folder.",
        "",
        "## Example",
        "",
        "```toml",
        *EXAMPLE.rstrip("\n").splitlines(),
        "```",
        "",
    ]

    def emit(cls: type, name: str) -> None:
        hints = typing.get_type_hints(cls)
        out.append(f"## `{name}`" if name else "## Top level")
        out.append("")
        out.extend(_doc_markdown(cls.__doc__ or ""))
        out.append("")
        out.append("| key | type | default | meaning |")
        out.append("|---|---|---|---|")
        nested: list[tuple[type, str]] = []
        for fld in key_fields(cls):
            tp = hints[fld.name]
            text = _clean(fld.metadata["doc"])
            if fld.metadata.get("unit"):
                text += f" Unit: {fld.metadata['unit']}."
            if fld.metadata.get("why"):
                text += f" Why: {_clean(fld.metadata['why'])}"
            out.append(f"| `{fld.name}` | {_type_name(tp)} | {_default_text(fld)} | {text} |")
            inner = tp
            origin = typing.get_origin(tp)
            if origin in (typing.Union, types.UnionType, tuple):
                inner = next(a for a in typing.get_args(tp) if a is not type(None))
            if is_section(inner):
                key = f"{name}.{fld.name}" if name else fld.name
                if typing.get_origin(tp) is tuple:
                    key = f"[{key}]"
                nested.append((inner, key))
        out.append("")
        for inner, key in nested:
            emit(inner, key)

    emit(Config, "")
    return "\n".join(out).rstrip("\n") + "\n"
