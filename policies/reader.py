"""The checking reader: a TOML policy document to a :class:`~policies.schema.Policy`.

Every key is read through :class:`_Table`, which remembers what was read, so an
unknown key is refused with its path; each bound names its reason (``docs/policy.md``).
The digest is taken over the canonical form of the parsed document.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from policies.schema import (
    DAY,
    HOUR,
    MINUTE,
    SMARTCARD_OFF,
    AcceptedCardType,
    ApprovalPolicy,
    CertificatePolicy,
    EnrolmentPolicy,
    KeyKind,
    KeyPolicy,
    OcspPolicy,
    Policy,
    PolicyError,
    PolicyVersion,
    ProfilePolicy,
    QrPolicy,
    RevocationMode,
    SignatureHash,
    TermsPolicy,
    TermsVersion,
    UziPolicy,
)
from policies.smartcard import read_smartcard
from policies.strict_toml import TomlError, read_toml

_KEY_KINDS: tuple[KeyKind, ...] = ("ec-p256", "ec-p384", "rsa")
_CARD_TYPES: tuple[AcceptedCardType, ...] = ("Z", "N")
_REVOCATION_MODES: tuple[RevocationMode, ...] = ("off", "soft", "hard")
_HASHES: tuple[SignatureHash, ...] = ("sha256", "sha384", "sha512")

_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
_ROLE_RE = re.compile(r"^(\*|[0-9]{2}\.\*|[0-9]{2}\.[0-9]{3})$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class _Table:
    """A view of one TOML table that remembers which keys were read.

    ``close()`` refuses every key that no reader asked for: a misspelt key
    must never be silently ignored (and so fall back to a default).
    """

    def __init__(self, data: Mapping[str, object], path: str) -> None:
        self._data = data
        self._path = path
        self._seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def _get(self, key: str) -> object:
        self._seen.add(key)
        if key not in self._data:
            raise PolicyError(self._key(key), "nothing (the key is missing)", "a value")
        return self._data[key]

    def has(self, key: str) -> bool:
        return key in self._data

    def table(self, key: str) -> _Table:
        value = self._get(key)
        if not isinstance(value, dict):
            raise PolicyError(self._key(key), _describe(value), "a table")
        return _Table(value, self._key(key))

    def tables(self, key: str) -> list[_Table]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise PolicyError(self._key(key), _describe(value), "an array of tables")
        return [_Table(v, f"{self._key(key)}[{i}]") for i, v in enumerate(value)]

    def string(self, key: str, *, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise PolicyError(self._key(key), _describe(value), "a non-empty string")
        if pattern is not None and not pattern.match(value):
            raise PolicyError(self._key(key), repr(value), what or f"a string matching {pattern}")
        return value

    def optional_string(self, key: str) -> str | None:
        if key not in self._data:
            self._seen.add(key)
            return None
        return self.string(key)

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.string(key)
        if value not in allowed:
            raise PolicyError(self._key(key), repr(value), f"one of {list(allowed)}")
        return value

    def integer(self, key: str, low: int, high: int, why: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise PolicyError(self._key(key), _describe(value), "an integer")
        if not low <= value <= high:
            raise PolicyError(self._key(key), str(value), f"{low} <= value <= {high} ({why})")
        return value

    def number(self, key: str, low: float, high: float, why: str) -> float:
        value = self._get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise PolicyError(self._key(key), _describe(value), "a number")
        if not low <= value <= high:
            raise PolicyError(self._key(key), str(value), f"{low} <= value <= {high} ({why})")
        return float(value)

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise PolicyError(self._key(key), _describe(value), "true or false")
        return value

    def strings(self, key: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise PolicyError(self._key(key), _describe(value), "an array of non-empty strings")
        if not value and not allow_empty:
            raise PolicyError(self._key(key), "an empty array", "at least one entry")
        if len(set(value)) != len(value):
            raise PolicyError(self._key(key), repr(value), "no duplicate entries")
        return tuple(value)

    def close(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            raise PolicyError(
                self._key(unknown[0]),
                "an unknown key",
                "only the keys documented in docs/policy.md (misspelt?)",
            )


def _describe(value: object) -> str:
    kind = type(value).__name__
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"


def _oid(table: _Table, key: str) -> str:
    """A dotted OID whose arcs fit 32 bits and whose second arc is < 40:
    pkilint and many relying-party decoders refuse bigger arcs (so no UUID
    arcs under 2.25) and a first sub-identifier above 119 (so no 2.999)."""
    value = table.string(key, pattern=_OID_RE, what="a dotted OID such as 2.16.528.1.1003.1.2.5.1")
    if any(int(arc) >= 2**32 for arc in value.split(".")) or int(value.split(".")[1]) >= 40:
        raise PolicyError(
            table._key(key), repr(value), "an OID whose arcs are < 2^32, second arc < 40"
        )
    return value


def _split(table: _Table, key: str, value: str, expected: str) -> SplitResult:
    """*value* split as a URL; one ``urlsplit`` cannot read (an unclosed ``[`` of an
    IPv6 host, ``ValueError``) is refused like any other bad URL, naming its key."""
    try:
        return urlsplit(value)
    except ValueError:
        raise PolicyError(table._key(key), repr(value), expected) from None


def _url(table: _Table, key: str) -> str:
    """An ``http`` URL: RFC 5280 §4.2.2.1/§4.2.1.13 and RFC 5019 §5 want plain
    HTTP for OCSP, caIssuers and CRL fetches (no TLS chicken-and-egg)."""
    value = table.string(key)
    parts = _split(table, key, value, "an http:// URL with a host and no credentials")
    host = parts.hostname or ""
    if parts.scheme != "http" or not host or parts.username or parts.password or parts.fragment:
        raise PolicyError(
            table._key(key), repr(value), "an http:// URL with a host and no credentials"
        )
    if not value.isascii() or any(c.isspace() for c in value):
        raise PolicyError(table._key(key), repr(value), "an ASCII URL without spaces (IA5String)")
    return value


def cps_uri_of(entry: _Table) -> str | None:
    """A certificate policy's optional CPS pointer: an http(s) URL with a host."""
    cps_uri = entry.optional_string("cps_uri")
    if cps_uri is not None:
        parts = _split(entry, "cps_uri", cps_uri, "an http(s) URL")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PolicyError(entry._key("cps_uri"), repr(cps_uri), "an http(s) URL")
    return cps_uri


def _profile(t: _Table) -> ProfilePolicy:
    country = t.string(
        "country", pattern=re.compile(r"^[A-Z]{2}$"), what="an ISO 3166 alpha-2 code such as NL"
    )
    cps: list[CertificatePolicy] = []
    for entry in t.tables("certificate_policies"):
        oid = _oid(entry, "oid")
        cps_uri = cps_uri_of(entry)
        entry.close()
        cps.append(CertificatePolicy(oid=oid, cps_uri=cps_uri))
    if not cps:
        raise PolicyError(t._key("certificate_policies"), "no entries", "at least one policy OID")
    if len({c.oid for c in cps}) != len(cps):
        raise PolicyError(
            t._key("certificate_policies"),
            "a repeated OID",
            "each OID once (RFC 5280 §4.2.1.4: MUST NOT appear more than once)",
        )
    extra = t.strings("extra_ekus", allow_empty=True)
    for i, oid in enumerate(extra):
        if not _OID_RE.match(oid) or any(int(arc) >= 2**32 for arc in oid.split(".")):
            raise PolicyError(
                t._key(f"extra_ekus[{i}]"), repr(oid), "a dotted OID with arcs < 2^32"
            )
        if oid == "1.3.6.1.5.5.7.3.2":
            raise PolicyError(
                t._key(f"extra_ekus[{i}]"), "clientAuth", "only EKUs beyond clientAuth (always set)"
            )
        if oid in ("2.5.29.37.0", "1.3.6.1.5.5.7.3.9"):
            raise PolicyError(
                t._key(f"extra_ekus[{i}]"),
                repr(oid),
                "no anyExtendedKeyUsage or OCSPSigning in an end-entity mobile ID",
            )
    profile = ProfilePolicy(
        ca_oid=_oid(t, "ca_oid"),
        country=country,
        validity_days=t.integer("validity_days", 1, 1095, "at most 3 years, as UZI-pas certs"),
        backdate_seconds=t.integer(
            "backdate_seconds", 0, HOUR, "clock skew only; backdating hides issuance time"
        ),
        signature_hash=t.choice("signature_hash", _HASHES),  # type: ignore[arg-type]
        extra_ekus=extra,
        certificate_policies=tuple(cps),
        ocsp_url=_url(t, "ocsp_url"),
        ca_issuers_url=_url(t, "ca_issuers_url"),
        crl_url=_url(t, "crl_url"),
    )
    t.close()
    return profile


def _keys(t: _Table) -> KeyPolicy:
    allowed = t.strings("allowed")
    for i, kind in enumerate(allowed):
        if kind not in _KEY_KINDS:
            raise PolicyError(t._key(f"allowed[{i}]"), repr(kind), f"one of {list(_KEY_KINDS)}")
    keys = KeyPolicy(
        allowed=allowed,  # type: ignore[arg-type]
        rsa_min_bits=t.integer(
            "rsa_min_bits", 2048, 8192, "NIST SP 800-57: < 2048 bits is below 112-bit security"
        ),
        rsa_max_bits=t.integer(
            "rsa_max_bits", 2048, 8192, "bounds the verification cost an attacker can impose"
        ),
    )
    if keys.rsa_max_bits < keys.rsa_min_bits:
        raise PolicyError(
            t._key("rsa_max_bits"), str(keys.rsa_max_bits), f">= rsa_min_bits ({keys.rsa_min_bits})"
        )
    t.close()
    return keys


def _uzi(t: _Table) -> UziPolicy:
    card_types = t.strings("card_types")
    for i, card in enumerate(card_types):
        if card not in _CARD_TYPES:
            raise PolicyError(
                t._key(f"card_types[{i}]"),
                repr(card),
                "Z or N: only cards issued to a named person prove who someone is",
            )
    roles = t.strings("roles")
    for i, role in enumerate(roles):
        if not _ROLE_RE.match(role):
            raise PolicyError(
                t._key(f"roles[{i}]"), repr(role), "'NN.NNN', 'NN.*' or '*' (any role)"
            )
    trust_set = t.string("trust_set")
    if trust_set not in ("prod", "acc") and "/" not in trust_set:
        raise PolicyError(
            t._key("trust_set"),
            repr(trust_set),
            "'prod', 'acc' or a folder path containing '/' (e.g. ./trust/uzi/custom)",
        )
    uzi = UziPolicy(
        card_types=card_types,  # type: ignore[arg-type]
        roles=roles,
        trust_set=trust_set,
        revocation_mode=t.choice("revocation_mode", _REVOCATION_MODES),  # type: ignore[arg-type]
    )
    t.close()
    return uzi


def _qr(t: _Table) -> QrPolicy:
    qr = QrPolicy(
        login_seconds=t.integer(
            "login_seconds", 30, 15 * MINUTE, "a login QR is a live challenge; manual: 5 minutes"
        ),
        registration_seconds=t.integer(
            "registration_seconds", HOUR, 30 * DAY, "a bearer token; manual: 10 days"
        ),
        uzi_challenge_seconds=t.integer(
            "uzi_challenge_seconds", 10, 10 * MINUTE, "bounds replay of a card signature"
        ),
        uzi_session_seconds=t.integer(
            "uzi_session_seconds", MINUTE, HOUR, "proves a card was present minutes ago"
        ),
        login_session_seconds=t.integer(
            "login_session_seconds",
            MINUTE,
            HOUR,
            "a login session handle is a bearer proof of a mobile ID login: short-lived",
        ),
        draft_seconds=t.integer(
            "draft_seconds",
            5 * MINUTE,
            4 * HOUR,
            "an unconfirmed registration holds card data shown in one portal session",
        ),
    )
    t.close()
    return qr


def _ocsp(t: _Table) -> OcspPolicy:
    ocsp = OcspPolicy(
        response_validity_seconds=t.integer(
            "response_validity_seconds",
            HOUR,
            7 * DAY,
            "revocation must reach relying parties within a week (RFC 5019 §6 caching)",
        ),
        refresh_fraction=t.number(
            "refresh_fraction", 0.1, 0.9, "refresh well before nextUpdate, not constantly"
        ),
        crl_next_update_seconds=t.integer(
            "crl_next_update_seconds", HOUR, 10 * DAY, "RFC 5280 §5.1.2.5 nextUpdate, bounded"
        ),
        echo_nonce=t.boolean("echo_nonce"),
    )
    t.close()
    return ocsp


def _terms(t: _Table) -> TermsPolicy:
    current = t.string("current", pattern=_VERSION_RE, what="a short version label")
    versions: list[TermsVersion] = []
    for entry in t.tables("versions"):
        versions.append(
            TermsVersion(
                version=entry.string("version", pattern=_VERSION_RE, what="a short version label"),
                text=entry.string("text"),
            )
        )
        entry.close()
    labels = [v.version for v in versions]
    if len(set(labels)) != len(labels):
        raise PolicyError(t._key("versions"), repr(labels), "each terms version once")
    if current not in labels:
        raise PolicyError(t._key("current"), repr(current), f"one of the versions {labels}")
    t.close()
    return TermsPolicy(current=current, versions=tuple(versions))


def canonical_bytes(document: Mapping[str, object]) -> bytes:
    """The canonical form of a parsed document: sorted-key compact JSON, UTF-8."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _reject_datetimes(value: object, path: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _reject_datetimes(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _reject_datetimes(v, f"{path}[{i}]")
    elif not isinstance(value, str | int | float | bool):
        raise PolicyError(path, _describe(value), "a string, number, boolean, array or table")


def parse_policy(document: Mapping[str, object]) -> Policy:
    """Check a parsed TOML document and build the :class:`Policy`."""
    _reject_datetimes(document, "")
    root = _Table(document, "")
    raw_version = root._get("version")
    if isinstance(raw_version, bool) or not isinstance(raw_version, str | int):
        raise PolicyError("version", _describe(raw_version), "a string or integer")
    version = str(raw_version)
    if not _VERSION_RE.match(version):
        raise PolicyError(
            "version", repr(version), "1-64 characters of letters, digits, '.', '_', '-'"
        )
    profile = _profile(root.table("profile"))
    keys = _keys(root.table("keys"))
    uzi = _uzi(root.table("uzi"))
    qr = _qr(root.table("qr"))
    ocsp = _ocsp(root.table("ocsp"))
    terms = _terms(root.table("terms"))
    enrolment_t = root.table("enrolment")
    enrolment = EnrolmentPolicy(
        max_failed_attempts=enrolment_t.integer(
            "max_failed_attempts", 1, 20, "a guessed or stolen token must not be tried forever"
        )
    )
    enrolment_t.close()
    approval_t = root.table("approval")
    approval = ApprovalPolicy(
        approvals_required=approval_t.integer(
            "approvals_required", 1, 5, "two-person rule: at least one approver besides proposer"
        )
    )
    approval_t.close()
    smartcard = (
        read_smartcard(root.table("smartcard"), ocsp.response_validity_seconds)
        if root.has("smartcard")
        else SMARTCARD_OFF
    )
    root.close()
    if profile.validity_days * DAY < ocsp.response_validity_seconds:
        raise PolicyError(
            "ocsp.response_validity_seconds",
            str(ocsp.response_validity_seconds),
            f"no longer than the certificate validity ({profile.validity_days} days)",
        )
    canonical = canonical_bytes(document)
    return Policy(
        version=PolicyVersion(version),
        profile=profile,
        keys=keys,
        uzi=uzi,
        qr=qr,
        ocsp=ocsp,
        terms=terms,
        enrolment=enrolment,
        approval=approval,
        smartcard=smartcard,
        digest=hashlib.sha256(canonical).hexdigest(),
        canonical=canonical,
    )


def load_policy(source: str | Path) -> Policy:
    """Load and check a policy from a file path or from TOML text.

    A :class:`~pathlib.Path` is always read as a file; a ``str`` is read as a
    file when it names one, otherwise parsed as the TOML text itself.
    """
    text: str | bytes
    if isinstance(source, Path):
        text = source.read_bytes()
    elif "\n" not in source and "=" not in source and Path(source).is_file():
        text = Path(source).read_bytes()
    else:
        text = source
    try:
        document = read_toml(text)
    except TomlError as exc:
        raise PolicyError("<document>", f"invalid TOML ({exc})", "a TOML document") from None
    return parse_policy(document)


DEFAULT_POLICY_PATH = Path(__file__).with_name("default.toml")


def default_policy() -> Policy:
    """The development policy shipped with the package (used by ``make run``)."""
    return load_policy(DEFAULT_POLICY_PATH)


def dump(policy: Policy) -> str:
    """The canonical document as pretty JSON, for review and diffs."""
    return json.dumps(json.loads(policy.canonical), sort_keys=True, indent=2, ensure_ascii=False)
