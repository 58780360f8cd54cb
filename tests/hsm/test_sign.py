"""Signatures made through PKCS#11 verify with cryptography; X.509 builders sign with HSM keys."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from hsm import (
    HsmEcPrivateKey,
    HsmPrivateKey,
    HsmRsaPrivateKey,
    KeySpec,
    UnsupportedAlgorithm,
)

DATA = b"to be signed: the TBSCertificate of a ZORG-ID mobile identity"
HASHES = [hashes.SHA256(), hashes.SHA384()]
EC_SPECS = [KeySpec.EC_P256, KeySpec.EC_P384]
RSA_SPECS = [KeySpec.RSA_2048, KeySpec.RSA_3072, KeySpec.RSA_4096]
NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


def _ec(keys: dict[KeySpec, HsmPrivateKey], spec: KeySpec) -> HsmEcPrivateKey:
    key = keys[spec]
    assert isinstance(key, HsmEcPrivateKey)
    return key


def _rsa(keys: dict[KeySpec, HsmPrivateKey], spec: KeySpec) -> HsmRsaPrivateKey:
    key = keys[spec]
    assert isinstance(key, HsmRsaPrivateKey)
    return key


@pytest.mark.parametrize("spec", EC_SPECS, ids=str)
@pytest.mark.parametrize("algorithm", HASHES, ids=lambda h: h.name)
def test_ecdsa_verifies(
    hsm_keys: dict[KeySpec, HsmPrivateKey], spec: KeySpec, algorithm: hashes.HashAlgorithm
) -> None:
    key = _ec(hsm_keys, spec)
    signature = key.sign(DATA, ec.ECDSA(algorithm))
    key.public_key().verify(signature, DATA, ec.ECDSA(algorithm))


def test_ecdsa_prehashed_verifies(hsm_keys: dict[KeySpec, HsmPrivateKey]) -> None:
    key = _ec(hsm_keys, KeySpec.EC_P384)
    h = hashes.Hash(hashes.SHA384())
    h.update(DATA)
    signature = key.sign(h.finalize(), ec.ECDSA(Prehashed(hashes.SHA384())))
    key.public_key().verify(signature, DATA, ec.ECDSA(hashes.SHA384()))


@pytest.mark.parametrize("spec", RSA_SPECS, ids=str)
@pytest.mark.parametrize("algorithm", HASHES, ids=lambda h: h.name)
def test_rsa_pkcs1v15_verifies(
    hsm_keys: dict[KeySpec, HsmPrivateKey], spec: KeySpec, algorithm: hashes.HashAlgorithm
) -> None:
    key = _rsa(hsm_keys, spec)
    signature = key.sign(DATA, padding.PKCS1v15(), algorithm)
    assert len(signature) == spec.key_size // 8
    key.public_key().verify(signature, DATA, padding.PKCS1v15(), algorithm)


@pytest.mark.parametrize("spec", RSA_SPECS, ids=str)
@pytest.mark.parametrize("algorithm", HASHES, ids=lambda h: h.name)
@pytest.mark.parametrize(
    "salt", [padding.PSS.DIGEST_LENGTH, padding.PSS.MAX_LENGTH, 20], ids=["digest", "max", "20"]
)
def test_rsa_pss_verifies(
    hsm_keys: dict[KeySpec, HsmPrivateKey],
    spec: KeySpec,
    algorithm: hashes.HashAlgorithm,
    salt: int | padding._MaxLength | padding._DigestLength,
) -> None:
    key = _rsa(hsm_keys, spec)
    pss = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=salt)
    signature = key.sign(DATA, pss, algorithm)
    if salt is padding.PSS.DIGEST_LENGTH:
        expected_salt = algorithm.digest_size
    elif salt is padding.PSS.MAX_LENGTH:
        expected_salt = padding.calculate_max_pss_salt_length(key.public_key(), algorithm)
    else:
        assert isinstance(salt, int)
        expected_salt = salt
    # Verifying with the exact salt length proves the token used the one we asked for.
    key.public_key().verify(
        signature,
        DATA,
        padding.PSS(mgf=padding.MGF1(algorithm), salt_length=expected_salt),
        algorithm,
    )


def test_unsupported_requests_are_refused(hsm_keys: dict[KeySpec, HsmPrivateKey]) -> None:
    rsa_key = _rsa(hsm_keys, KeySpec.RSA_2048)
    with pytest.raises(UnsupportedAlgorithm, match="MGF1"):
        rsa_key.sign(DATA, padding.PSS(padding.MGF1(hashes.SHA1()), 32), hashes.SHA256())
    with pytest.raises(UnsupportedAlgorithm, match="out of range"):
        rsa_key.sign(DATA, padding.PSS(padding.MGF1(hashes.SHA256()), 4096), hashes.SHA256())
    with pytest.raises(UnsupportedAlgorithm, match="sha1"):
        rsa_key.sign(DATA, padding.PKCS1v15(), hashes.SHA1())
    with pytest.raises(UnsupportedAlgorithm, match="AUTO"):
        rsa_key.sign(
            DATA, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO), hashes.SHA256()
        )
    ec_key = _ec(hsm_keys, KeySpec.EC_P256)
    with pytest.raises(UnsupportedAlgorithm, match="sha1"):
        ec_key.sign(DATA, ec.ECDSA(hashes.SHA1()))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _self_signed(key: HsmPrivateKey, algorithm: hashes.SHA256 | hashes.SHA384) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(key.label))
        .issuer_name(_name(key.label))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, algorithm)
    )


@pytest.mark.parametrize("spec", list(KeySpec), ids=str)
def test_certificate_builder_signs_with_hsm_key(
    hsm_keys: dict[KeySpec, HsmPrivateKey], spec: KeySpec
) -> None:
    key = hsm_keys[spec]
    algorithm = hashes.SHA384() if spec is KeySpec.EC_P384 else hashes.SHA256()
    cert = _self_signed(key, algorithm)
    cert.verify_directly_issued_by(cert)
    assert cert.public_key() == key.public_key()


def test_certificate_builder_rsa_pss(hsm_keys: dict[KeySpec, HsmPrivateKey]) -> None:
    key = _rsa(hsm_keys, KeySpec.RSA_3072)
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("pss"))
        .issuer_name(_name("pss"))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256(), rsa_padding=pss)
    )
    cert.verify_directly_issued_by(cert)


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.RSA_2048], ids=str)
def test_csr_builder_signs_with_hsm_key(
    hsm_keys: dict[KeySpec, HsmPrivateKey], spec: KeySpec
) -> None:
    key = hsm_keys[spec]
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name("csr"))
        .sign(key, hashes.SHA256())
    )
    assert csr.is_signature_valid
    assert csr.public_key() == key.public_key()


@pytest.mark.parametrize("spec", [KeySpec.EC_P384, KeySpec.RSA_3072], ids=str)
def test_crl_builder_signs_with_hsm_key(
    hsm_keys: dict[KeySpec, HsmPrivateKey], spec: KeySpec
) -> None:
    key = hsm_keys[spec]
    revoked = x509.RevokedCertificateBuilder().serial_number(12345).revocation_date(NOW).build()
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_name(key.label))
        .last_update(NOW)
        .next_update(NOW + datetime.timedelta(hours=12))
        .add_revoked_certificate(revoked)
        .sign(key, hashes.SHA384())
    )
    pub = key.public_key()
    assert isinstance(pub, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey))
    assert crl.is_signature_valid(pub)


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.RSA_2048], ids=str)
def test_ocsp_response_builder_signs_with_hsm_key(
    hsm_keys: dict[KeySpec, HsmPrivateKey], spec: KeySpec
) -> None:
    key = hsm_keys[spec]
    issuer = _self_signed(key, hashes.SHA256())
    subject = issuer  # the status of the CA itself is enough to exercise signing
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=subject,
            issuer=issuer,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=NOW,
            next_update=NOW + datetime.timedelta(hours=1),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
        .sign(key, hashes.SHA256())
    )
    der = response.public_bytes(serialization.Encoding.DER)
    parsed = ocsp.load_der_ocsp_response(der)
    pub = key.public_key()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        pub.verify(parsed.signature, parsed.tbs_response_bytes, ec.ECDSA(hashes.SHA256()))
    else:
        assert isinstance(pub, rsa.RSAPublicKey)
        pub.verify(parsed.signature, parsed.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256())
