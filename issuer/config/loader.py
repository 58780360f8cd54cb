"""Reading the configuration file: TOML to checked sections, every problem reported at once."""

from __future__ import annotations

import dataclasses
import enum
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TypeVar

from hsm import PinSource
from hsm.environment import environment_problem
from issuer.config.base import ConfigError, is_section, key_fields, parse_pin_source
from issuer.config.schema import Config, DatabaseConfig
from policies.strict_toml import TomlError, read_toml

_MISSING: Final = dataclasses.MISSING

_T = TypeVar("_T")
_SCALARS: Final[Mapping[type, str]] = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
}


def _describe(value: object) -> str:
    kind = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)
    shown = repr(value) if not isinstance(value, dict | list) else kind
    return f"{kind} {shown}" if kind != shown else kind


class _Loader:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.problems: list[str] = []

    def section(self, cls: type[_T], data: object, path: str) -> _T | None:
        if not isinstance(data, dict):
            self.problems.append(f"{path or '<top>'}: got {_describe(data)}, expected a table")
            return None
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in key_fields(cls)}
        for key in data:
            if key not in fields:
                where = f"{path}.{key}" if path else key
                self.problems.append(
                    f"{where}: unknown key; expected one of {', '.join(sorted(fields))}"
                )
        values: dict[str, Any] = {}
        ok = True
        for name, fld in fields.items():
            where = f"{path}.{name}" if path else name
            if name in data:
                before = len(self.problems)
                values[name] = self.value(hints[name], data[name], where)
                ok = ok and len(self.problems) == before
            elif fld.default is _MISSING and fld.default_factory is _MISSING:
                self.problems.append(f"{where}: required key missing")
                ok = False
        if not ok:
            return None
        try:
            made = cls(**values)
        except (TypeError, ValueError) as exc:  # pragma: no cover - guarded above
            self.problems.append(f"{path or '<top>'}: {exc}")
            return None
        check = getattr(made, "problems", None)
        if check is not None:
            for problem in check():
                # "key: ..." names a key of this section; ": ..." is about the section itself.
                if not path:
                    self.problems.append(problem.removeprefix(": "))
                elif problem.startswith(":"):
                    self.problems.append(f"{path}{problem}")
                else:
                    self.problems.append(f"{path}.{problem}")
        return made

    def names(self, data: object, path: str) -> dict[str, str]:
        """A table of NAME = "value" strings (``[hsm.environment]``)."""
        if not isinstance(data, dict):
            self.problems.append(f"{path}: got {_describe(data)}, expected a table")
            return {}
        found: dict[str, str] = {}
        for key, value in data.items():
            problem = environment_problem(key, value)
            if problem is not None:
                self.problems.append(f"{path}.{key}: {problem}")
            else:
                found[key] = str(value)
        return found

    def value(self, tp: Any, data: object, path: str) -> Any:
        origin = typing.get_origin(tp)
        if origin in (typing.Union, types.UnionType):
            inner = [a for a in typing.get_args(tp) if a is not type(None)]
            return self.value(inner[0], data, path)
        if origin is tuple:
            item_tp = typing.get_args(tp)[0]
            if not isinstance(data, list):
                self.problems.append(f"{path}: got {_describe(data)}, expected an array")
                return ()
            return tuple(self.value(item_tp, item, f"{path}[{i}]") for i, item in enumerate(data))
        if origin is dict:
            return self.names(data, path)
        if is_section(tp):
            return self.section(tp, data, path)
        if tp is Path:
            if not isinstance(data, str) or not data:
                self.problems.append(f"{path}: got {_describe(data)}, expected a path string")
                return None
            p = Path(data)
            return p if p.is_absolute() else (self.base / p).resolve()
        if tp is PinSource:
            if not isinstance(data, str):
                self.problems.append(f"{path}: got {_describe(data)}, expected 'file:' or 'env:'")
                return None
            try:
                return parse_pin_source(data, self.base)
            except ValueError as exc:
                self.problems.append(f"{path}: {exc}")
                return None
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            allowed = [m.value for m in tp]
            if data not in allowed:
                self.problems.append(
                    f"{path}: got {_describe(data)}, expected one of {', '.join(allowed)}"
                )
                return None
            return tp(data)
        if tp in _SCALARS:
            # bool is an int in Python and int is accepted where a float is wanted;
            # TOML keeps them apart and so do we (except int -> float).
            good = (isinstance(data, tp) and not (tp is int and isinstance(data, bool))) or (
                tp is float and isinstance(data, int) and not isinstance(data, bool)
            )
            if not good:
                self.problems.append(f"{path}: got {_describe(data)}, expected {_SCALARS[tp]}")
                return None
            return float(data) if tp is float else data  # type: ignore[arg-type]
        raise TypeError(f"config schema: unsupported type {tp!r} at {path}")  # programming error


def parse_config(text: str | bytes, *, base: Path, source: str = "<config>") -> Config:
    """Parse and check TOML ``text`` (bytes: UTF-8); relative paths resolve against ``base``.

    Raises :class:`ConfigError` listing every problem.
    """
    try:
        data = read_toml(text)
    except TomlError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    loader = _Loader(base.resolve())
    config = loader.section(Config, data, "")
    if loader.problems or config is None:
        raise ConfigError(source, loader.problems or ["invalid"])
    if not config.database.url:
        url = f"sqlite:///{config.data_dir / 'zorgid.sqlite3'}"
        config = dataclasses.replace(config, database=DatabaseConfig(url=url))
    return config


def load_config(path: Path) -> Config:
    """Read and check the config file at ``path`` (no files it names are opened)."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    config = parse_config(text, base=path.parent, source=str(path))
    return dataclasses.replace(config, source=path.resolve())


def check_files(config: Config) -> list[str]:
    """Problems with the files the config names (exist, readable, PEM of the right kind).

    Separate from :func:`load_config` because tools (and tests) may load a
    config whose files are made later; ``zorgid config check`` and
    ``zorgid serve`` run both.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    found: list[str] = []

    def read(key: str, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except OSError as exc:
            found.append(f"{key}: cannot read {path}: {exc.strerror}")
            return None

    if config.tls is not None:
        for key, path in (("tls.cert", config.tls.cert), ("tls.client_ca", config.tls.client_ca)):
            data = read(key, path)
            if data is not None:
                try:
                    x509.load_pem_x509_certificates(data)
                except ValueError:
                    found.append(f"{key}: {path} holds no PEM certificate; expected CERTIFICATE")
        data = read("tls.key", config.tls.key)
        if data is not None and config.tls.key.stat().st_mode & 0o077:
            found.append(
                f"tls.key: {config.tls.key} is readable by group or others "
                f"(mode {config.tls.key.stat().st_mode & 0o777:o}); run chmod 600"
            )
        if data is not None:
            try:
                serialization.load_pem_private_key(data, password=None)
            except (ValueError, TypeError):
                found.append(
                    f"tls.key: {config.tls.key} is not an unencrypted PEM private key; "
                    "grpc needs the key as plain PEM bytes"
                )
    if not config.hsm.module.is_file():
        found.append(f"hsm.module: {config.hsm.module} does not exist; install the PKCS#11 module")
    pin = config.hsm.pin_source
    if pin.kind == "file" and not Path(pin.location).is_file():
        found.append(f"hsm.pin_source: PIN file {pin.location} does not exist")
    if pin.kind == "env" and pin.location not in os.environ:
        found.append(f"hsm.pin_source: environment variable {pin.location} is not set")
    return found
