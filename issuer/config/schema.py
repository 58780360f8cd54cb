"""The sections of the configuration file, each key declared with type, default and reason.

The loader and the documentation read these declarations; see :mod:`issuer.config`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from hsm import PinSource
from issuer.config.base import Role, doc
from issuer.config.log import LogConfig
from issuer.config.metrics import MetricsConfig
from issuer.config.ocsp import OcspConfig
from issuer.config.server import ServerConfig
from issuer.config.watch import UziWatchConfig


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
    environment: dict[str, str] = field(
        default_factory=dict,
        metadata=doc(
            "Environment variables the PKCS#11 module reads when it is loaded, set by the "
            "engine before it loads the module (e.g. SOFTHSM2_CONF for SoftHSM, "
            "P11_KIT_SERVER_ADDRESS for p11-kit-client). Values are used as written. A value "
            "here wins over the same variable in the process environment.",
            why="The module's configuration belongs with the module path: a hidden exported "
            "variable makes one command see the token and the next not.",
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
    uzi_watch: UziWatchConfig = field(
        default_factory=UziWatchConfig,
        metadata=doc(
            "See [uzi_watch].",
        ),
    )
    metrics: MetricsConfig = field(
        default_factory=MetricsConfig,
        metadata=doc(
            "See [metrics].",
        ),
    )
    log: LogConfig = field(
        default_factory=LogConfig,
        metadata=doc(
            "See [log].",
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
