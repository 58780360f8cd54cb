"""Issue 19: a ZORG-ID smartcard works like a UZI-pas in existing software.

The desktop app makes the card's authentication key ON the card, sends a CSR
signed there, and writes the certificate the engine's real issuance cycle
issues back onto the card. Then plain openssl -- libp11's ``pkcs11`` engine on
the card's token -- authenticates a TLS client with that key to an ``s_server``
that trusts the ZORG-ID root and issuing CA and checks the engine's CRL; once the
engine revokes the certificate, the same client is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive

from hsm import HsmOperationFailed
from issuer.issuance.records import IssuanceRequest, IssuedCertificate
from issuer.profile.usage import CertificateUsage
from testkit.smartcard import AUTHENTICATION, ENCRYPTION, SIGNATURE, SLOTS, CardApp, SmartCard
from tests.issuance.conftest import PORTAL, World, attributes
from tests.smartcard.conftest import CardEngine
from tests.smartcard.tls import (
    ClientRun,
    Served,
    list_objects,
    pem,
    server_identity,
    tls_client,
    tls_server,
)


def issue_card_certificate(world: World, csr: bytes) -> IssuedCertificate:
    """The engine certifies the card's key through its real issuance cycle, as the card's
    authentication certificate (digitalSignature, clientAuth: what TLS client
    authentication needs), for a person whose attributes are laid out as an N card."""
    person = world.enrol(attributes(card_type="N")).person_id
    request = IssuanceRequest(
        attrs=attributes(card_type="N"),
        csr=csr,
        person_id=person,
        actor=PORTAL,
        usage=CertificateUsage.CARD_AUTHENTICATION,
    )
    return world.cycle.issue(request)


def _write_crl(engine: CardEngine, issuer: str, path: Path) -> Path:
    """The engine's latest published CRL of *issuer*, as a relying party fetched it."""
    latest = engine.ocsp.crl_store.latest(issuer)
    assert latest is not None, f"the engine published no CRL for issuer {issuer}"
    path.write_bytes(x509.load_der_x509_crl(latest.der).public_bytes(Encoding.PEM))
    return path


def test_the_desktop_app_lays_out_three_keys_made_on_the_card(card: SmartCard) -> None:
    app = CardApp.insert(card)
    keys = [app.generate_key(slot) for slot in SLOTS]
    assert [k.key_size for k in keys] == [2048, 2048, 2048]
    listed = list_objects(card)
    private = {o.fields["ID"]: o for o in listed if o.kind == "Private Key Object"}
    public = {o.fields["ID"]: o for o in listed if o.kind == "Public Key Object"}
    assert sorted(private) == sorted(public) == ["01", "02", "03"]
    for slot in SLOTS:
        shown = private[slot.key_id.hex()]
        assert shown.fields["label"] == public[slot.key_id.hex()].fields["label"] == slot.label
        assert {"sensitive", "always sensitive", "never extractable"} <= shown.access
        assert "extractable" not in shown.access
        attrs = app.hsm.key_attributes(slot.label, key_id=slot.key_id)
        assert attrs.sensitive and attrs.private and attrs.token and attrs.never_extractable
        assert not attrs.extractable
    # Asked for the private exponent, the card answers CKR_ATTRIBUTE_SENSITIVE.
    with app.hsm.module.lib.get_token(token_label=card.label).open() as session:
        (private_key,) = session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: AUTHENTICATION.key_id}
        )
        with pytest.raises(AttributeSensitive):
            private_key[Attribute.PRIVATE_EXPONENT]
    # The encryption key decrypts on the card what was encrypted to its certificate's
    # key (keyEncipherment); the others only sign.
    assert app.hsm.key_attributes(ENCRYPTION.label, key_id=ENCRYPTION.key_id).decrypt
    assert not app.hsm.key_attributes(AUTHENTICATION.label, key_id=AUTHENTICATION.key_id).decrypt
    wrapped_key = b"a content-encryption key, 32 B."
    v15 = padding.PKCS1v15()
    encryption = app.key(ENCRYPTION)
    assert encryption.decrypt(encryption.public_key().encrypt(wrapped_key, v15), v15) == (
        wrapped_key
    )
    with pytest.raises(HsmOperationFailed, match="does not decrypt"):
        app.key(AUTHENTICATION).decrypt(b"x" * 256, v15)
    # Each CSR is signed on the card by its own slot's key.
    for slot, key in zip(SLOTS, keys, strict=True):
        csr = x509.load_der_x509_csr(app.csr(slot))
        assert csr.is_signature_valid
        assert csr.public_key() == key.public_key()


