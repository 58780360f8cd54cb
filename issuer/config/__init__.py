"""The engine's configuration: one TOML file, schema-checked before anything starts.

Why a schema of frozen dataclasses and not a dict: a typo in a security
setting (``requre_client_auth``) must stop the engine, not silently fall back
to a default. So every key is declared here with its type, default, unit and
reason; unknown keys are refused with their full path (``server.listne``),
wrong types are named, and *every* problem is reported at once so an
operator fixes a file in one round (``zorgid config check FILE``).
``docs/config.md`` is rendered from these declarations (``zorgid config doc``)
and a test fails when it drifts.

Adding a section (policy, OCSP HTTP, ...): write, in :mod:`issuer.config.schema`, a
frozen, keyword-only dataclass whose fields are made with
``field(..., metadata=doc(...))``, give it a docstring,
optionally a ``problems(self) -> list[str]`` method for cross-field checks,
and add one field of that type with a default instance to :class:`Config`.
The loader, the checker and the documentation pick it up from the type.
Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Path``
(relative to the config file's folder), :class:`hsm.PinSource`, a ``StrEnum``,
``tuple[T, ...]`` of those or of a section dataclass (TOML array of tables),
a section dataclass, and ``X | None``.

Layout: :mod:`~issuer.config.base` (roles, key metadata, the error, value parsers),
:mod:`~issuer.config.schema` (the sections), :mod:`~issuer.config.loader` (TOML to
sections, file checks) and :mod:`~issuer.config.doc` (``docs/config.md``).
"""

from __future__ import annotations

from issuer.config.base import (
    ConfigError,
    ListenError,
    Role,
    doc,
    is_loopback,
    parse_listen,
    parse_pin_source,
)
from issuer.config.doc import EXAMPLE, render_markdown
from issuer.config.loader import check_files, load_config, parse_config
from issuer.config.log import LogConfig, LogFormat, LogLevel
from issuer.config.metrics import MetricsConfig
from issuer.config.ocsp import OcspConfig
from issuer.config.schema import (
    AuditConfig,
    Config,
    DatabaseConfig,
    HsmConfig,
    HsmKeys,
    PolicyConfig,
    RoleRule,
    RolesConfig,
    TlsConfig,
)
from issuer.config.server import ServerConfig
from issuer.config.watch import UziWatchConfig

__all__ = [
    "EXAMPLE",
    "AuditConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "HsmConfig",
    "HsmKeys",
    "ListenError",
    "LogConfig",
    "LogFormat",
    "LogLevel",
    "MetricsConfig",
    "OcspConfig",
    "PolicyConfig",
    "Role",
    "RoleRule",
    "RolesConfig",
    "ServerConfig",
    "TlsConfig",
    "UziWatchConfig",
    "check_files",
    "doc",
    "is_loopback",
    "load_config",
    "parse_config",
    "parse_listen",
    "parse_pin_source",
    "render_markdown",
]
