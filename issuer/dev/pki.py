"""The development PKI for callers of the gRPC API.

``make run`` must give a working mTLS set-up on a fresh machine with no
operator at hand, so the first start makes a development client CA, a
server certificate for the loopback names and one client certificate per
role, plus a second security officer's: the two-person rule for policy versions
needs two officers to try it. These are *transport* credentials of the development environment:
software keys in files (0600), never the engine's CA keys, which live only in
the HSM. Production deployments bring their own client CA and server
certificate (see ``docs/config.md``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from issuer.files import PUBLIC_FILE, make_private_dir, write_file
from issuer.x509util import key_usage

ROLES = ("portal", "mobile", "operator", "security-officer", "auditor")
SECOND_OFFICER = "security-officer-2"
"""A second security officer (another subject, the same role): one proposes a policy
version, the other approves it (the two-person rule compares certificate subjects)."""
CLIENTS: dict[str, str] = {**{role: role for role in ROLES}, SECOND_OFFICER: "security-officer"}
"""Every development client certificate, by file name (``clients/<name>.pem``): its role."""
ROLE_URI_PREFIX = "urn:zorgid:role:"
_VALIDITY = dt.timedelta(days=825)


@dataclass(frozen=True, kw_only=True)
class DevPki:
    """Where the development transport credentials live."""

    root: Path

    @property
    def client_ca_cert(self) -> Path:
        return self.root / "client-ca.pem"

    @property
    def client_ca_key(self) -> Path:
        return self.root / "client-ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    def client_cert(self, name: str) -> Path:
        return self.root / "clients" / f"{name}.pem"

    def client_key(self, name: str) -> Path:
        return self.root / "clients" / f"{name}.key"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    make_private_dir(path.parent)
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_file(path, data, exclusive=True)  # 0600 whatever the umask


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    make_private_dir(path.parent)
    write_file(
        path, cert.public_bytes(serialization.Encoding.PEM), mode=PUBLIC_FILE, exclusive=False
    )


def _name(common_name: str, unit: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ZORG-ID development"),
    ]
    if unit is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(secrets.randbits(127) | (1 << 126))
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _load_ca(pki: DevPki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pki.client_ca_cert.read_bytes())
    key = serialization.load_pem_private_key(pki.client_ca_key.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{pki.client_ca_key}: expected an EC private key")
    return cert, key


def issue_client_certificate(
    pki: DevPki,
    name: str,
    roles: tuple[str, ...],
    *,
    now: dt.datetime | None = None,
) -> tuple[Path, Path]:
    """Issue a client certificate under the development client CA.

    The roles travel as SAN URIs ``urn:zorgid:role:<role>``: a SAN is bound
    to the certificate the TLS handshake verified, so the server never has
    to trust anything the caller writes itself.
    """
    now = now or dt.datetime.now(dt.UTC)
    ca_cert, ca_key = _load_ca(pki)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(name, roles[0] if roles else None), ca_cert.subject, key.public_key(), now)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            key_usage("digital_signature"),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(ROLE_URI_PREFIX + r) for r in roles]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki.client_key(name), key)
    _write_cert(pki.client_cert(name), cert)
    return pki.client_cert(name), pki.client_key(name)


def ensure_dev_pki(root: Path, *, now: dt.datetime | None = None) -> tuple[DevPki, list[str]]:
    """Create what is missing of the development PKI; return it and what was made."""
    now = now or dt.datetime.now(dt.UTC)
    pki = DevPki(root=root)
    made: list[str] = []
    if not pki.client_ca_cert.exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("ZORG-ID development client CA")
        ca_cert = (
            _builder(ca_name, ca_name, ca_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                key_usage("key_cert_sign", "crl_sign"),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_key(pki.client_ca_key, ca_key)
        _write_cert(pki.client_ca_cert, ca_cert)
        made.append(str(pki.client_ca_cert))
    if not pki.server_cert.exists():
        ca_cert, ca_key = _load_ca(pki)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(_name("localhost"), ca_cert.subject, key.public_key(), now)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.IPAddress(ipaddress.ip_address("::1")),
                    ]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_key(pki.server_key, key)
        _write_cert(pki.server_cert, cert)
        made.append(str(pki.server_cert))
    for name, role in CLIENTS.items():  # also those an earlier version did not make
        if not pki.client_cert(name).exists():
            issue_client_certificate(pki, name, (role,), now=now)
            made.append(str(pki.client_cert(name)))
    return pki, made
