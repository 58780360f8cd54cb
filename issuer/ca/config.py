"""The ceremony file: one reviewed TOML document that describes the CA hierarchy.

The file is the thing the ceremony witnesses sign off on, so it is checked
strictly before anything touches the token: unknown keys are refused with
their key path named (a typo such as ``validity_day`` must not silently fall
back to a default), wrong types are named, and every problem is reported at
once so one review round fixes them all.

Layout (see ``docs/ceremony.example.toml`` for a commented example)::

    data_dir = "var"                 # relative to the folder of this file
    [hsm]            module, token, pin_source, environment (a table)
    [root]           mode = "self-signed" | "external", and for self-signed:
                     key_label, key_spec, country, organization, common_name, validity_days,
                     crl_next_update_days (the root's CRL, default 30)
    [issuing_ca]     key_label, key_spec, country, organization, common_name, validity_days,
                     policy_oids, ca_issuers_url, ocsp_url (optional), crl_urls
    [ocsp_responder] key_label, key_spec, country, organization, common_name, validity_days
    [audit]          key_label
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from hsm.environment import environment_problem
from issuer.ca.errors import CeremonyConfigError
from issuer.profile.attributes import has_control_characters
from policies.strict_toml import TomlError, read_toml

#: Key types the ``key_spec`` fields accept; the names ``hsm.KeySpec.parse`` reads.
KEY_SPECS = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096")

#: RFC 6960 §4.2.2.2.1: a responder certificate with id-pkix-ocsp-nocheck cannot be
#: revoked in practice, so it SHOULD be short-lived. 90 days is our upper bound.
MAX_OCSP_VALIDITY_DAYS = 90

#: X.520 upper bounds (RFC 5280 Appendix A.1, ub-organization-name / ub-common-name).
UB_ORGANIZATION_NAME = 64
UB_COMMON_NAME = 64

#: The root's CRL (ARL): nextUpdate this many days after thisUpdate unless the file says.
DEFAULT_ARL_NEXT_UPDATE_DAYS = 30
#: At most a year: an offline root re-signs its ARL at least yearly (CA/B BR §4.9.7 asks
#: 12 months of a root's CRL); a longer gap hides a revoked issuing CA too long.
MAX_ARL_NEXT_UPDATE_DAYS = 366

_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


class RootMode(StrEnum):
    """Where the root of the hierarchy lives."""

    SELF_SIGNED = "self-signed"
    """The root key is made on this token and signs its own certificate."""
    EXTERNAL = "external"
    """An external root signs the issuing CA: the ceremony writes a CSR and stops."""


@dataclass(frozen=True, kw_only=True)
class HsmSettings:
    """How to reach the token. ``pin_source`` is ``file:/path`` or ``env:NAME``, never a PIN."""

    module: str
    token: str
    pin_source: str
    environment: Mapping[str, str] = field(default_factory=dict)
    """What the module reads when it is loaded (``[hsm.environment]``, as in the engine's file)."""


@dataclass(frozen=True, kw_only=True)
class SubjectName:
    """``C=<country>, O=<organization>, CN=<common_name>`` (RFC 5280 §4.1.2.6)."""

    country: str
    organization: str
    common_name: str


@dataclass(frozen=True, kw_only=True)
class RootConfig:
    """The root: made here (self-signed) or external. The other fields are None when external."""

    mode: RootMode
    key_label: str | None = None
    key_spec: str | None = None
    subject: SubjectName | None = None
    validity_days: int | None = None
    crl_next_update_days: int | None = None
    """The root's CRL (ARL): days from thisUpdate to nextUpdate; self-signed only."""


@dataclass(frozen=True, kw_only=True)
class IssuingCaConfig:
    """The CA that signs mobile-ID certificates (pathLen 0).

    The URLs are the *issuer's* (the root's) services as seen from a relying
    party that checks this CA certificate: AIA caIssuers fetches the root
    certificate, AIA OCSP and the CRL DP answer for this CA certificate's
    status (RFC 5280 §4.2.2.1, §4.2.1.13).
    """

    key_label: str
    key_spec: str
    subject: SubjectName
    validity_days: int
    policy_oids: tuple[str, ...]
    ca_issuers_url: str
    ocsp_url: str | None
    """None: no AIA OCSP entry (nothing answers OCSP for the root's children; the ARL does)."""
    crl_urls: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class OcspResponderConfig:
    """The delegated OCSP responder (RFC 6960 §4.2.2.2), short-lived by design."""

    key_label: str
    key_spec: str
    subject: SubjectName
    validity_days: int


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    """The key that signs audit-log checkpoints; always EC P-256."""

    key_label: str


@dataclass(frozen=True, kw_only=True)
class CeremonyConfig:
    """The whole checked ceremony file."""

    data_dir: Path
    hsm: HsmSettings
    root: RootConfig
    issuing_ca: IssuingCaConfig
    ocsp_responder: OcspResponderConfig
    audit: AuditConfig

    @property
    def ca_dir(self) -> Path:
        """Where the ceremony writes its certificates and record: ``<data_dir>/ca``."""
        return self.data_dir / "ca"

    def key_labels(self) -> tuple[str, ...]:
        """Every token label this configuration makes, in ceremony order."""
        labels = [self.issuing_ca.key_label, self.ocsp_responder.key_label, self.audit.key_label]
        if self.root.key_label is not None:
            labels.insert(0, self.root.key_label)
        return tuple(labels)


T = TypeVar("T")


def _environment(r: _Reader, hsm: Mapping[str, Any]) -> dict[str, str]:
    """``[hsm.environment]``: NAME = "value" strings the PKCS#11 module reads when loaded."""
    table = hsm.get("environment", {})
    if not isinstance(table, dict):
        r.problems.append(f"hsm.environment: expected a table, got {type(table).__name__}")
        return {}
    found: dict[str, str] = {}
    for name, value in table.items():
        problem = environment_problem(name, value)
        if problem is not None:
            r.problems.append(f"hsm.environment.{name}: {problem}")
        else:
            found[name] = value
    return found


class _Reader:
    """Walks the parsed TOML, collecting every problem with its key path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def table(
        self, doc: Mapping[str, Any], path: str, allowed: frozenset[str]
    ) -> Mapping[str, Any]:
        value = doc.get(path.rsplit(".", 1)[-1]) if path else doc
        if value is None:
            self.problems.append(f"[{path}]: missing section (expected a table)")
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected a table, got {type(value).__name__}")
            return {}
        for key in sorted(set(value) - allowed):
            where = f"{path}.{key}" if path else key
            self.problems.append(
                f"{where}: unknown key (expected one of: {', '.join(sorted(allowed))})"
            )
        return value

    def get(
        self,
        table: Mapping[str, Any],
        path: str,
        key: str,
        kind: type[T],
        check: Callable[[T], str | None] | None = None,
        default: T | None = None,
    ) -> T | None:
        where = f"{path}.{key}" if path else key
        if key not in table:
            if default is None:
                self.problems.append(f"{where}: missing (expected a {kind.__name__})")
            return default
        value = table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problems.append(
                f"{where}: expected a {kind.__name__}, got {type(value).__name__} {value!r}"
            )
            return None
        if check is not None:
            problem = check(value)
            if problem is not None:
                self.problems.append(f"{where}: {problem}")
                return None
        return value

    def strings(
        self,
        table: Mapping[str, Any],
        path: str,
        key: str,
        check: Callable[[str], str | None],
    ) -> tuple[str, ...] | None:
        items = self.get(table, path, key, list)
        if items is None:
            return None
        if not items:
            self.problems.append(f"{path}.{key}: empty list (expected at least one entry)")
            return None
        out: list[str] = []
        for i, item in enumerate(items):
            where = f"{path}.{key}[{i}]"
            if not isinstance(item, str):
                self.problems.append(f"{where}: expected a str, got {type(item).__name__}")
                continue
            problem = check(item)
            if problem is not None:
                self.problems.append(f"{where}: {problem}")
                continue
            out.append(item)
        return tuple(out) if len(out) == len(items) else None


def _check_label(value: str) -> str | None:
    if _LABEL_RE.match(value):
        return None
    return (
        f"got {value!r}, expected a token label of 1-64 characters from A-Z a-z 0-9 . _ - "
        "starting with a letter or digit"
    )


def _check_key_spec(value: str) -> str | None:
    if value in KEY_SPECS:
        return None
    return f"got {value!r}, expected one of {', '.join(KEY_SPECS)}"


def _check_country(value: str) -> str | None:
    # RFC 5280 Appendix A.1: countryName is a 2-letter ISO 3166 code in PrintableString.
    if len(value) == 2 and value.isascii() and value.isupper() and value.isalpha():
        return None
    return f"got {value!r}, expected a two-letter upper-case ISO 3166 code such as 'NL'"


def _check_name(limit: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if not value.strip() or value != value.strip():
            return f"got {value!r}, expected a non-empty name without leading/trailing spaces"
        if len(value) > limit:
            return f"got {len(value)} characters, expected at most {limit} (RFC 5280 App. A.1)"
        if has_control_characters(value):
            return f"got {value!r}, which holds control characters; expected printable text"
        return None

    return check


def _check_days(low: int, high: int) -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        if low <= value <= high:
            return None
        return f"got {value}, expected a whole number of days from {low} to {high}"

    return check


def _check_oid(value: str) -> str | None:
    if _OID_RE.match(value) and value != "2.5.29.32.0":
        return None
    return (
        f"got {value!r}, expected a dotted policy OID such as '2.16.528.1.1007.99.211' "
        "(anyPolicy is not allowed for the issuing CA)"
    )


def check_http_url(value: str) -> str | None:
    """AIA and CRL DP locations are plain ``http://`` URLs (RFC 5280 §4.2.1.13, §4.2.2.1).

    ``https`` would make a relying party validate a TLS chain in order to
    validate a chain (a loop RFC 5280 warns of); OCSP over HTTP is RFC 5019.
    """
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"got {value!r}, which is not a URL ({exc}); expected e.g. 'http://ocsp.example/'"
    if parts.scheme != "http":
        return f"got scheme {parts.scheme!r} in {value!r}, expected 'http' (RFC 5280 §4.2.2.1)"
    host = parts.hostname or ""
    if not host:
        return f"got {value!r} without a host name, expected e.g. 'http://ocsp.example/'"
    if not all(0x21 <= ord(c) <= 0x7E for c in value):
        return (
            f"got {value!r}, expected visible ASCII without spaces (a URI is an IA5String, "
            "RFC 5280 §4.2.1.6; percent-encode anything else, RFC 3986 §2.1)"
        )
    if port == 0:
        return f"got port 0 in {value!r}, expected a real port or none"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if "." not in host and host != "localhost":
            return f"got host {host!r} in {value!r}, expected a fully qualified host name"
    return None


def _subject(reader: _Reader, table: Mapping[str, Any], path: str) -> SubjectName | None:
    country = reader.get(table, path, "country", str, _check_country, default="NL")
    org = reader.get(table, path, "organization", str, _check_name(UB_ORGANIZATION_NAME))
    cn = reader.get(table, path, "common_name", str, _check_name(UB_COMMON_NAME))
    if country is None or org is None or cn is None:
        return None
    return SubjectName(country=country, organization=org, common_name=cn)


_NAME_KEYS = frozenset({"country", "organization", "common_name"})
_KEY_KEYS = frozenset({"key_label", "key_spec"})


def parse_ceremony(doc: Mapping[str, Any], *, base_dir: Path, source: str) -> CeremonyConfig:
    """Check a parsed ceremony document; raise :class:`CeremonyConfigError` listing every problem.

    Relative paths (``data_dir``, a ``file:`` PIN source) are taken relative to
    ``base_dir`` (the folder of the ceremony file), so the file means the same
    thing whatever the current directory is.
    """
    r = _Reader()
    top = r.table(
        doc, "", frozenset({"data_dir", "hsm", "root", "issuing_ca", "ocsp_responder", "audit"})
    )
    data_dir_s = r.get(top, "", "data_dir", str)
    data_dir = (base_dir / data_dir_s).resolve() if data_dir_s else None

    h = r.table(top, "hsm", frozenset({"module", "token", "pin_source", "environment"}))
    module = r.get(h, "hsm", "module", str)
    token = r.get(h, "hsm", "token", str, lambda v: None if v else "expected a token label")
    pin_source = r.get(h, "hsm", "pin_source", str, _check_pin_source)
    environment = _environment(r, h)
    if pin_source is not None and pin_source.startswith("file:"):
        pin_path = Path(pin_source.removeprefix("file:"))
        pin_source = f"file:{(base_dir / pin_path).resolve()}"

    rt = r.table(
        top,
        "root",
        frozenset({"mode"})
        | _KEY_KEYS
        | _NAME_KEYS
        | frozenset({"validity_days", "crl_next_update_days"}),
    )
    mode_s = r.get(
        rt,
        "root",
        "mode",
        str,
        lambda v: (
            None
            if v in {m.value for m in RootMode}
            else f"got {v!r}, expected 'self-signed' or 'external'"
        ),
    )
    root: RootConfig | None = None
    if mode_s == RootMode.EXTERNAL:
        for key in sorted(set(rt) - {"mode"}):
            r.problems.append(
                f"root.{key}: not used when root.mode = 'external' (the external root "
                "decides its own key, name and validity); remove it"
            )
        root = RootConfig(mode=RootMode.EXTERNAL)
    elif mode_s == RootMode.SELF_SIGNED:
        root_label = r.get(rt, "root", "key_label", str, _check_label)
        root_spec = r.get(rt, "root", "key_spec", str, _check_key_spec)
        root_name = _subject(r, rt, "root")
        root_days = r.get(rt, "root", "validity_days", int, _check_days(1, 366 * 30))
        arl_days = r.get(
            rt,
            "root",
            "crl_next_update_days",
            int,
            _check_days(1, MAX_ARL_NEXT_UPDATE_DAYS),
            default=DEFAULT_ARL_NEXT_UPDATE_DAYS,
        )
        if root_label and root_spec and root_name and root_days and arl_days:
            root = RootConfig(
                mode=RootMode.SELF_SIGNED,
                key_label=root_label,
                key_spec=root_spec,
                subject=root_name,
                validity_days=root_days,
                crl_next_update_days=arl_days,
            )

    it = r.table(
        top,
        "issuing_ca",
        _KEY_KEYS
        | _NAME_KEYS
        | frozenset({"validity_days", "policy_oids", "ca_issuers_url", "ocsp_url", "crl_urls"}),
    )
    p = "issuing_ca"
    ica_label = r.get(it, p, "key_label", str, _check_label)
    ica_spec = r.get(it, p, "key_spec", str, _check_key_spec)
    ica_name = _subject(r, it, p)
    ica_days = r.get(it, p, "validity_days", int, _check_days(1, 366 * 20))
    ica_policies = r.strings(it, p, "policy_oids", _check_oid)
    ica_issuers = r.get(it, p, "ca_issuers_url", str, check_http_url)
    ica_ocsp = r.get(it, p, "ocsp_url", str, check_http_url) if "ocsp_url" in it else None
    ica_crls = r.strings(it, p, "crl_urls", check_http_url)
    if ica_policies is not None and len(set(ica_policies)) != len(ica_policies):
        r.problems.append(f"{p}.policy_oids: an OID is listed twice (RFC 5280 §4.2.1.4)")
    if (
        root is not None
        and root.validity_days is not None
        and ica_days is not None
        and ica_days > root.validity_days
    ):
        r.problems.append(
            f"{p}.validity_days: got {ica_days}, expected at most root.validity_days "
            f"({root.validity_days}): a certificate must end inside its issuer's validity"
        )

    ot = r.table(top, "ocsp_responder", _KEY_KEYS | _NAME_KEYS | frozenset({"validity_days"}))
    p = "ocsp_responder"
    ocsp_label = r.get(ot, p, "key_label", str, _check_label)
    ocsp_spec = r.get(ot, p, "key_spec", str, _check_key_spec)
    ocsp_name = _subject(r, ot, p)
    ocsp_days = r.get(ot, p, "validity_days", int, _check_days(1, MAX_OCSP_VALIDITY_DAYS))

    at = r.table(top, "audit", frozenset({"key_label"}))
    audit_label = r.get(at, "audit", "key_label", str, _check_label)

    labels = [
        ("root.key_label", root.key_label if root else None),
        ("issuing_ca.key_label", ica_label),
        ("ocsp_responder.key_label", ocsp_label),
        ("audit.key_label", audit_label),
    ]
    seen: dict[str, str] = {}
    for where, label in labels:
        if label is None:
            continue
        if label in seen:
            r.problems.append(
                f"{where}: label {label!r} is also used by {seen[label]}; every key needs its own"
            )
        seen.setdefault(label, where)

    if r.problems:
        raise CeremonyConfigError(source, r.problems)
    assert data_dir is not None and module is not None and token is not None
    assert pin_source is not None and root is not None
    assert ica_label and ica_spec and ica_name and ica_days and ica_policies
    assert ica_issuers and ica_crls
    assert ocsp_label and ocsp_spec and ocsp_name and ocsp_days and audit_label
    return CeremonyConfig(
        data_dir=data_dir,
        hsm=HsmSettings(module=module, token=token, pin_source=pin_source, environment=environment),
        root=root,
        issuing_ca=IssuingCaConfig(
            key_label=ica_label,
            key_spec=ica_spec,
            subject=ica_name,
            validity_days=ica_days,
            policy_oids=ica_policies,
            ca_issuers_url=ica_issuers,
            ocsp_url=ica_ocsp,
            crl_urls=ica_crls,
        ),
        ocsp_responder=OcspResponderConfig(
            key_label=ocsp_label, key_spec=ocsp_spec, subject=ocsp_name, validity_days=ocsp_days
        ),
        audit=AuditConfig(key_label=audit_label),
    )


def _check_pin_source(value: str) -> str | None:
    if value.startswith("file:") and len(value) > len("file:"):
        return None
    if value.startswith("env:") and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value[4:]):
        return None
    return "expected 'file:/path/to/pin' or 'env:VARIABLE' (a PIN itself never goes in this file)"


def load_ceremony_config(path: Path | str) -> CeremonyConfig:
    """Read and check a ceremony TOML file (see :func:`parse_ceremony`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CeremonyConfigError(
            str(path), [f"cannot read the file: {exc.strerror or exc}"]
        ) from None
    try:
        doc = read_toml(raw)
    except TomlError as exc:
        raise CeremonyConfigError(str(path), [f"not valid UTF-8 TOML: {exc}"]) from None
    return parse_ceremony(doc, base_dir=path.resolve().parent, source=str(path))
