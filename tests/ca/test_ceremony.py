"""The self-signed ceremony against a real SoftHSM token, checked by openssl and pkilint."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    SignatureAlgorithmOID,
)

import issuer.ca.ceremony.hierarchy as hierarchy_module
import issuer.ca.ceremony.rollback as rollback_module
from issuer.ca import (
    AlreadyExists,
    CaMaterialError,
    CeremonyFailed,
    load_ca_material,
    run_ceremony,
)
from tests.ca.conftest import CeremonySetup, openssl_verify, pkilint_cert, pkilint_pair


def _spki(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey | object) -> bytes:
    assert isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_ceremony_makes_a_hierarchy_that_openssl_and_pkilint_accept(setup: CeremonySetup) -> None:
    lines: list[str] = []
    result = run_ceremony(setup.config, setup.hsm, out=lines.append)
    ca = setup.data_dir / "ca"
    assert result.state == "complete"
    assert sorted(p.name for p in ca.iterdir()) == [
        "audit-checkpoint.pub.pem",
        "ceremony.json",
        "issuing-ca.pem",
        "ocsp-responder.pem",
        "root.crl",
        "root.pem",
    ]
    # every step was printed
    assert any("generate root key 'root-ca'" in line for line in lines)
    assert any("sign the OCSP responder certificate" in line for line in lines)

    root, issuing, ocsp = ca / "root.pem", ca / "issuing-ca.pem", ca / "ocsp-responder.pem"
    for cert, untrusted in ((root, None), (issuing, None), (ocsp, issuing)):
        done = openssl_verify(root, cert, untrusted)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.strip().endswith(": OK")
    for cert in (root, issuing, ocsp):
        done = pkilint_cert(cert)
        assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr
    for parent, child in ((root, issuing), (issuing, ocsp)):
        done = pkilint_pair(parent, child)
        assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr

    # keys: on the token, sensitive, never extractable, and the certificates carry them
    material = load_ca_material(setup.data_dir)
    assert sorted(setup.hsm.list_keys()) == sorted(setup.config.key_labels())
    for label in setup.config.key_labels():
        attrs = setup.hsm.key_attributes(label)
        assert attrs.sensitive is True and attrs.extractable is False, label
        assert attrs.never_extractable is True and attrs.token is True, label
    pairs = (
        (material.root, "root-ca"),
        (material.issuing_ca, "issuing-ca"),
        (material.ocsp_responder, "ocsp-responder"),
    )
    for cert_obj, label in pairs:
        assert _spki(cert_obj.public_key()) == _spki(setup.hsm.get_key(label).public_key())
    assert _spki(material.audit_public_key) == _spki(
        setup.hsm.get_key("audit-checkpoint").public_key()
    )
    assert isinstance(material.audit_public_key.curve, ec.SECP256R1)

    # the record says what was made, with fingerprints of the files as written
    record = json.loads((ca / "ceremony.json").read_text())
    assert record["state"] == "complete"
    for section, cert_obj in (
        ("root", material.root),
        ("issuing_ca", material.issuing_ca),
        ("ocsp_responder", material.ocsp_responder),
    ):
        assert record[section]["sha256"] == cert_obj.fingerprint(hashes.SHA256()).hex()
        assert record[section]["serial"] == f"{cert_obj.serial_number:x}"
    assert record["audit"]["key_label"] == "audit-checkpoint"
    assert material.issuing_ca_key_label == "issuing-ca"
    assert material.ocsp_responder_key_label == "ocsp-responder"


def test_certificate_profiles(setup: CeremonySetup) -> None:
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    m = load_ca_material(setup.data_dir)
    root, ica, ocsp = m.root, m.issuing_ca, m.ocsp_responder
    cfg = setup.config

    # signature algorithms follow the issuer key: P-384 root/issuing CA -> ecdsa-with-SHA384
    assert root.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA384
    assert ica.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA384
    assert ocsp.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA384

    bc = ica.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ica.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    pols = ica.extensions.get_extension_for_class(x509.CertificatePolicies).value
    assert [p.policy_identifier.dotted_string for p in pols] == list(cfg.issuing_ca.policy_oids)
    aia = ica.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    # the example names no OCSP URL for the issuing CA (nothing answers OCSP for the root)
    assert cfg.issuing_ca.ocsp_url is None
    assert {(d.access_method, d.access_location.value) for d in aia} == {
        (AuthorityInformationAccessOID.CA_ISSUERS, cfg.issuing_ca.ca_issuers_url),
    }
    dps = ica.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [dp.full_name[0].value for dp in dps if dp.full_name] == list(cfg.issuing_ca.crl_urls)
    # AKI of each certificate = SKI of its issuer
    for child, parent in ((root, root), (ica, root), (ocsp, ica)):
        aki = child.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = parent.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ski.digest

    rbc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert rbc.critical and rbc.value.ca and rbc.value.path_length is None
    assert root.subject == root.issuer

    # OCSP responder: EKU OCSPSigning, ocsp-nocheck, KU digitalSignature critical, 30 days
    eku = ocsp.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert (
        ocsp.extensions.get_extension_for_oid(ExtensionOID.OCSP_NO_CHECK).value
        == x509.OCSPNoCheck()
    )
    oku = ocsp.extensions.get_extension_for_class(x509.KeyUsage)
    assert oku.critical and oku.value.digital_signature and not oku.value.key_cert_sign
    assert ocsp.not_valid_after_utc - ocsp.not_valid_before_utc == timedelta(days=30)
    assert ica.not_valid_after_utc <= root.not_valid_after_utc
    assert ocsp.not_valid_after_utc <= ica.not_valid_after_utc

    # serials: positive, <= 20 octets, >= 64 bits, distinct
    serials = [c.serial_number for c in (root, ica, ocsp)]
    assert len(set(serials)) == 3
    for s in serials:
        assert s > 0 and s.bit_length() > 64 and (s.bit_length() + 8) // 8 <= 20

    # names: C PrintableString, O and CN UTF8String (read the DER, not cryptography's view)
    for cert in (root, ica, ocsp):
        parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        for rdn in parsed.subject.chosen:
            for atv in rdn:
                kind = atv["value"].chosen.__class__.__name__
                want = "PrintableString" if atv["type"].native == "country_name" else "UTF8String"
                assert kind == want, (atv["type"].native, kind)
    assert ica.subject.rfc4514_string() == (
        f"CN={cfg.issuing_ca.subject.common_name},O={cfg.issuing_ca.subject.organization},C=NL"
    )


@pytest.mark.parametrize(
    ("root_spec", "issuing_spec", "want_issuing_sig", "want_ocsp_sig"),
    [
        (
            "ec-p256",
            "ec-p256",
            SignatureAlgorithmOID.ECDSA_WITH_SHA256,
            SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        ),
        (
            "rsa-2048",
            "rsa-2048",
            SignatureAlgorithmOID.RSA_WITH_SHA256,
            SignatureAlgorithmOID.RSA_WITH_SHA256,
        ),
        (
            "rsa-3072",
            "ec-p384",
            SignatureAlgorithmOID.RSA_WITH_SHA256,
            SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        ),
    ],
)
def test_signature_algorithm_follows_the_issuer_key(
    setup: CeremonySetup,
    root_spec: str,
    issuing_spec: str,
    want_issuing_sig: x509.ObjectIdentifier,
    want_ocsp_sig: x509.ObjectIdentifier,
) -> None:
    def change(doc: dict[str, object]) -> None:
        doc["root"]["key_spec"] = root_spec  # type: ignore[index]
        doc["issuing_ca"]["key_spec"] = issuing_spec  # type: ignore[index]

    config = setup.rewrite(change)
    run_ceremony(config, setup.hsm, out=lambda _: None)
    m = load_ca_material(setup.data_dir)
    assert m.issuing_ca.signature_algorithm_oid == want_issuing_sig
    assert m.ocsp_responder.signature_algorithm_oid == want_ocsp_sig
    ca = setup.data_dir / "ca"
    for cert, untrusted in (
        (ca / "issuing-ca.pem", None),
        (ca / "ocsp-responder.pem", ca / "issuing-ca.pem"),
    ):
        done = openssl_verify(ca / "root.pem", cert, untrusted)
        assert done.returncode == 0, done.stderr
        assert pkilint_cert(cert).stdout.strip() == ""


def test_refuses_when_a_key_label_exists_on_the_token(setup: CeremonySetup) -> None:
    setup.hsm.generate_key("ocsp-responder", "ec-p256")
    before = setup.token_state()
    with pytest.raises(AlreadyExists, match=r"'ocsp-responder'.*exist") as caught:
        run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    assert setup.config.hsm.token in str(caught.value)
    assert setup.token_state() == before
    assert setup.data_state() is None


def test_refuses_when_a_file_exists_in_the_data_dir(setup: CeremonySetup) -> None:
    (setup.data_dir / "ca").mkdir(parents=True)
    (setup.data_dir / "ca" / "root.pem").write_text("keep me")
    before = setup.data_state()
    with pytest.raises(AlreadyExists, match=r"root\.pem"):
        run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    assert setup.token_state() == []
    assert setup.data_state() == before


def test_a_second_run_refuses_and_changes_nothing(setup: CeremonySetup) -> None:
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    tokens, files = setup.token_state(), setup.data_state()
    with pytest.raises(AlreadyExists):
        run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    assert setup.token_state() == tokens
    assert setup.data_state() == files


def _fail_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """Make one ceremony step raise, as a full disk or a broken token would."""
    if point in {"ocsp-profile"}:

        def broken(**_: object) -> x509.CertificateBuilder:
            raise RuntimeError("injected: OCSP profile step broke")

        monkeypatch.setattr(hierarchy_module, "ocsp_responder_profile", broken)
        return
    real_write = rollback_module.write_new

    def write(path: Path, data: bytes, journal: object) -> None:
        if path.name == point:
            real_write(path, data[: len(data) // 2], journal)  # type: ignore[arg-type]
            raise OSError(28, "injected: No space left on device", str(path))
        real_write(path, data, journal)  # type: ignore[arg-type]

    monkeypatch.setattr(rollback_module, "write_new", write)


@pytest.mark.parametrize("point", ["ocsp-profile", "ocsp-responder.pem", "ceremony.json"])
def test_a_failure_mid_way_leaves_token_and_data_dir_as_before(
    setup: CeremonySetup, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    setup.hsm.generate_key("unrelated-key", "ec-p256")  # not ours: must survive the rollback
    setup.data_dir.mkdir()
    (setup.data_dir / "other.txt").write_text("not ours")
    tokens, files = setup.token_state(), setup.data_state()
    _fail_at(monkeypatch, point)
    lines: list[str] = []
    with pytest.raises(CeremonyFailed) as caught:
        run_ceremony(setup.config, setup.hsm, out=lines.append)
    message = str(caught.value)
    assert "injected" in message
    assert "as they were before this run" in message
    assert "root-ca" in message  # it names what it removed
    assert setup.token_state() == tokens
    assert setup.data_state() == files
    with pytest.raises(CaMaterialError):
        load_ca_material(setup.data_dir)
    # after the cause is gone, the same file runs clean
    monkeypatch.undo()
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    load_ca_material(setup.data_dir)


def test_interrupt_rolls_back_and_propagates(
    setup: CeremonySetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rollback_module.generate

    def generate(token: object, label: str, spec: str, journal: object) -> object:
        if label == "audit-checkpoint":
            raise KeyboardInterrupt
        return real(token, label, spec, journal)  # type: ignore[arg-type]

    monkeypatch.setattr(rollback_module, "generate", generate)
    with pytest.raises(KeyboardInterrupt):
        run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    assert setup.token_state() == []
    assert setup.data_state() is None


def test_a_file_value_that_fails_the_linter_later_rolls_back(setup: CeremonySetup) -> None:
    """No monkeypatch: a policy OID the schema accepts but pkilint's strict DER decoder refuses
    (an arc under ``2.999``) fails the issuing CA step, after the root key, the root certificate
    and the issuing CA key exist; all of them are gone afterwards."""
    config = setup.rewrite(lambda doc: doc["issuing_ca"].__setitem__("policy_oids", ["2.999.1"]))
    lines: list[str] = []
    with pytest.raises(CeremonyFailed) as caught:
        run_ceremony(config, setup.hsm, out=lines.append)
    text = str(caught.value)
    assert "sign the issuing CA certificate" in text
    assert "LintFailed" in text and "CertificatePolicies" in text
    assert "token key 'issuing-ca', token key 'root-ca'" in text
    assert any("generate issuing CA key" in line for line in lines)
    assert setup.token_state() == []
    assert setup.data_state() is None


def test_a_token_failing_mid_ceremony_is_rolled_back(setup: CeremonySetup) -> None:
    """The token itself fails (CKR_DEVICE_ERROR on every signature, through hsm's fault seam at
    the PKCS#11 boundary) once the issuing CA key exists: the hsm layer gives up with
    HsmUnavailable, and the ceremony destroys the keys it made (only signing is broken)."""
    import pkcs11.exceptions as p11e

    from hsm import HsmUnavailable

    signed: list[str] = []

    def hook(operation: str) -> None:
        if operation == "sign":
            signed.append(operation)
            if len(signed) > 1:  # the root self-signature succeeds, then the device fails
                raise p11e.DeviceError()

    setup.hsm.set_fault_hook(hook)
    try:
        with pytest.raises(CeremonyFailed) as caught:
            run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    finally:
        setup.hsm.set_fault_hook(None)
    assert isinstance(caught.value.__cause__, HsmUnavailable)
    assert "sign the issuing CA certificate" in str(caught.value)
    assert "token key 'issuing-ca', token key 'root-ca'" in str(caught.value)
    assert setup.token_state() == []
    assert setup.data_state() is None


def test_an_issuing_ca_ocsp_url_when_given_is_named_and_lints(setup: CeremonySetup) -> None:
    config = setup.rewrite(
        lambda d: d["issuing_ca"].__setitem__("ocsp_url", "http://ocsp.zorgid.example/")
    )
    run_ceremony(config, setup.hsm, out=lambda _: None)
    ca = setup.data_dir / "ca"
    ica = load_ca_material(setup.data_dir).issuing_ca
    aia = ica.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.OCSP, "http://ocsp.zorgid.example/"),
        (AuthorityInformationAccessOID.CA_ISSUERS, config.issuing_ca.ca_issuers_url),
    ]
    done = pkilint_cert(ca / "issuing-ca.pem")
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr
