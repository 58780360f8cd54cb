"""The shipped trust sets load, and their CA chains validate (both versions of re-signed CAs)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from issuer.uzi import errors
from issuer.uzi.card import issuing_ca_card_type
from issuer.uzi.errors import UziError
from issuer.uzi.trust import load_trust_set
from issuer.uzi.validate import ChainValidator, RevocationMode
from issuer.uzi_vocabulary import CardType

# The real G3 CAs expire in November 2028: validate at a fixed moment.
MOMENT = datetime(2026, 6, 1, tzinfo=UTC)


def _cn(cert: object) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "root", "issuing"),
    [
        ("prod", "Staat der Nederlanden Root CA - G3", 4),
        ("acc", "TEST Zorg CSP Root CA G3", 2),
    ],
)
def test_shipped_trust_set_chains_validate(name: str, root: str, issuing: int) -> None:
    trust = load_trust_set(name)
    assert [_cn(a) for a in trust.anchors] == [root]
    validator = ChainValidator()
    issuing_cas = [c for c in trust.intermediates if issuing_ca_card_type(c.subject)]
    assert len(issuing_cas) == issuing
    for ca in trust.intermediates:
        chain = validator.validate(
            ca,
            anchors=trust.anchors,
            intermediates=trust.intermediates,
            at=MOMENT,
            revocation=RevocationMode.OFF,
            key_usage=frozenset({"key_cert_sign"}),
        )
        assert _cn(chain.path[-1]) == root
        assert chain.path[0] == ca


def test_prod_has_2017_and_2019_versions_of_each_issuing_ca() -> None:
    trust = load_trust_set("prod")
    by_type: dict[CardType, set[int]] = {}
    for ca in trust.intermediates:
        card_type = issuing_ca_card_type(ca.subject)
        if card_type is not None:
            by_type.setdefault(card_type, set()).add(ca.not_valid_before_utc.year)
    assert by_type == {
        CardType.ZORGVERLENER: {2017, 2019},
        CardType.MEDEWERKER_OP_NAAM: {2017, 2019},
    }
    # Re-signed with the same key: either version can verify a card.
    z = [c for c in trust.intermediates if issuing_ca_card_type(c.subject) == "Z"]
    assert z[0].public_key() == z[1].public_key()


def test_real_chain_fails_after_the_g3_cas_expire() -> None:
    trust = load_trust_set("acc")
    ca = next(c for c in trust.intermediates if issuing_ca_card_type(c.subject) == "Z")
    with pytest.raises(UziError) as info:
        ChainValidator().validate(
            ca,
            anchors=trust.anchors,
            intermediates=trust.intermediates,
            at=datetime(2029, 1, 1, tzinfo=UTC),
            revocation=RevocationMode.OFF,
        )
    assert info.value.code == errors.EXPIRED


def test_unknown_trust_set_and_folder_without_oids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UziError) as info:
        load_trust_set("staging")
    assert info.value.code == errors.TRUST_SET_UNUSABLE
    folder = tmp_path / "set"
    folder.mkdir()
    for pem in (Path(__file__).parents[2] / "issuer/trust/uzi/acc").glob("*.pem"):
        (folder / pem.name).write_bytes(pem.read_bytes())
    with pytest.raises(UziError) as info:
        load_trust_set(str(folder))
    assert info.value.code == errors.TRUST_SET_UNUSABLE
    assert "uzi-oids.json" in str(info.value)


def test_trust_set_crl_urls_are_those_of_certificates_that_verify_under_it(
    tmp_path: Path,
) -> None:
    """Issue 16: the refresher fetches the DPs of the set's own CA certificates, but only of
    those whose signature chains to an anchor of the set (a stray PEM names nothing)."""
    assert set(load_trust_set("prod").crl_urls) == {
        "http://crl.pkioverheid.nl/RootLatestCRL-G3.crl",
        "http://crl.pkioverheid.nl/DomOrganisatiePersoonLatestCRL-G3.crl",
    }
    from cryptography.hazmat.primitives.asymmetric import rsa

    from testkit.forgery import forge_card
    from testkit.uzi_world import UziWorld

    world = UziWorld(now=MOMENT, base_url="http://crl.test")
    folder = world.write_trust_set(tmp_path / "set", declare_crls=False)
    stray = forge_card(
        world.cas["Z"].cert,
        trusted_ca=world.level2.cert,
        key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        crl_url="http://attacker.test/x.crl",
        serial_number=77,
    )
    (folder / "stray.pem").write_bytes(stray.public_bytes(Encoding.PEM))
    trust = load_trust_set(str(folder))
    assert set(trust.crl_urls) == {"http://crl.test/root.crl", "http://crl.test/level2.crl"}
    declared = world.write_trust_set(tmp_path / "declared")
    assert "http://crl.test/issuing-z.crl" in load_trust_set(str(declared)).crl_urls
