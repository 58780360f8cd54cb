"""Key generation on the token: attributes read back via PKCS#11 and via pkcs11-tool."""

from __future__ import annotations

import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hsm import (
    Hsm,
    HsmEcPrivateKey,
    HsmOperationFailed,
    HsmPrivateKey,
    HsmRsaPrivateKey,
    InvalidUri,
    KeyExists,
    KeyNotExportable,
    KeyNotFound,
    KeySpec,
    UnsupportedAlgorithm,
)
from tests.hsm.conftest import PREFIX
from tests.softhsm import SoftHsmToken


def test_every_generated_key_is_sensitive_and_unextractable(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey]
) -> None:
    for spec, key in hsm_keys.items():
        attrs = engine_hsm.key_attributes(key.label)
        assert attrs.sensitive, spec
        assert not attrs.extractable, spec
        assert attrs.always_sensitive and attrs.never_extractable, spec
        assert attrs.token and attrs.private and attrs.sign, spec


def _pkcs11_tool_private_keys(token: SoftHsmToken) -> dict[str, dict[str, str]]:
    """Run the real pkcs11-tool and parse its 'Private Key Object' blocks."""
    out = subprocess.run(
        [
            "pkcs11-tool",
            "--module",
            token.module,
            "--token-label",
            token.label,
            "--login",
            "--pin",
            token.pin,
            "--list-objects",
            "--type",
            "privkey",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    keys: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in out.splitlines():
        if line.startswith("Private Key Object"):
            current = {"type": line.split(";", 1)[1].strip()}
        elif current is not None and ":" in line:
            name, value = line.split(":", 1)
            current[name.strip()] = value.strip()
            if name.strip() == "label":
                keys[value.strip()] = current
    return keys


def test_pkcs11_tool_sees_sensitive_never_extractable_keys(
    engine_token: SoftHsmToken, hsm_keys: dict[KeySpec, HsmPrivateKey]
) -> None:
    listed = _pkcs11_tool_private_keys(engine_token)
    for spec, key in hsm_keys.items():
        entry = listed[key.label]
        access = {item.strip() for item in entry["Access"].split(",")}
        assert "sensitive" in access, (spec, access)
        assert "never extractable" in access, (spec, access)
        assert "extractable" not in access, (spec, access)
        assert entry["ID"] == key.key_id.hex()
        assert entry["type"].startswith("EC" if spec.kind.value == "ec" else "RSA")
        assert "sign" in entry["Usage"]


def test_public_key_matches_spec(hsm_keys: dict[KeySpec, HsmPrivateKey]) -> None:
    for spec, key in hsm_keys.items():
        assert key.spec is spec
        pub = key.public_key()
        assert pub.key_size == spec.key_size
        if spec.kind.value == "ec":
            assert isinstance(key, HsmEcPrivateKey)
            assert isinstance(pub, ec.EllipticCurvePublicKey)
            assert pub.curve.name == spec.curve_name
        else:
            assert isinstance(key, HsmRsaPrivateKey)
            assert isinstance(pub, rsa.RSAPublicKey)
            assert pub.public_numbers().e == 65537


def test_get_key_by_label_id_and_uri(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey]
) -> None:
    key = hsm_keys[KeySpec.EC_P256]
    by_label = engine_hsm.get_key(key.label)
    by_id = engine_hsm.get_key(key_id=key.key_id)
    by_uri = engine_hsm.key_from_uri(key.uri)
    by_text = engine_hsm.key_from_uri(f"pkcs11:token={engine_hsm.token_label};object={key.label}")
    by_config_line = Hsm.open_key(
        f"pkcs11:token={engine_hsm.token_label};object={key.label};type=private"
        f"?module-path={engine_hsm.module_path}&pin-source={engine_hsm.uri.pin_source}"
    )
    for found in (by_label, by_id, by_uri, by_text, by_config_line):
        assert found.label == key.label
        assert found.public_key() == key.public_key()
    assert "pin" not in str(key.uri)
    assert engine_hsm.has_key(key.label)
    assert key.label in engine_hsm.list_keys()


def test_key_from_uri_refuses_other_token_and_public_type(engine_hsm: Hsm) -> None:
    with pytest.raises(InvalidUri, match="token"):
        engine_hsm.key_from_uri("pkcs11:token=other;object=x")
    with pytest.raises(InvalidUri, match="type"):
        engine_hsm.key_from_uri(f"pkcs11:token={engine_hsm.token_label};object=x;type=public")


def test_missing_key_raises_key_not_found(engine_hsm: Hsm) -> None:
    with pytest.raises(KeyNotFound, match="no-such-key"):
        engine_hsm.get_key("no-such-key")
    assert not engine_hsm.has_key("no-such-key")


def test_generate_refuses_existing_label_and_id(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey]
) -> None:
    existing = hsm_keys[KeySpec.EC_P256]
    with pytest.raises(KeyExists, match="label"):
        engine_hsm.generate_key(existing.label, KeySpec.EC_P256)
    with pytest.raises(KeyExists, match="id"):
        engine_hsm.generate_key(PREFIX + "fresh", KeySpec.EC_P256, key_id=existing.key_id)
    assert not engine_hsm.has_key(PREFIX + "fresh")


