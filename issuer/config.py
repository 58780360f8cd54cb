"""The engine's configuration: one TOML file, schema-checked before anything starts.

Why a schema of frozen dataclasses and not a dict: a typo in a security
setting (``requre_client_auth``) must stop the engine, not silently fall back
to a default. So every key is declared here with its type, default, unit and
reason; unknown keys are refused with their full path (``server.listne``),
wrong types are named, and *every* problem is reported at once so an
operator fixes a file in one round (``zorgid config check FILE``).
``docs/config.md`` is rendered from these declarations (``zorgid config doc``)
and a test fails when it drifts.

Adding a section (policy, OCSP HTTP, ...): write a frozen, keyword-only
dataclass whose fields are made with ``field(..., metadata=doc(...))``, give it a docstring,
optionally a ``problems(self) -> list[str]`` method for cross-field checks,
and add one field of that type with a default instance to :class:`Config`.
The loader, the checker and the documentation pick it up from the type.
Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Path``
(relative to the config file's folder), :class:`hsm.PinSource`, a ``StrEnum``,
``tuple[T, ...]`` of those or of a section dataclass (TOML array of tables),
a section dataclass, and ``X | None``.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from hsm import PinSource
from issuer.errors import Code, ZorgIdError

__all__ = [
    "AuditConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "HsmConfig",
    "HsmKeys",
    "OcspConfig",
    "Role",
    "RoleRule",
    "RolesConfig",
    "ServerConfig",
    "TlsConfig",
    "check_files",
    "load_config",
    "parse_config",
    "parse_pin_source",
    "render_markdown",
]

_MISSING: Final = dataclasses.MISSING


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


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """The gRPC listener (``[server]``)."""

    listen: str = field(
        default="127.0.0.1:50051",
        metadata=doc(
            "Address the gRPC server binds, as host:port or [v6]:port. Port 0 picks a free port.",
        ),
    )
    dev_plaintext: bool = field(
        default=False,
        metadata=doc(
            "Serve without TLS for local development. Callers then have no certificate; they get "
            "the roles in dev_roles.",
            why="Allowed only when listen is a loopback address: a plaintext listener reachable "
            "from the network would let anyone act as any role (ARCHITECTURE section 8).",
        ),
    )
    dev_roles: tuple[Role, ...] = field(
        default=(),
        metadata=doc(
            "Roles given to every caller of the plaintext development listener.",
            why="Only with dev_plaintext; empty means only health and reflection answer.",
        ),
    )
    max_message_bytes: int = field(
        default=4 * 1024 * 1024,
        metadata=doc(
            "Largest request or response message accepted.",
            unit="bytes",
            why="1 KiB..64 MiB. The largest legitimate message is a certificate chain or a CSR "
            "(a few KiB); a bound stops memory exhaustion by oversize messages.",
        ),
    )
    workers: int = field(
        default=8,
        metadata=doc(
            "Threads serving calls concurrently (the gRPC thread pool).",
            unit="threads",
            why="1..256. HSM calls are serialised per process, so more threads add little; use "
            "more processes for more cores.",
        ),
    )
    shutdown_grace_seconds: float = field(
        default=5.0,
        metadata=doc(
            "On SIGTERM/SIGINT, how long running calls may finish before they are cancelled.",
            unit="seconds",
            why="0..300.",
        ),
    )
    processes: int = field(
        default=1,
        metadata=doc(
            "Server processes sharing the listen port (SO_REUSEPORT; the kernel spreads "
            "connections), each with its own HSM login and database pool. On PostgreSQL a "
            "process opens up to 28 connections (20 pooled, 8 kept for reads): keep "
            "processes x 28, plus the OCSP responders', under the server's max_connections.",
            unit="processes",
            why="1..64. One Python process uses about one core. 2 processes on 2 cores: "
            "+20-27% certificates/s on PostgreSQL, +25-33% on SQLite, whose writers of all "
            "processes queue on one lock file (docs/decisions/issuance.md).",
        ),
    )

    def problems(self) -> list[str]:
        found: list[str] = []
        try:
            host, _ = parse_listen(self.listen)
        except ValueError as exc:
            found.append(f"listen: {exc}")
        else:
            if self.dev_plaintext and not is_loopback(host):
                found.append(
                    f"dev_plaintext: refused because listen host {host!r} is not a loopback "
                    "address; use 127.0.0.1, ::1 or localhost, or set dev_plaintext = false"
                )
        if self.dev_roles and not self.dev_plaintext:
            found.append("dev_roles: only allowed with dev_plaintext = true; remove it")
        if not 1024 <= self.max_message_bytes <= 64 * 1024 * 1024:
            found.append(
                f"max_message_bytes: got {self.max_message_bytes}, expected 1024..67108864"
            )
        if not 1 <= self.workers <= 256:
            found.append(f"workers: got {self.workers}, expected 1..256")
        if not 0 <= self.shutdown_grace_seconds <= 300:
            found.append(
                f"shutdown_grace_seconds: got {self.shutdown_grace_seconds}, expected 0..300"
            )
        if not 1 <= self.processes <= 64:
            found.append(f"processes: got {self.processes}, expected 1..64")
        return found


@dataclass(frozen=True, kw_only=True)
class TlsConfig:
    """Transport security of the gRPC listener (``[tls]``): mutual TLS, always.

    The server key is a *software* key in a PEM file, not an HSM key: grpcio's
    ``ssl_server_credentials`` takes PEM key bytes and has no PKCS#11 hook.
    It protects the transport only; the engine's signing keys stay in the HSM
    (see docs/decisions/grpc.md).
    """

    cert: Path = field(
        metadata=doc(
            "PEM file with the server certificate (and intermediates).",
        ),
    )
    key: Path = field(
        metadata=doc(
            "PEM file with the server's private key (keep it mode 0600).",
        ),
    )
    client_ca: Path = field(
        metadata=doc(
            "PEM bundle of the CA certificates that client certificates must chain to.",
            why="Client authentication is required (RFC 8446 section 4.3.2); only certificates "
            "under these CAs are accepted, before any role rule is consulted.",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class RoleRule:
    """One rule (``[[roles.rule]]``): if every given condition matches, grant ``role``.

    Conditions compare exactly (case-sensitive) against the *verified* client
    certificate; at least one is required. A certificate gets the union of the
    roles of all rules it matches.
    """

    role: Role = field(
        metadata=doc(
            "The role granted.",
        ),
    )
    subject_cn: str | None = field(
        default=None,
        metadata=doc(
            "Subject commonName must equal this.",
        ),
    )
    subject_ou: str | None = field(
        default=None,
        metadata=doc(
            "One subject organizationalUnitName must equal this.",
        ),
    )
    subject_o: str | None = field(
        default=None,
        metadata=doc(
            "One subject organizationName must equal this.",
        ),
    )
    san_uri: str | None = field(
        default=None,
        metadata=doc(
            "One SAN uniformResourceIdentifier must equal this, e.g. urn:zorgid:role:portal.",
        ),
    )
    san_dns: str | None = field(
        default=None,
        metadata=doc(
            "One SAN dNSName must equal this.",
        ),
    )

    def conditions(self) -> dict[str, str]:
        """The conditions that are set, by key name."""
        names = ("subject_cn", "subject_ou", "subject_o", "san_uri", "san_dns")
        return {n: v for n in names if (v := getattr(self, n)) is not None}

    def problems(self) -> list[str]:
        if not self.conditions():
            return [
                ": a rule needs at least one condition (subject_cn, subject_ou, subject_o, "
                "san_uri, san_dns); a rule without one would match every certificate"
            ]
        return [f"{k}: empty string never matches" for k, v in self.conditions().items() if not v]


@dataclass(frozen=True, kw_only=True)
class RolesConfig:
    """Mapping from the verified client certificate to roles (``[roles]``).

    Nothing passes by default: with no rules, no caller has a role and only
    health checking and reflection answer. Example::

        [[roles.rule]]
        role = "portal"
        san_uri = "urn:zorgid:role:portal"

        [[roles.rule]]
        role = "operator"
        subject_ou = "Beheer"
        subject_cn = "operator-1.zorgid.example"
    """

    rule: tuple[RoleRule, ...] = field(
        default=(),
        metadata=doc(
            "The rules, as an array of tables [[roles.rule]].",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class HsmKeys:
    """Which token objects hold the engine's keys (``[hsm.keys]``).

    Each value is a CKA_LABEL on the configured token, or a PKCS#11 URI
    (RFC 7512) such as ``pkcs11:token=zorgid;object=issuing-ca-2026``.
    """

    issuing_ca: str = field(
        default="issuing-ca",
        metadata=doc(
            "Key of the issuing CA.",
        ),
    )
    ocsp_responder: str = field(
        default="ocsp-responder",
        metadata=doc(
            "Key of the delegated OCSP responder (RFC 6960 section 4.2.2.2).",
        ),
    )
    audit: str = field(
        default="audit-checkpoint",
        metadata=doc(
            "Key that signs audit-log checkpoints.",
        ),
    )

    def problems(self) -> list[str]:
        found = []
        for name in ("issuing_ca", "ocsp_responder", "audit"):
            value: str = getattr(self, name)
            if not value:
                found.append(f"{name}: empty; expected a label or a pkcs11: URI")
            elif value.startswith("pkcs11:") and "object=" not in value and "id=" not in value:
                found.append(
                    f"{name}: URI {value!r} names no object; add object=<label> (RFC 7512)"
                )
        return found


@dataclass(frozen=True, kw_only=True)
class HsmConfig:
    """The PKCS#11 token with the engine's keys (``[hsm]``)."""

    module: Path = field(
        default=Path("/usr/lib/softhsm/libsofthsm2.so"),
        metadata=doc(
            "The PKCS#11 module (shared library).",
        ),
    )
    token: str = field(
        metadata=doc(
            "Label of the token. Tokens are selected by label because slot numbers change.",
        ),
    )
    pin_source: PinSource = field(
        metadata=doc(
            "Where the user PIN is read: file:/path (relative to this file's folder) or env:NAME.",
            why="Never the PIN itself: config files are copied, backed up and shown in reviews.",
        ),
    )
    keys: HsmKeys = field(
        default_factory=HsmKeys,
        metadata=doc(
            "Key labels or URIs.",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    """The database (``[database]``)."""

    url: str = field(
        default="",
        metadata=doc(
            "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db. Empty: an SQLite file "
            "<data_dir>/zorgid.sqlite3.",
            why="SQLite needs nothing installed; PostgreSQL is for more than one engine node.",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class OcspConfig:
    """The OCSP responder and CRL distribution over HTTP (``[ocsp]``, ``zorgid ocsp serve``).

    Timings (response validity, refresh point, CRL nextUpdate, nonce) are policy
    (``[ocsp]`` of the issuance policy), not configuration: they are part of the CPS.
    """

    listen: str = field(
        default="127.0.0.1:8080",
        metadata=doc(
            "Address the HTTP responder binds, host:port. The dev policy's AIA/CRL URLs name "
            "http://127.0.0.1:8080.",
        ),
    )
    path_prefix: str = field(
        default="/ocsp",
        metadata=doc(
            "Path of the OCSP URL in the certificates' AIA; GET <prefix>/<base64> and POST "
            "<prefix> (RFC 5019 section 5). GET /<base64> at the root is served too.",
        ),
    )
    crl_path: str = field(
        default="/crl/issuing-ca.crl",
        metadata=doc("Path of the CRL distribution point URL the certificates name."),
    )
    ca_certificate_path: str = field(
        default="/ca/issuing-ca.cer",
        metadata=doc("Path of the AIA caIssuers URL (the issuing CA certificate, DER)."),
    )
    processes: int = field(
        default=1,
        metadata=doc(
            "Responder processes sharing the port (SO_REUSEPORT).",
            unit="processes",
            why="1..64. One Python process uses one core; HSM calls are serialised per process.",
        ),
    )
    cache_seconds: float = field(
        default=5.0,
        metadata=doc(
            "How long a responder keeps a response in memory before reading the store again.",
            unit="seconds",
            why="0..300. Bounds how late a revocation signed on another node is served here.",
        ),
    )
    max_on_demand: int = field(
        default=4,
        metadata=doc(
            "On-demand signatures (nonce echo, several CertIDs, a missing or stale stored "
            "response) in flight per process; beyond it: the pre-signed answer or tryLater.",
            unit="signatures",
            why="1..64. Stops request floods from queueing on the HSM.",
        ),
    )
    max_certids: int = field(
        default=10,
        metadata=doc(
            "Most CertIDs one OCSP request may carry; more is answered malformedRequest "
            "before any lookup or signature.",
            unit="CertIDs",
            why="1..100. RFC 5019 section 2.1.1 clients send one; the cap bounds what one "
            "request costs (a request of 110 CertIDs was signed whole, issue 16).",
        ),
    )
    sign_rate: float = field(
        default=20.0,
        metadata=doc(
            "On-demand signatures a second per process (token bucket, refilled at this "
            "rate). Over it: a single-certificate request gets the pre-signed response "
            "(a nonce request without its nonce, RFC 8954 section 2.1), others tryLater. "
            "0 turns on-demand signing off. Never-issued serials are never signed "
            "(unauthorized), whatever the rate.",
            unit="signatures/second",
            why="0..10000. The HSM is shared with issuance (one lock a process): the rate "
            "bounds the HSM time anyone outside can take (docs/decisions/ocsp.md). Per "
            "process: the node's bound is processes x sign_rate.",
        ),
    )
    sign_burst: int = field(
        default=40,
        metadata=doc(
            "Size of the sign_rate bucket: on-demand signatures allowed at once after a "
            "quiet spell.",
            unit="signatures",
            why="1..100000. Lets a short burst of nonce requests be answered with their "
            "nonce; any window of t seconds has at most sign_burst + sign_rate x t.",
        ),
    )
    refresh_interval_seconds: float = field(
        default=60.0,
        metadata=doc(
            "How often the background worker looks for responses and CRLs due for re-signing.",
            unit="seconds",
            why="1..3600; 0 turns the worker off (run zorgid ocsp refresh from cron instead).",
        ),
    )

    def problems(self) -> list[str]:
        found: list[str] = []
        try:
            parse_listen(self.listen)
        except ValueError as exc:
            found.append(f"listen: {exc}")
        for name in ("path_prefix", "crl_path", "ca_certificate_path"):
            value: str = getattr(self, name)
            if not value.startswith("/"):
                found.append(f"{name}: got {value!r}, expected a path starting with /")
        if not 1 <= self.processes <= 64:
            found.append(f"processes: got {self.processes}, expected 1..64")
        if not 0 <= self.cache_seconds <= 300:
            found.append(f"cache_seconds: got {self.cache_seconds}, expected 0..300")
        if not 1 <= self.max_on_demand <= 64:
            found.append(f"max_on_demand: got {self.max_on_demand}, expected 1..64")
        if not 1 <= self.max_certids <= 100:
            found.append(f"max_certids: got {self.max_certids}, expected 1..100")
        if not 0 <= self.sign_rate <= 10_000:
            found.append(f"sign_rate: got {self.sign_rate}, expected 0..10000")
        if not 1 <= self.sign_burst <= 100_000:
            found.append(f"sign_burst: got {self.sign_burst}, expected 1..100000")
        if not (self.refresh_interval_seconds == 0 or 1 <= self.refresh_interval_seconds <= 3600):
            found.append(
                f"refresh_interval_seconds: got {self.refresh_interval_seconds}, expected 0 or "
                "1..3600"
            )
        return found


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    """The audit log's signed checkpoints in a running server (``[audit]``).

    Besides these, a checkpoint is signed every 1000 events and on demand
    (``zorgid audit checkpoint``); see docs/audit.md.
    """

    checkpoint_interval_seconds: float = field(
        default=60.0,
        metadata=doc(
            "How often a running server signs a checkpoint of the audit chain's head with the "
            "HSM audit key, when events were appended since the last checkpoint. One more is "
            "signed when the server shuts down.",
            unit="seconds",
            why="1..3600. Events after the last checkpoint are vouched for by the hash chain "
            "only: whoever can write the database can rewrite them and recompute the hashes "
            "unseen. The interval bounds that window (ARCHITECTURE section 8).",
        ),
    )

    def problems(self) -> list[str]:
        if not 1 <= self.checkpoint_interval_seconds <= 3600:
            return [
                f"checkpoint_interval_seconds: got {self.checkpoint_interval_seconds}, "
                "expected 1..3600"
            ]
        return []


@dataclass(frozen=True, kw_only=True)
class PolicyConfig:
    """The active issuance policy (``[policy]``)."""

    file: Path | None = field(
        default=None,
        metadata=doc(
            "The active issuance policy: a TOML document of the policies/ schema (unknown keys "
            "refused). Not set: the packaged development policy policies/default.toml. Recorded "
            "in policy_versions at start; every certificate records that version.",
            why="One active document until security officers version policies (ARCHITECTURE "
            "section 9); the profile it holds is what the CPS promises.",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration file."""

    data_dir: Path = field(
        metadata=doc(
            "Folder for the engine's files (ca/*.pem written by the key ceremony, the SQLite "
            "database). Relative paths are relative to the config file's folder.",
        ),
    )
    server: ServerConfig = field(
        default_factory=ServerConfig,
        metadata=doc(
            "See [server].",
        ),
    )
    tls: TlsConfig | None = field(
        default=None,
        metadata=doc(
            "See [tls]. Required unless server.dev_plaintext = true.",
        ),
    )
    roles: RolesConfig = field(
        default_factory=RolesConfig,
        metadata=doc(
            "See [roles].",
        ),
    )
    hsm: HsmConfig = field(
        metadata=doc(
            "See [hsm].",
        ),
    )
    database: DatabaseConfig = field(
        default_factory=DatabaseConfig,
        metadata=doc(
            "See [database].",
        ),
    )
    ocsp: OcspConfig = field(
        default_factory=OcspConfig,
        metadata=doc(
            "See [ocsp].",
        ),
    )
    policy: PolicyConfig = field(
        default_factory=PolicyConfig,
        metadata=doc(
            "See [policy].",
        ),
    )
    audit: AuditConfig = field(
        default_factory=AuditConfig,
        metadata=doc(
            "See [audit].",
        ),
    )

    source: Path | None = dataclasses.field(default=None, compare=False)
    """The file this was read from (not a key of the file)."""

    def problems(self) -> list[str]:
        if self.tls is None and not self.server.dev_plaintext:
            return ["tls: section missing; mutual TLS is required unless server.dev_plaintext"]
        if self.tls is not None and self.server.dev_plaintext:
            return ["tls: set together with server.dev_plaintext; choose one"]
        return []

    @property
    def ca_dir(self) -> Path:
        """Where the key ceremony writes root.pem, issuing-ca.pem, ocsp-responder.pem."""
        return self.data_dir / "ca"


# --------------------------------------------------------------------------- loader

_T = TypeVar("_T")
_SCALARS: Final[Mapping[type, str]] = {
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
}


def _is_section(tp: object) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp) and tp is not PinSource


def _key_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if "doc" in f.metadata]


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
        fields = {f.name: f for f in _key_fields(cls)}
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
        if _is_section(tp):
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


def parse_config(text: str, *, base: Path, source: str = "<config>") -> Config:
    """Parse and check TOML ``text``; relative paths resolve against ``base``.

    Raises :class:`ConfigError` listing every problem.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
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
        text = path.read_text()
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


# --------------------------------------------------------------------------- documentation


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _type_name(inner[0])
    if origin is tuple:
        return f"array of {_type_name(typing.get_args(tp)[0])}"
    if _is_section(tp):
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
        return "(defaults of the table)"
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
        for fld in _key_fields(cls):
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
            if _is_section(inner):
                key = f"{name}.{fld.name}" if name else fld.name
                if typing.get_origin(tp) is tuple:
                    key = f"[{key}]"
                nested.append((inner, key))
        out.append("")
        for inner, key in nested:
            emit(inner, key)

    emit(Config, "")
    return "\n".join(out).rstrip("\n") + "\n"