def test_a_card_key_authenticates_over_tls_with_openssl_until_the_engine_revokes_it(
    card_engine: CardEngine, card: SmartCard, openssl_conf: Path, tmp_path: Path
) -> None:
    world = card_engine.world
    app = CardApp.insert(card)
    key = app.generate_key(AUTHENTICATION)
    issued = issue_card_certificate(world, app.csr(AUTHENTICATION))
    cert = app.write_certificate(AUTHENTICATION, issued.der)
    assert cert.public_key() == key.public_key()
    assert (
        ExtendedKeyUsageOID.CLIENT_AUTH
        in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert app.certificates() == {AUTHENTICATION.key_id: cert}
    # A retried write of the same certificate is a no-op; another key's slot refuses it.
    app.write_certificate(AUTHENTICATION, issued.der)
    app.generate_key(SIGNATURE)
    with pytest.raises(ValueError, match="does not certify the key in slot 'non-repudiation'"):
        app.write_certificate(SIGNATURE, issued.der)

    listed = list_objects(card)
    (private,) = [o for o in listed if o.kind == "Private Key Object" and o.fields["ID"] == "01"]
    assert {"sensitive", "never extractable"} <= private.access
    assert "extractable" not in private.access
    (on_card,) = [o for o in listed if o.kind == "Certificate Object"]
    assert on_card.fields["ID"] == "01" and on_card.fields["label"] == AUTHENTICATION.label

    card_pem = tmp_path / "card.pem"
    card_pem.write_bytes(pem(cert))
    trust = tmp_path / "zorgid-ca.pem"
    trust.write_bytes(pem(*world.ca.material.chain()))
    server_cert, server_key = server_identity(tmp_path)

    def handshake(crl: Path) -> tuple[Served, ClientRun]:
        """One TLS connection of the card holder's openssl to a fresh server using *crl*."""
        with tls_server(cert=server_cert, key=server_key, ca_file=trust, crl_file=crl) as (
            port,
            served,
        ):
            run = tls_client(
                port=port,
                card=card,
                slot=AUTHENTICATION,
                cert=card_pem,
                server_ca=server_cert,
                openssl_conf=openssl_conf,
            )
        (server,) = served
        return server, run

    card_engine.ocsp.crls.publish(issued.issuer)
    server, client = handshake(_write_crl(card_engine, issued.issuer, tmp_path / "before.crl"))
    assert client.page.startswith(b"HTTP/1.0 200 ok"), (server.output, client.stderr)
    assert client.returncode == 0, client.stderr
    assert list(client.peer_certificates()) == [cert]  # the server's page shows what it saw
    uzi_number = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    subject = server.verified_subject()
    assert subject is not None and f"serialNumber = {uzi_number}" in subject, server.output
    assert "verify error" not in server.output

    assert card_engine.ocsp.revoke(
        world.engine, issued.issuer, issued.serial, at=datetime.now(UTC), reason="keyCompromise"
    )
    crl_after = _write_crl(card_engine, issued.issuer, tmp_path / "after.crl")
    revoked = x509.load_pem_x509_crl(crl_after.read_bytes())
    assert revoked.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    server, client = handshake(crl_after)
    assert "verify error:num=23:certificate revoked" in server.output, server.output
    assert client.page == b"" and client.returncode != 0
    assert "certificate revoked" in client.stderr, client.stderr