def test_destroy_removes_private_and_public(engine_hsm: Hsm, engine_token: SoftHsmToken) -> None:
    label = PREFIX + "ceremony-rollback"
    key = engine_hsm.generate_key(label, "ec-p256")
    assert engine_hsm.has_key(label)
    engine_hsm.destroy_key(label)
    assert not engine_hsm.has_key(label)
    assert label not in _pkcs11_tool_private_keys(engine_token)
    # The public half is gone too: the label/id can be reused.
    again = engine_hsm.generate_key(label, "ec-p384", key_id=key.key_id)
    assert again.spec is KeySpec.EC_P384
    engine_hsm.destroy_key(label)


def test_private_material_cannot_leave(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey]
) -> None:
    ec_key = hsm_keys[KeySpec.EC_P256]
    rsa_key = hsm_keys[KeySpec.RSA_2048]
    assert isinstance(ec_key, HsmEcPrivateKey) and isinstance(rsa_key, HsmRsaPrivateKey)
    for key in (ec_key, rsa_key):
        with pytest.raises(KeyNotExportable, match="never leaves the HSM"):
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        with pytest.raises(KeyNotExportable):
            key.private_numbers()
    with pytest.raises(KeyNotExportable):
        ec_key.exchange(ec.ECDH(), ec_key.public_key())
    # A signing key does not decrypt: the token's CKA_DECRYPT is false (CA keys never do).
    assert not engine_hsm.key_attributes(rsa_key.label).decrypt
    with pytest.raises(HsmOperationFailed, match="does not decrypt"):
        rsa_key.decrypt(b"x" * 256, padding.PKCS1v15())


def test_key_spec_parse() -> None:
    assert KeySpec.parse("ec-p256") is KeySpec.EC_P256
    assert KeySpec.parse("EC_P384") is KeySpec.EC_P384
    assert KeySpec.parse("rsa-3072") is KeySpec.RSA_3072
    assert KeySpec.parse("secp384r1") is KeySpec.EC_P384
    assert KeySpec.parse(KeySpec.RSA_4096) is KeySpec.RSA_4096
    assert [str(spec) for spec in KeySpec] == [
        "ec-p256",
        "ec-p384",
        "rsa-2048",
        "rsa-3072",
        "rsa-4096",
    ]
    with pytest.raises(UnsupportedAlgorithm, match="rsa-1024"):
        KeySpec.parse("rsa-1024")


def test_ecdsa_der_is_encode_dss_signature() -> None:
    """hsm.keys.ecdsa_der (r || s bytes to ECDSA-Sig-Value) equals cryptography's encoder
    for every size from P-256 to P-521 and for r/s with leading zero octets or a high bit."""
    import random

    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from hsm.keys import ecdsa_der

    rng = random.Random(3)
    for half in (32, 48, 66):
        specials = [0, 1, 0x7F, 0x80, 0xFF, 2 ** (8 * half) - 1, 2 ** (8 * half - 1)]
        for _ in range(300):
            r = rng.choice([*specials, rng.randrange(2 ** rng.randrange(1, 8 * half + 1))])
            s = rng.choice([*specials, rng.randrange(2 ** rng.randrange(1, 8 * half + 1))])
            raw = r.to_bytes(half, "big") + s.to_bytes(half, "big")
            assert ecdsa_der(raw) == encode_dss_signature(r, s)
    with pytest.raises(ValueError):
        ecdsa_der(b"\x01" * 63)


def test_only_an_rsa_key_asked_to_decrypt_decrypts(engine_hsm: Hsm) -> None:
    """A smartcard's encryption key decrypts on the token (OAEP and PKCS#1 v1.5); EC
    cannot be made a decryption key; the default stays sign only."""
    from cryptography.hazmat.primitives import hashes

    label = PREFIX + "decrypting"
    key = engine_hsm.generate_key(label, "rsa-2048", decrypt=True)
    try:
        assert isinstance(key, HsmRsaPrivateKey)
        assert engine_hsm.key_attributes(label).decrypt
        # OAEP with SHA-1: SoftHSM 2.6 decrypts OAEP only so, as many cards
        oaep = padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None
        )
        secret = b"a content-encryption key, 32 B."
        assert key.decrypt(key.public_key().encrypt(secret, oaep), oaep) == secret
        v15 = padding.PKCS1v15()
        assert key.decrypt(key.public_key().encrypt(secret, v15), v15) == secret
        with pytest.raises(UnsupportedAlgorithm, match="OAEP"):
            key.decrypt(
                b"x" * 256, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA256(), None)
            )
    finally:
        engine_hsm.destroy_key(label)
    with pytest.raises(UnsupportedAlgorithm, match="expected RSA"):
        engine_hsm.generate_key(PREFIX + "ec-decrypting", "ec-p256", decrypt=True)
    assert not engine_hsm.has_key(PREFIX + "ec-decrypting")
