"""The policy document: schema, refusals with key paths, bounds, digest."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

import policies
from policies import Policy, PolicyError, default_policy, dump, load_policy
from policies.reader import DEFAULT_POLICY_PATH

DEFAULT_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
CP = "1.3.6.1.4.1.32473.528.1.2.1"


def _with(old: str, new: str) -> str:
    assert old in DEFAULT_TEXT, old
    return DEFAULT_TEXT.replace(old, new, 1)


def _refused(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        load_policy(text)
    return caught.value


def test_default_policy_loads_with_documented_values() -> None:
    policy = default_policy()
    assert policy.version == "dev-1"
    assert policy.qr.login_seconds == 5 * 60
    assert policy.qr.registration_seconds == 10 * 24 * 3600
    assert policy.ocsp.response_validity_seconds == 4 * 24 * 3600
    assert policy.ocsp.refresh_fraction == 0.5
    assert policy.keys.allowed == ("ec-p256", "ec-p384")
    assert not policy.keys.allows_rsa()
    assert policy.uzi.card_types == ("Z", "N")
    assert policy.uzi.trust_set == "acc"
    assert policy.terms.text_of(policy.terms.current).strip()
    assert re.fullmatch(r"[0-9a-f]{64}", policy.digest)


def test_load_from_path_str_and_text_agree() -> None:
    a = load_policy(DEFAULT_POLICY_PATH)
    b = load_policy(str(DEFAULT_POLICY_PATH))
    c = load_policy(DEFAULT_TEXT)
    assert a == b == c


def test_policy_is_frozen() -> None:
    policy = default_policy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.version = "x"  # type: ignore[misc, assignment]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.qr.login_seconds = 1  # type: ignore[misc]


def test_digest_ignores_layout_but_not_values() -> None:
    base = default_policy().digest
    relaid = "# a comment\n" + DEFAULT_TEXT.replace(
        "login_seconds = 300", "login_seconds   =   300"
    )
    assert load_policy(relaid).digest == base
    changed = _with("login_seconds = 300", "login_seconds = 240")
    assert load_policy(changed).digest != base


def test_dump_is_the_canonical_document() -> None:
    policy = default_policy()
    assert load_policy(DEFAULT_TEXT).canonical == policy.canonical
    assert '"version": "dev-1"' in dump(policy)
    assert "pin" not in repr(policy).lower()


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("surprise = 1\n" + DEFAULT_TEXT, "surprise"),
        (_with("[qr]\n", "[qr]\nlogin_minutes = 5\n"), "qr.login_minutes"),
        (_with(f'oid = "{CP}"', f'oid = "{CP}"\nuri = "x"'), "profile.certificate_policies[0].uri"),
        (_with('version = "2026-1"', 'version = "2026-1"\nlang = "nl"'), "terms.versions[0].lang"),
        (DEFAULT_TEXT + "\n[extra]\nx = 1\n", "extra"),
    ],
)  # fmt: skip
def test_unknown_keys_are_refused_with_their_path(text: str, path: str) -> None:
    error = _refused(text)
    assert error.path == path
    assert "unknown key" in str(error) and path in str(error)


def _leaf_keys(table: dict[str, object], prefix: str = "") -> list[str]:
    keys = []
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            keys += _leaf_keys(value, path)
        else:
            keys.append(path)
    return keys


def _without(path: str) -> str:
    document = tomllib.loads(DEFAULT_TEXT)
    *parents, leaf = path.split(".")
    table = document
    for p in parents:
        table = table[p]
    del table[leaf]
    return _to_toml(document)


def _to_toml(document: dict[str, object]) -> str:
    """A tiny TOML writer for the shapes the policy uses (test helper)."""
    import json

    lines: list[str] = []

    def scalar(v: object) -> str:
        return json.dumps(v, ensure_ascii=False) if not isinstance(v, bool) else str(v).lower()

    def table(t: dict[str, object], name: str) -> None:
        plain = {
            k: v
            for k, v in t.items()
            if not isinstance(v, dict | list)
            or (isinstance(v, list) and not any(isinstance(x, dict) for x in v))
        }
        if name:
            lines.append(f"[{name}]")
        for k, v in plain.items():
            lines.append(
                f"{k} = "
                + (
                    "[" + ", ".join(scalar(x) for x in v) + "]"
                    if isinstance(v, list)
                    else scalar(v)
                )
            )
        for k, v in t.items():
            if isinstance(v, dict):
                table(v, f"{name}.{k}" if name else k)
            elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
                for item in v:
                    lines.append(f"[[{name}.{k}]]" if name else f"[[{k}]]")
                    for ik, iv in item.items():
                        lines.append(f"{ik} = {scalar(iv)}")

    table(document, "")
    return "\n".join(lines) + "\n"


OPTIONAL = {"profile.certificate_policies"}  # an array of tables, tested separately


@pytest.mark.parametrize(
    "path", [p for p in _leaf_keys(tomllib.loads(DEFAULT_TEXT)) if p not in OPTIONAL]
)
def test_every_missing_field_is_refused(path: str) -> None:
    assert load_policy(_to_toml(tomllib.loads(DEFAULT_TEXT))) == default_policy()
    error = _refused(_without(path))
    assert error.path == path
    assert "missing" in str(error)


def test_missing_certificate_policies_and_empty_document_are_refused() -> None:
    assert _refused(_without("profile.certificate_policies")).path == "profile.certificate_policies"
    assert _refused("").path == "version"


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("login_seconds = 300", "login_seconds = 10", "qr.login_seconds"),
        ("login_seconds = 300", "login_seconds = 3600", "qr.login_seconds"),
        ("registration_seconds = 864000", "registration_seconds = 8640000",
         "qr.registration_seconds"),
        ("uzi_challenge_seconds = 120", "uzi_challenge_seconds = 0", "qr.uzi_challenge_seconds"),
        ("uzi_session_seconds = 900", "uzi_session_seconds = 86400", "qr.uzi_session_seconds"),
        ("response_validity_seconds = 345600", "response_validity_seconds = 2592000",
         "ocsp.response_validity_seconds"),
        ("refresh_fraction = 0.5", "refresh_fraction = 1.0", "ocsp.refresh_fraction"),
        ("crl_next_update_seconds = 604800", "crl_next_update_seconds = 60",
         "ocsp.crl_next_update_seconds"),
        ("rsa_min_bits = 2048", "rsa_min_bits = 1024", "keys.rsa_min_bits"),
        ("rsa_max_bits = 4096", "rsa_max_bits = 16384", "keys.rsa_max_bits"),
        ("validity_days = 365", "validity_days = 0", "profile.validity_days"),
        ("validity_days = 365", "validity_days = 3650", "profile.validity_days"),
        ("backdate_seconds = 60", "backdate_seconds = 86400", "profile.backdate_seconds"),
        ("max_failed_attempts = 5", "max_failed_attempts = 0", "enrolment.max_failed_attempts"),
        ("approvals_required = 1", "approvals_required = 0", "approval.approvals_required"),
    ],
)  # fmt: skip
def test_out_of_bounds_values_are_refused(old: str, new: str, path: str) -> None:
    error = _refused(_with(old, new))
    assert error.path == path
    assert "<=" in error.expected  # the bound and its reason are in the message
    assert "(" in error.expected


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ('version = "dev-1"', "version = true", "version"),
        ('version = "dev-1"', 'version = "dev 1"', "version"),
        ("login_seconds = 300", 'login_seconds = "300"', "qr.login_seconds"),
        ("login_seconds = 300", "login_seconds = true", "qr.login_seconds"),
        ('card_types = ["Z", "N"]', 'card_types = ["Z", "M"]', "uzi.card_types[1]"),
        ('card_types = ["Z", "N"]', "card_types = []", "uzi.card_types"),
        ('card_types = ["Z", "N"]', 'card_types = ["Z", "Z"]', "uzi.card_types"),
        ('roles = ["*"]', 'roles = ["01"]', "uzi.roles[0]"),
        ('revocation_mode = "soft"', 'revocation_mode = "maybe"', "uzi.revocation_mode"),
        ('trust_set = "acc"', 'trust_set = "production"', "uzi.trust_set"),
        ('allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ed25519"]', "keys.allowed[0]"),
        ('allowed = ["ec-p256", "ec-p384"]', "allowed = []", "keys.allowed"),
        ('ca_oid = "1.3.6.1.4.1.32473.528.1.1"', 'ca_oid = "not-an-oid"', "profile.ca_oid"),
        ('ca_oid = "1.3.6.1.4.1.32473.528.1.1"', f'ca_oid = "2.25.{2**128 - 5}"', "profile.ca_oid"),
        ('country = "NL"', 'country = "Nederland"', "profile.country"),
        ('signature_hash = "sha256"', 'signature_hash = "sha1"', "profile.signature_hash"),
        ('ocsp_url = "http://127.0.0.1:8080/ocsp"', 'ocsp_url = "https://127.0.0.1/ocsp"',
         "profile.ocsp_url"),
        ('crl_url = "http://127.0.0.1:8080/crl/issuing-ca.crl"', 'crl_url = "http://user:pw@host/crl"',
         "profile.crl_url"),
        ("extra_ekus = []", 'extra_ekus = ["1.3.6.1.5.5.7.3.2"]', "profile.extra_ekus[0]"),
        ("extra_ekus = []", 'extra_ekus = ["2.5.29.37.0"]', "profile.extra_ekus[0]"),
        ('current = "2026-1"', 'current = "2027-1"', "terms.current"),
        ("echo_nonce = true", 'echo_nonce = "yes"', "ocsp.echo_nonce"),
    ],
)  # fmt: skip
def test_wrong_values_are_refused(old: str, new: str, path: str) -> None:
    error = _refused(_with(old, new))
    assert error.path == path
    assert "got" in str(error) and "expected" in str(error)


def test_table_given_as_a_scalar_is_refused() -> None:
    text = "enrolment = 5\n" + DEFAULT_TEXT.replace("[enrolment]\nmax_failed_attempts = 5\n", "")
    assert _refused(text).path == "enrolment"


def test_rsa_max_below_min_is_refused() -> None:
    error = _refused(_with("rsa_max_bits = 4096", "rsa_max_bits = 2048").replace(
        "rsa_min_bits = 2048", "rsa_min_bits = 3072"))  # fmt: skip
    assert error.path == "keys.rsa_max_bits"


def test_ocsp_validity_longer_than_certificate_is_refused() -> None:
    text = _with("validity_days = 365", "validity_days = 1")
    assert _refused(text).path == "ocsp.response_validity_seconds"


def test_duplicate_certificate_policy_is_refused() -> None:
    entry = '[[profile.certificate_policies]]\noid = "1.3.6.1.4.1.32473.528.1.2.1"\n'
    text = _with("[keys]", entry + "\n[keys]")
    assert _refused(text).path == "profile.certificate_policies"


def test_datetime_values_are_refused() -> None:
    error = _refused(_with("echo_nonce = true", "echo_nonce = 2026-01-01"))
    assert error.path == "ocsp.echo_nonce"


def test_invalid_toml_is_refused() -> None:
    assert _refused("version = ").path == "<document>"


def test_integer_version_is_recorded_as_text() -> None:
    assert load_policy(_with('version = "dev-1"', "version = 7")).version == "7"


def test_trust_set_may_be_a_folder() -> None:
    assert load_policy(
        _with('trust_set = "acc"', 'trust_set = "/etc/zorgid/uzi"')
    ).uzi.trust_set == ("/etc/zorgid/uzi")


def test_role_patterns() -> None:
    uzi = dataclasses.replace(default_policy().uzi, roles=("01.*", "17.075"))
    assert uzi.accepts_role("01.015")
    assert uzi.accepts_role("17.075")
    assert not uzi.accepts_role("17.060")
    assert not uzi.accepts_role("00.000")


def test_package_exports() -> None:
    assert isinstance(policies.default_policy(), Policy)
    assert Path(policies.DEFAULT_POLICY_PATH).name == "default.toml"
