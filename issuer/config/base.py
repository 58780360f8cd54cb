"""The configuration's building blocks: roles, key metadata, the error, and value parsers.

Shared by the section declarations (:mod:`issuer.config.schema`) and the loader.
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from pathlib import Path
from typing import Any

from hsm import PinSource
from issuer.errors import Code, ZorgIdError


class Role(enum.StrEnum):
    """The roles a verified client certificate can be mapped to (ARCHITECTURE section 1)."""

    PORTAL = "portal"
    MOBILE = "mobile"
    OPERATOR = "operator"
    SECURITY_OFFICER = "security-officer"
    AUDITOR = "auditor"


def doc(text: str, *, unit: str | None = None, why: str | None = None) -> dict[str, str | None]:
    """Metadata of one configuration key: its meaning, unit and the reason for its limits.

    Used as ``field(default=..., metadata=doc(...))``; only fields with this
    metadata are keys of the file (and of ``docs/config.md``).
    """
    return {"doc": text, "unit": unit, "why": why}


class ConfigError(ZorgIdError):
    """The configuration file is invalid; ``problems`` lists every problem found."""

    problems: tuple[str, ...]

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = tuple(problems)
        listing = "; ".join(problems)
        super().__init__(Code.ZID_0901, f"{source}: {len(problems)} problem(s): {listing}")


class ListenError(OSError):
    """A configured listen address cannot be bound (in use, or not an address of this host).

    One base for every listener (gRPC, metrics, OCSP/CRL HTTP), so the CLI says it one way
    with one exit status (docs/cli.md) whichever listener it was; the message names the
    address and the key that sets it.
    """


def parse_pin_source(text: str, base: Path) -> PinSource:
    """The config file's pin source: ``file:PATH`` (relative to ``base``) or ``env:NAME``.

    Stricter than an RFC 7512 ``pin-source`` (no bare path, a plain env name),
    and a relative file is resolved against the config file's folder; the value
    is :class:`hsm.PinSource`, the one the HSM layer reads the PIN from.
    """
    kind, sep, target = text.partition(":")
    if not sep or not target:
        raise ValueError(f"got {text!r}, expected 'file:/path/to/pin' or 'env:VARIABLE'")
    if kind == "file":
        path = Path(target)
        return PinSource("file", str(path if path.is_absolute() else (base / path).resolve()))
    if kind == "env":
        if not target.replace("_", "").isalnum():
            raise ValueError(f"got env name {target!r}, expected letters, digits and '_'")
        return PinSource("env", target)
    raise ValueError(f"got source kind {kind!r}, expected 'file' or 'env'")


def parse_listen(listen: str) -> tuple[str, int]:
    """Split ``host:port`` / ``[v6]:port``; raises ValueError naming what was got."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host:
        raise ValueError(f"got {listen!r}, expected host:port such as 127.0.0.1:50051")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"got port {port_text!r} in {listen!r}, expected 0..65535")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_section(tp: object) -> bool:
    """A section of the file: a dataclass other than the pin source (a value)."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp) and tp is not PinSource


def key_fields(cls: type) -> list[dataclasses.Field[Any]]:
    """The fields of a section that are keys of the file (they carry :func:`doc` metadata)."""
    return [f for f in dataclasses.fields(cls) if "doc" in f.metadata]
