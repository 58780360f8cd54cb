"""Issue 18: every certificate URL on the one configured public base (``[ocsp] public_url``).

The policy fixes the paths; the config where the HTTP front is reached. These
tests try to make a certificate name an address the front does not serve.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from issuer.config import ConfigError, parse_config
from policies import default_policy
from policies.urls import at_public_url, check_public_url, cps_document, served_paths

MINIMAL = """
data_dir = "var"
[server]
dev_plaintext = true
[hsm]
token = "zorgid"
pin_source = "env:ZORGID_PIN"
"""


def test_every_certificate_url_goes_on_the_base_and_keeps_its_path() -> None:
    policy = default_policy()
    moved = at_public_url(policy, "http://ocsp.zorg.example:9123")
    profile = moved.profile
    assert profile.ocsp_url == "http://ocsp.zorg.example:9123/ocsp"
    assert profile.ca_issuers_url == "http://ocsp.zorg.example:9123/ca/issuing-ca.cer"
    assert profile.crl_url == "http://ocsp.zorg.example:9123/crl/issuing-ca.crl"
    assert [cp.cps_uri for cp in profile.certificate_policies] == [
        "http://ocsp.zorg.example:9123/cps"
    ]
    # The signed document is untouched: the version and digest are the officers'.
    assert (moved.version, moved.digest, moved.canonical) == (
        policy.version,
        policy.digest,
        policy.canonical,
    )
    # What the front serves does not depend on the base: the same paths.
    assert served_paths(moved.profile) == served_paths(policy.profile)
    assert "http://ocsp.zorg.example:9123/ocsp" in cps_document(moved)


def test_an_empty_base_keeps_the_policys_urls_as_written() -> None:
    policy = default_policy()
    assert at_public_url(policy, "") is policy


def test_served_paths_are_the_policys_url_paths() -> None:
    paths = served_paths(default_policy().profile)
    assert (paths.ocsp, paths.ca_issuers, paths.crl, paths.cps) == (
        "/ocsp",
        "/ca/issuing-ca.cer",
        "/crl/issuing-ca.crl",
        ("/cps",),
    )


@pytest.mark.parametrize(
    "value",
    [
        "https://ocsp.example",  # RFC 5019 §5: OCSP over plain HTTP
        "http://ocsp.example/base",  # a path: the paths are the policy's
        "http://user:pw@ocsp.example",
        "http://ocsp.example:99999",
        "http://",
        "ocsp.example:8080",
        "http://ocsp.example?x=1",
        "http://ocsp .example",
    ],
)
def test_a_public_url_that_is_not_a_plain_http_base_is_refused(value: str) -> None:
    assert check_public_url(value) is not None
    with pytest.raises(ConfigError) as refused:
        parse_config(MINIMAL + f'[ocsp]\npublic_url = "{value}"\n', base=Path("/etc/zorgid"))
    assert any(p.startswith("ocsp.public_url: got") for p in refused.value.problems), (
        refused.value.problems
    )


def test_a_plain_http_base_is_accepted() -> None:
    for value in ("http://127.0.0.1:8123", "http://ocsp.zorg.example", "http://[::1]:80/"):
        assert check_public_url(value) is None
        config = parse_config(MINIMAL + f'[ocsp]\npublic_url = "{value}"\n', base=Path("/x"))
        assert config.ocsp.public_url == value


def test_the_removed_path_keys_are_refused() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config(MINIMAL + '[ocsp]\npath_prefix = "/ocsp"\n', base=Path("/x"))
    assert any("path_prefix" in p for p in refused.value.problems)


def test_the_cps_page_names_every_issuing_ca_generations_urls() -> None:
    """After ``zorgid ca rollover`` each generation's certificates name their own CRL and
    caIssuers URL; the CPS page lists every one served, the current generation last."""
    policy = at_public_url(default_policy(), "http://ocsp.zorg.example:9123")
    one = cps_document(policy)
    assert "generation 1: certificate http://ocsp.zorg.example:9123/ca/issuing-ca.cer" in one
    assert "CRL http://ocsp.zorg.example:9123/crl/issuing-ca.crl" in one
    assert "generation 2" not in one and "(current)" not in one
    both = cps_document(policy, [1, 2])
    assert "generation 1: certificate http://ocsp.zorg.example:9123/ca/issuing-ca.cer" in both
    assert (
        "generation 2 (current): certificate http://ocsp.zorg.example:9123/ca/issuing-ca-g2.cer, "
        "CRL http://ocsp.zorg.example:9123/crl/issuing-ca-g2.crl"
    ) in both


def test_the_cps_page_names_the_smartcard_policies_when_cards_are_issued() -> None:
    """Issue 19: a card certificate's CPS URI is the same page; it lists the card's OIDs."""
    policy = default_policy()
    assert not policy.smartcard.enabled
    assert "smartcard" not in cps_document(policy)
    cards = dataclasses.replace(
        policy, smartcard=dataclasses.replace(policy.smartcard, enabled=True)
    )
    page = cps_document(cards)
    for name in ("authentication", "signature", "encryption"):
        issued = getattr(cards.smartcard, name)
        for cp in issued.certificate_policies:
            assert f"  {cp.oid} ({name})" in page
