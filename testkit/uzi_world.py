"""A test UZI-register: CA hierarchy, Z/N/M/S cards, CRLs over HTTP, and broken cards.

The layout copies the UZI-register's acceptance hierarchy (``docs/uzi-profile.md``):
``C=NL, O=CIBG, CN=<prefix> Zorg CSP Root CA G3`` -> ``<prefix> Zorg CSP Level 2
Persoon CA G3`` -> one issuing CA per card type (``C=NL, O=CIBG,
organizationIdentifier=NTRNL-50000535, CN=<prefix> UZI-register <type> CA G3``,
pathLen 0), card certificates with the real subject order, UZI otherName,
key usages, EKUs, policies, AIA and CRL DP. Only the OIDs are the test
register's own (under enterprise number 32473, reserved for documentation by
RFC 5612), so a test card can never be mistaken for a real one. This is the
outside world: its CA keys are software keys.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from asn1crypto import core as asn1_core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from issuer.uzi_vocabulary import UZI_OTHER_NAME_OID
from issuer.x509util import key_usage

OID_ARC = "1.3.6.1.4.1.32473.528.99"
"""Under IANA enterprise number 32473, reserved for documentation (RFC 5612): never real."""
CA_OIDS = {
    "Z": f"{OID_ARC}.217",
    "N": f"{OID_ARC}.218",
    "M": f"{OID_ARC}.219",
    "S": f"{OID_ARC}.220",
}
POLICY_AUTH = f"{OID_ARC}.211"
POLICY_SIGN = f"{OID_ARC}.212"
POLICY_ENC = f"{OID_ARC}.213"
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
EFS = x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.4")
UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
CA_NAMES = {
    "Z": "UZI-register Zorgverlener CA G3",
    "N": "UZI-register Medewerker op naam CA G3",
    "M": "UZI-register Medewerker niet op naam CA G3",
    "S": "UZI-register Server CA G3",
}


class Kind(enum.StrEnum):
    AUTHENTICATION = "authentication"
    SIGNATURE = "signature"
    ENCRYPTION = "encryption"


@dataclass
class TestCa:
    """One CA of the test register (software key: it is the outside world)."""

    name: x509.Name
    key: rsa.RSAPrivateKey = field(repr=False)
    cert: x509.Certificate
    crl_path: str
    revoked: dict[int, datetime] = field(default_factory=dict)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(Encoding.PEM)


@dataclass(frozen=True)
class TestCard:
    """A card: three certificates and the authentication key (software, until put on a token)."""

    card_type: str
    uzi_number: str
    ura: str
    role: str
    auth: x509.Certificate
    signature: x509.Certificate
    encryption: x509.Certificate
    auth_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...]
    """Intermediates as the desktop app sends them: issuing CA, level-2 CA."""

    def der(self, kind: Kind = Kind.AUTHENTICATION) -> bytes:
        cert = {
            Kind.AUTHENTICATION: self.auth,
            Kind.SIGNATURE: self.signature,
            Kind.ENCRYPTION: self.encryption,
        }[kind]
        return cert.public_bytes(Encoding.DER)

    def chain_der(self, kind: Kind = Kind.AUTHENTICATION) -> list[bytes]:
        return [self.der(kind), *(c.public_bytes(Encoding.DER) for c in self.chain)]


def _name(*pairs: tuple[x509.ObjectIdentifier, str, bool]) -> x509.Name:
    attrs = []
    for oid, value, printable in pairs:
        tag = x509.name._ASN1Type.PrintableString if printable else x509.name._ASN1Type.UTF8String
        attrs.append(x509.RelativeDistinguishedName([x509.NameAttribute(oid, value, tag)]))
    return x509.Name(attrs)


def uzi_san_value(text: str) -> bytes:
    """The DER of the IA5String inside otherName 2.5.5.5."""
    return bytes(asn1_core.IA5String(text).dump())


def _rsa(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"expected an RSA card key, got {type(key).__name__}")
    return key


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class UziWorld:
    """A generated test UZI-register; ``base_url`` is where its CRLs are served."""

    def __init__(self, *, now: datetime, base_url: str, prefix: str = "TEST") -> None:
        self.now = now
        self.base_url = base_url.rstrip("/")
        self.prefix = prefix
        self._serial = 0x1000
        self._uzi = 900000000
        start, end = now - timedelta(days=365), now + timedelta(days=3650)
        root_name = _name(
            (NameOID.COUNTRY_NAME, "NL", True),
            (NameOID.ORGANIZATION_NAME, "CIBG", False),
            (NameOID.COMMON_NAME, f"{prefix} Zorg CSP Root CA G3", False),
        )
        root_key = _key()
        self.root = TestCa(
            root_name,
            root_key,
            self._ca_cert(root_name, root_key, root_name, root_key, start, end, None, None),
            "root.crl",
        )
        l2_name = _name(
            (NameOID.COUNTRY_NAME, "NL", True),
            (NameOID.ORGANIZATION_NAME, "CIBG", False),
            (NameOID.COMMON_NAME, f"{prefix} Zorg CSP Level 2 Persoon CA G3", False),
        )
        l2_key = _key()
        self.level2 = TestCa(
            l2_name,
            l2_key,
            self._ca_cert(l2_name, l2_key, root_name, root_key, start, end, None, self.root),
            "level2.crl",
        )
        self.cas: dict[str, TestCa] = {}
        for card_type, cn in CA_NAMES.items():
            name = _name(
                (NameOID.COUNTRY_NAME, "NL", True),
                (NameOID.ORGANIZATION_NAME, "CIBG", False),
                (NameOID.ORGANIZATION_IDENTIFIER, "NTRNL-50000535", False),
                (NameOID.COMMON_NAME, f"{prefix} {cn}", False),
            )
            key = _key()
            self.cas[card_type] = TestCa(
                name,
                key,
                self._ca_cert(name, key, l2_name, l2_key, start, end, 0, self.level2),
                f"issuing-{card_type.lower()}.crl",
            )
        self._shared_key = _key()
        self.broken_keys: dict[str, rsa.RSAPrivateKey] = {}
        """The card key of each broken condition (software keys), to sign challenges with."""

    # -- building blocks ---------------------------------------------------------------

    def _next_serial(self) -> int:
        self._serial += 1
        return (self._serial << 64) | 0x5A5A

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def _ca_cert(
        self,
        name: x509.Name,
        key: rsa.RSAPrivateKey,
        issuer: x509.Name,
        issuer_key: rsa.RSAPrivateKey,
        start: datetime,
        end: datetime,
        path_len: int | None,
        parent: TestCa | None,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(self._next_serial())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
            .add_extension(
                key_usage("key_cert_sign", "crl_sign"),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
        if parent is not None:
            builder = builder.add_extension(
                x509.CertificatePolicies(
                    [
                        x509.PolicyInformation(x509.ObjectIdentifier(p), None)
                        for p in (POLICY_AUTH, POLICY_SIGN, POLICY_ENC)
                    ]
                ),
                critical=False,
            )
            builder = builder.add_extension(self._crl_dp(parent.crl_path), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def _crl_dp(self, path: str) -> x509.CRLDistributionPoints:
        return x509.CRLDistributionPoints(
            [
                x509.DistributionPoint(
                    [x509.UniformResourceIdentifier(self._url(path))], None, None, None
                )
            ]
        )

    def next_uzi_number(self) -> str:
        self._uzi += 1
        return str(self._uzi)

    def card_cert(
        self,
        *,
        card_type: str,
        kind: Kind,
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
        uzi_number: str,
        ura: str,
        role: str,
        agb: str = "00000000",
        issuer_type: str | None = None,
        san_text: str | None = None,
        serial_number: str | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        given_name: str = "Jan",
        surname: str = "de Vries",
    ) -> x509.Certificate:
        """One certificate of a card, as the UZI-register makes it (profile tables)."""
        ca = self.cas[issuer_type or card_type]
        san = san_text or f"{CA_OIDS[card_type]}-1-{uzi_number}-{card_type}-{ura}-{role}-{agb}"
        pairs: list[tuple[x509.ObjectIdentifier, str, bool]] = [
            (NameOID.COUNTRY_NAME, "NL", True),
            (NameOID.ORGANIZATION_NAME, "Testziekenhuis Zorg-ID", False),
        ]
        if card_type == "Z":
            pairs.append((NameOID.TITLE, "arts", False))
        if card_type in ("Z", "N"):
            pairs += [(NameOID.SURNAME, surname, False), (NameOID.GIVEN_NAME, given_name, False)]
        pairs.append((NameOID.SERIAL_NUMBER, serial_number or uzi_number, True))
        cn = {
            "Z": f"{given_name} {surname}",
            "N": f"{given_name} {surname}",
            "M": "Baliemedewerker",
            "S": "server.zorgid.test",
        }[card_type]
        pairs.append((NameOID.COMMON_NAME, cn, False))
        other_names: list[x509.GeneralName] = [
            x509.OtherName(UZI_OTHER_NAME_OID, uzi_san_value(san))
        ]
        if kind is Kind.AUTHENTICATION:
            upn = bytes(asn1_core.UTF8String(f"{uzi_number}@{ura}").dump())
            other_names.append(x509.OtherName(UPN_OID, upn))
        ku = {
            Kind.AUTHENTICATION: key_usage("digital_signature"),
            Kind.SIGNATURE: key_usage("content_commitment"),
            Kind.ENCRYPTION: key_usage("key_encipherment", "data_encipherment"),
        }[kind]
        eku = {
            Kind.AUTHENTICATION: [
                ExtendedKeyUsageOID.CLIENT_AUTH,
                ExtendedKeyUsageOID.EMAIL_PROTECTION,
                DOCUMENT_SIGNING,
            ],
            Kind.SIGNATURE: [ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING],
            Kind.ENCRYPTION: [ExtendedKeyUsageOID.EMAIL_PROTECTION, EFS],
        }[kind]
        policy = {
            Kind.AUTHENTICATION: POLICY_AUTH,
            Kind.SIGNATURE: POLICY_SIGN,
            Kind.ENCRYPTION: POLICY_ENC,
        }[kind]
        start = not_before or self.now - timedelta(days=30)
        end = not_after or start + timedelta(days=3 * 365)
        return (
            x509.CertificateBuilder()
            .subject_name(_name(*pairs))
            .issuer_name(ca.name)
            .public_key(key.public_key())
            .serial_number(self._next_serial())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(ku, critical=True)
            .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
            .add_extension(x509.SubjectAlternativeName(other_names), critical=False)
            .add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(policy), None)]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            x509.oid.AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(self._url("ocsp")),
                        ),
                        x509.AccessDescription(
                            x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(self._url(ca.crl_path[:-4] + ".cer")),
                        ),
                    ]
                ),
                critical=False,
            )
            .add_extension(self._crl_dp(ca.crl_path), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                critical=False,
            )
            .sign(ca.key, hashes.SHA256())
        )

    def issue_card(
        self,
        card_type: str = "Z",
        *,
        uzi_number: str | None = None,
        ura: str = "90000382",
        role: str | None = None,
        auth_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        given_name: str = "Jan",
        surname: str = "de Vries",
    ) -> TestCard:
        """A card with its three certificates (signature and encryption share a key)."""
        number = uzi_number or self.next_uzi_number()
        role = role or ("01.015" if card_type == "Z" else "00.000")
        key = auth_key or _key()
        certs = [
            self.card_cert(
                card_type=card_type,
                kind=kind,
                key=k,
                uzi_number=number,
                ura=ura,
                role=role,
                not_before=not_before,
                not_after=not_after,
                given_name=given_name,
                surname=surname,
            )
            for kind, k in (
                (Kind.AUTHENTICATION, key),
                (Kind.SIGNATURE, self._shared_key),
                (Kind.ENCRYPTION, self._shared_key),
            )
        ]
        auth, sig, enc = certs
        return TestCard(
            card_type,
            number,
            ura,
            role,
            auth,
            sig,
            enc,
            key,
            (self.cas[card_type].cert, self.level2.cert),
        )

    # -- revocation --------------------------------------------------------------------

    def revoke(self, cert: x509.Certificate, at: datetime | None = None) -> None:
        for ca in (*self.cas.values(), self.level2, self.root):
            if cert.issuer == ca.name:
                ca.revoked[cert.serial_number] = at or self.now - timedelta(hours=2)
                return
        raise ValueError(f"no CA of this world issued {cert.subject.rfc4514_string()}")

    def crl(
        self,
        ca: TestCa,
        *,
        this_update: datetime | None = None,
        next_update: datetime | None = None,
    ) -> bytes:
        """The CA's current CRL (RFC 5280 5.1), DER."""
        issuer_key = ca.key
        this = this_update or self.now - timedelta(hours=1)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.name)
            .last_update(this)
            .next_update(next_update or this + timedelta(days=1))
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                critical=False,
            )
        )
        for serial, when in sorted(ca.revoked.items()):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return builder.sign(issuer_key, hashes.SHA256()).public_bytes(Encoding.DER)

    def all_cas(self) -> list[TestCa]:
        return [self.root, self.level2, *self.cas.values()]

    def crls(self) -> dict[str, bytes]:
        """Every CRL of the world by its path on the CRL server."""
        return {ca.crl_path: self.crl(ca) for ca in self.all_cas()}

    # -- files -------------------------------------------------------------------------

    def write_trust_set(self, folder: Path, *, declare_crls: bool = True) -> Path:
        """A trust-set folder (PEMs + uzi-oids.json) that ``load_trust_set`` reads.

        ``declare_crls`` lists the issuing CAs' CRL URLs (the ones cards name) in
        ``uzi-oids.json``, so the engine fetches them from start; without it they
        are learnt from the first card whose path verified.
        """
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "root.pem").write_bytes(self.root.pem)
        (folder / "level2.pem").write_bytes(self.level2.pem)
        for card_type, ca in self.cas.items():
            (folder / f"issuing-{card_type.lower()}.pem").write_bytes(ca.pem)
        (folder / "uzi-oids.json").write_text(
            json.dumps(
                {
                    "about": f"test UZI-register {self.prefix} (testkit/uzi_world.py)",
                    "ca_oids": {oid: t for t, oid in CA_OIDS.items()},
                    "policy_oids": {
                        POLICY_AUTH: "authentication",
                        POLICY_SIGN: "signature",
                        POLICY_ENC: "encryption",
                    },
                    **(
                        {"crl_urls": [self._url(ca.crl_path) for ca in self.cas.values()]}
                        if declare_crls
                        else {}
                    ),
                },
                indent=2,
            )
        )
        return folder

    def write_broken_cards(self, folder: Path, *, foreign: UziWorld) -> dict[str, Path]:
        """One file per broken condition, named after it; ``foreign`` is an untrusted world.

        Returns condition -> file. Each holds a PEM chain: card certificate first.
        """
        folder.mkdir(parents=True, exist_ok=True)
        made: dict[str, list[x509.Certificate]] = {}
        keys = self.broken_keys
        card = self.issue_card("Z")
        keys["signature-certificate"] = keys["encryption-certificate"] = self._shared_key
        made["signature-certificate"] = [card.signature, *card.chain]
        made["encryption-certificate"] = [card.encryption, *card.chain]
        for t in ("M", "S"):
            c = self.issue_card(t)
            made[f"card-type-{t}"] = [c.auth, *c.chain]
            keys[f"card-type-{t}"] = _rsa(c.auth_key)
        expired = self.issue_card(
            "Z",
            not_before=self.now - timedelta(days=4 * 365),
            not_after=self.now - timedelta(days=1),
        )
        made["expired"] = [expired.auth, *expired.chain]
        keys["expired"] = _rsa(expired.auth_key)
        future = self.issue_card("N", not_before=self.now + timedelta(days=2))
        made["not-yet-valid"] = [future.auth, *future.chain]
        keys["not-yet-valid"] = _rsa(future.auth_key)
        revoked = self.issue_card("Z")
        self.revoke(revoked.auth)
        made["revoked"] = [revoked.auth, *revoked.chain]
        keys["revoked"] = _rsa(revoked.auth_key)
        other = foreign.issue_card("Z")
        made["unknown-ca"] = [other.auth, *other.chain]
        keys["unknown-ca"] = _rsa(other.auth_key)
        key = _key()
        for condition in ("san-ca-disagree", "san-serialnumber-disagree", "malformed-san"):
            keys[condition] = key
        number = self.next_uzi_number()
        auth = Kind.AUTHENTICATION
        made["san-ca-disagree"] = [
            self.card_cert(
                card_type="Z",
                kind=auth,
                key=key,
                uzi_number=number,
                ura="90000382",
                role="01.015",
                issuer_type="N",
            ),
            self.cas["N"].cert,
            self.level2.cert,
        ]
        made["san-serialnumber-disagree"] = [
            self.card_cert(
                card_type="N",
                kind=auth,
                key=key,
                uzi_number=number,
                ura="90000382",
                role="00.000",
                serial_number="900999999",
            ),
            self.cas["N"].cert,
            self.level2.cert,
        ]
        made["malformed-san"] = [
            self.card_cert(
                card_type="Z",
                role="01.015",
                san_text=f"{CA_OIDS['Z']}-1-{number}-Z-9000038-01.015-00000000",
                kind=auth,
                key=key,
                uzi_number=number,
                ura="90000382",
            ),
            self.cas["Z"].cert,
            self.level2.cert,
        ]
        paths: dict[str, Path] = {}
        for condition, certs in made.items():
            path = folder / f"{condition}.pem"
            path.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in certs))
            paths[condition] = path
        garbage = folder / "garbage.der"
        garbage.write_bytes(b"\x30\x82\x01\x00" + b"\x00" * 40)
        paths["garbage"] = garbage
        return paths


if __name__ == "__main__":
    from testkit.register_files import main

    raise SystemExit(main())
