"""The sections of the configuration file, each key declared with type, default and reason.

The loader and the documentation read these declarations; see :mod:`issuer.config`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from hsm import PinSource
from issuer.config.base import Role, doc, parse_listen
from issuer.config.log import LogConfig
from issuer.config.metrics import MetricsConfig
from issuer.config.server import ServerConfig
from issuer.config.watch import UziWatchConfig
from policies.urls import check_public_url


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
class OcspConfig:
    """The OCSP responder and CRL distribution over HTTP (``[ocsp]``, ``zorgid ocsp serve``).

    Timings (response validity, refresh point, CRL nextUpdate, nonce) are policy
    (``[ocsp]`` of the issuance policy), not configuration: they are part of the CPS.
    """

    listen: str = field(
        default="127.0.0.1:8080",
        metadata=doc(
            "Address the HTTP responder binds, host:port. The dev policy's URLs name "
            "http://127.0.0.1:8080; see public_url.",
        ),
    )
    public_url: str = field(
        default="",
        metadata=doc(
            "Base URL relying parties reach this HTTP front at, http://host[:port]. Every URL "
            "in a certificate (AIA OCSP and caIssuers, CRL DP, CPS) is this base plus the path "
            "the policy's URL names, and the front serves exactly those paths. Empty: the "
            "policy's URLs as written. zorgid dev sets it from the actual --ocsp-listen.",
            why="The policy fixes the paths (they are part of the CPS); where the front is "
            "reached is deployment. One base: a certificate never names an address nobody "
            "serves.",
        ),
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
    responder_renew_before_days: int = field(
        default=10,
        metadata=doc(
            "The background worker renews the OCSP responder certificate (same key, signed "
            "by the issuing CA key) when fewer days than this are left of it; 0: never "
            "(zorgid ca renew-ocsp --if-due from cron instead).",
            unit="days",
            why="0..365. 10 is a third of the dev responder's 30 days: ten days of passes "
            "to succeed before OCSP clients refuse responses (docs/ca-lifecycle.md).",
        ),
    )

    def problems(self) -> list[str]:
        found: list[str] = []
        try:
            parse_listen(self.listen)
        except ValueError as exc:
            found.append(f"listen: {exc}")
        if self.public_url and (wrong := check_public_url(self.public_url)) is not None:
            found.append(f"public_url: {wrong}")
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
        if not 0 <= self.responder_renew_before_days <= 365:
            found.append(
                f"responder_renew_before_days: got {self.responder_renew_before_days}, "
                "expected 0..365"
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
