"""RFC 7512 URI parsing: percent-encoding, refused pin-value, unknown attributes."""

from __future__ import annotations

import pytest

from hsm import InvalidUri, PinSource, PinSourceError, Pkcs11Uri


def test_full_uri_parses() -> None:
    uri = Pkcs11Uri.parse(
        "pkcs11:token=zorgid;object=issuing-ca;type=private;id=%01%02%ff"
        "?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/var/pin"
    )
    assert uri.token == "zorgid"
    assert uri.object == "issuing-ca"
    assert uri.type == "private"
    assert uri.id == b"\x01\x02\xff"
    assert uri.module_path == "/usr/lib/softhsm/libsofthsm2.so"
    assert uri.pin_source == PinSource("file", "/var/pin")


def test_pct_encoded_text_and_id_round_trip() -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=Zorg%20ID%3Bacc;object=ca%C3%A9;id=%00%41")
    assert uri.token == "Zorg ID;acc"
    assert uri.object == "caé"
    assert uri.id == b"\x00A"
    # id is always written fully pct-encoded (RFC 7512 2.3); text only where needed.
    assert str(uri) == "pkcs11:token=Zorg%20ID%3Bacc;object=ca%C3%A9;id=%00%41"
    assert Pkcs11Uri.parse(str(uri)) == uri


def test_scheme_and_names_are_case_insensitive() -> None:
    uri = Pkcs11Uri.parse("PKCS11:Token=a;OBJECT=b")
    assert (uri.token, uri.object) == ("a", "b")


def test_pin_value_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidUri) as err:
        Pkcs11Uri.parse("pkcs11:token=a?pin-value=S3cretPin")
    assert "S3cretPin" not in str(err.value)
    assert "pin-source" in str(err.value)


def test_pin_value_in_path_is_refused() -> None:
    with pytest.raises(InvalidUri):
        Pkcs11Uri.parse("pkcs11:token=a;pin-value=S3cretPin")


def test_duplicate_path_attribute_is_refused() -> None:
    with pytest.raises(InvalidUri, match="twice"):
        Pkcs11Uri.parse("pkcs11:token=a;token=b")


def test_unknown_path_attribute_matches_nothing() -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=a;x-vendor=1;object=k")
    assert uri.unknown_path == (("x-vendor", "1"),)
    with pytest.raises(InvalidUri, match="matches nothing"):
        uri.require_usable()


def test_unknown_query_attribute_is_ignored() -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=a?x-color=blue&module-name=softhsm2")
    uri.require_usable()
    assert uri.token == "a"
    assert ("x-color", "blue") in uri.unknown_query


@pytest.mark.parametrize(
    "text",
    ["http://example", "pkcs11", "pkcs11:token", "pkcs11:token=a#frag", "pkcs11:type=weird"],
)
def test_malformed_uris_are_refused(text: str) -> None:
    with pytest.raises(InvalidUri):
        Pkcs11Uri.parse(text)


def test_non_utf8_text_attribute_is_refused() -> None:
    with pytest.raises(InvalidUri, match="UTF-8"):
        Pkcs11Uri.parse("pkcs11:token=%ff")


def test_pin_source_forms(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert PinSource.parse("/run/pin") == PinSource("file", "/run/pin")
    assert PinSource.parse("file:///run/pin") == PinSource("file", "/run/pin")
    assert PinSource.parse("env:ZORGID_PIN") == PinSource("env", "ZORGID_PIN")
    with pytest.raises(InvalidUri):
        PinSource.parse("|/bin/cat /run/pin")
    monkeypatch.setenv("ZORGID_TEST_PIN", "123456\n")
    assert PinSource.parse("env:ZORGID_TEST_PIN").read() == "123456"
    monkeypatch.delenv("ZORGID_TEST_PIN")
    with pytest.raises(PinSourceError, match="ZORGID_TEST_PIN"):
        PinSource.parse("env:ZORGID_TEST_PIN").read()
    with pytest.raises(PinSourceError, match="cannot read"):
        PinSource.parse("file:/nonexistent/pin").read()


def test_str_never_contains_a_pin(tmp_path: pytest.TempPathFactory) -> None:
    uri = Pkcs11Uri.parse("pkcs11:token=a?pin-source=env:PIN")
    assert str(uri) == "pkcs11:token=a?pin-source=env:PIN"
    assert str(uri.without_pin_source()) == "pkcs11:token=a"
