"""PINs never show up: not in errors, reprs, strs or log lines."""

from __future__ import annotations

import logging

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from hsm import Hsm, HsmError, KeySpec, PinIncorrect, PinSource, PinSourceError
from tests.softhsm import SoftHsmToken


def _texts(obj: object) -> list[str]:
    """Everything a log line or error report could show of ``obj``."""
    out = [repr(obj), str(obj)]
    if isinstance(obj, BaseException):
        out += [repr(arg) for arg in obj.args]
        for linked in (obj.__cause__, obj.__context__):
            if linked is not None:
                out += _texts(linked)
    return out


def _assert_no_pin(pin: str, *objects: object) -> None:
    for obj in objects:
        for text in _texts(obj):
            assert pin not in text, f"PIN leaked via {type(obj).__name__}: {text}"


def test_wrong_pin_is_pin_incorrect_without_the_pin(fresh_token: SoftHsmToken) -> None:
    wrong = "99" + fresh_token.pin[2:][::-1]
    fresh_token.pin_file.write_text(wrong)
    try:
        with pytest.raises(PinIncorrect) as err:
            Hsm.open(fresh_token.uri)
    finally:
        fresh_token.pin_file.write_text(fresh_token.pin)
    assert str(fresh_token.pin_file) in str(err.value)  # says where the PIN came from
    _assert_no_pin(wrong, err.value)
    _assert_no_pin(fresh_token.pin, err.value)
    # The token is not held open in a broken state: the right PIN works at once.
    assert Hsm.open(fresh_token.uri).healthy()


def test_wrong_pin_from_env_is_pin_incorrect(
    fresh_token: SoftHsmToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZORGID_HSM_TEST_PIN", "000000")
    with pytest.raises(PinIncorrect) as err:
        Hsm.open(
            module_path=fresh_token.module,
            token_label=fresh_token.label,
            pin_source="env:ZORGID_HSM_TEST_PIN",
        )
    _assert_no_pin("000000", err.value)
    monkeypatch.setenv("ZORGID_HSM_TEST_PIN", fresh_token.pin)
    hsm = Hsm.open(
        module_path=fresh_token.module,
        token_label=fresh_token.label,
        pin_source="env:ZORGID_HSM_TEST_PIN",
    )
    assert hsm.healthy()


def test_changed_pin_file_surfaces_on_relogin(fresh_token: SoftHsmToken) -> None:
    hsm = Hsm.open(fresh_token.uri)
    hsm.generate_key("k", KeySpec.EC_P256)
    key = hsm.get_ec_key("k")
    fresh_token.pin_file.write_text("12345678")
    try:
        hsm.module.lib.finalize()  # forces a new login, which re-reads the PIN source
        with pytest.raises(PinIncorrect) as err:
            key.sign(b"x", ec.ECDSA(hashes.SHA256()))
        _assert_no_pin("12345678", err.value)
    finally:
        fresh_token.pin_file.write_text(fresh_token.pin)
    key.sign(b"x", ec.ECDSA(hashes.SHA256()))


def test_no_object_or_log_line_shows_the_pin(
    fresh_token: SoftHsmToken, caplog: pytest.LogCaptureFixture
) -> None:
    pin = fresh_token.pin
    with caplog.at_level(logging.DEBUG):
        hsm = Hsm.open(fresh_token.uri)
        ec_key = hsm.generate_key("ec", KeySpec.EC_P256)
        rsa_key = hsm.generate_key("rsa", KeySpec.RSA_2048)
        hsm.module.lib.finalize()  # recovery logs a warning and logs in again
        assert hsm.healthy()
        attrs = hsm.key_attributes("ec")
        errors: list[HsmError] = []
        for bad in (
            lambda: hsm.get_key("missing"),
            lambda: hsm.generate_key("ec", KeySpec.EC_P256),
            lambda: PinSource.parse("env:ZORGID_UNSET_VARIABLE").read(),
        ):
            with pytest.raises(HsmError) as err:
                bad()
            errors.append(err.value)
    assert any("re-initialising" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert pin not in record.getMessage()
        assert pin not in repr(record.args)
    _assert_no_pin(
        pin,
        hsm,
        vars(hsm),
        ec_key,
        rsa_key,
        ec_key.uri,
        hsm.uri,
        PinSource.parse(f"file:{fresh_token.pin_file}"),
        attrs,
        *errors,
    )
    assert isinstance(errors[-1], PinSourceError)
