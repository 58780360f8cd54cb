"""Named UZI trust sets: the anchors, the known intermediates and the register's OIDs.

The production and acceptance sets ship inside the package
(``issuer/trust/uzi/{prod,acc}/``) so that a deployment cannot silently trust
whatever its operating system trusts (RFC 5280 section 6.1.1 (d): the trust
anchor is an *input* of path validation, chosen by the relying party). The
policy names the set; an extra set is a folder of PEM files with the same
layout. Self-signed certificates become anchors, the rest known
intermediates -- both versions of a re-signed CA are kept, because cards in
the field are sent with either.

``uzi-oids.json`` in each set maps the CA OIDs written in the UZI otherName,
and the card policy OIDs, to card types and certificate kinds. A set without
it cannot check a card's CA OID and is refused when loaded: nothing passes by
default. Its optional ``crl_urls`` lists the CRL distribution points of the
register's issuing CAs (the URLs its cards name), so that they are fetched
from start rather than learnt from the first card (issue 16, docs/decisions/uzi.md).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from issuer.uzi import errors
from issuer.uzi.card import CertKind
from issuer.uzi.errors import UziError
from issuer.uzi_vocabulary import CardType

BUILTIN_TRUST_SETS = ("prod", "acc")
OIDS_FILE = "uzi-oids.json"


@dataclass(frozen=True, kw_only=True)
class TrustSet:
    """Anchors, known intermediates and OID tables of one UZI environment."""

    name: str
    anchors: tuple[x509.Certificate, ...] = field(repr=False)
    intermediates: tuple[x509.Certificate, ...] = field(repr=False)
    ca_oids: Mapping[str, CardType]
    policy_oids: Mapping[str, CertKind]
    fingerprint: str
    """SHA-256 over the sorted certificate hashes and OID tables: names the set in caches."""
    crl_urls: tuple[str, ...] = ()
    """CRL distribution points kept fresh from start (issue 16): those of the set's own
    certificates whose signature verifies under the set, plus ``crl_urls`` of the OID table."""


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, Exception):  # InvalidSignature is not a ValueError
        return False
    return True


def _signed_under(
    anchors: Sequence[x509.Certificate], others: Sequence[x509.Certificate]
) -> list[x509.Certificate]:
    """The certificates of ``others`` whose signature chains to an anchor within the set."""
    verified = list(anchors)
    pending = list(others)
    grew = True
    while grew:
        grew = False
        for cert in list(pending):
            for issuer in verified:
                try:
                    cert.verify_directly_issued_by(issuer)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                verified.append(cert)
                pending.remove(cert)
                grew = True
                break
    return verified


def verified_cas(trust: TrustSet) -> list[x509.Certificate]:
    """The set's anchors and the intermediates whose signature chains to one within the set.

    Only these may vouch for a CRL (the UZI-pas watch): a certificate merely
    placed in the folder, not signed under an anchor, vouches for nothing.
    """
    return _signed_under(trust.anchors, trust.intermediates)


def distribution_points(cert: x509.Certificate) -> list[str]:
    """The ``http://`` CRL distribution points a certificate names (full names only)."""
    return _distribution_points(cert)


def _distribution_points(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for point in points
        for name in point.full_name or ()
        if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith("http://")
    ]


def trust_set_from_files(name: str, pems: Mapping[str, bytes], oids_json: bytes | None) -> TrustSet:
    """Build a trust set from PEM file contents and the OID table."""
    certs: list[x509.Certificate] = []
    for fname, data in sorted(pems.items()):
        try:
            certs.extend(x509.load_pem_x509_certificates(data))
        except ValueError as exc:
            raise UziError(
                errors.TRUST_SET_UNUSABLE, f"trust set {name!r}: {fname} is not PEM ({exc})"
            ) from None
    anchors = tuple(c for c in certs if _is_self_signed(c))
    intermediates = tuple(c for c in certs if not _is_self_signed(c))
    if not anchors:
        raise UziError(
            errors.TRUST_SET_UNUSABLE,
            f"trust set {name!r} holds {len(certs)} certificates but no self-signed anchor; "
            "add the root CA certificate",
        )
    if oids_json is None:
        raise UziError(
            errors.TRUST_SET_UNUSABLE,
            f"trust set {name!r} has no {OIDS_FILE}; it must map the register's CA OIDs to "
            "card types and policy OIDs to certificate kinds",
        )
    try:
        table = json.loads(oids_json)
        ca_oids = {str(k): CardType(v) for k, v in table["ca_oids"].items()}
        policy_oids = {str(k): CertKind(v) for k, v in table["policy_oids"].items()}
        declared = [str(u) for u in table.get("crl_urls", [])]
        if not all(u.startswith("http://") for u in declared):
            raise ValueError(f"crl_urls must be http:// URLs, got {declared}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UziError(
            errors.TRUST_SET_UNUSABLE, f"trust set {name!r}: {OIDS_FILE} unreadable ({exc!r})"
        ) from None
    digest = hashlib.sha256()
    for der in sorted(c.public_bytes(Encoding.DER) for c in certs):
        digest.update(hashlib.sha256(der).digest())
    digest.update(
        json.dumps([sorted(ca_oids.items()), sorted(policy_oids.items()), declared]).encode()
    )
    crl_urls = dict.fromkeys(
        [u for c in _signed_under(anchors, intermediates) for u in _distribution_points(c)]
        + declared
    )
    return TrustSet(
        name=name,
        anchors=anchors,
        intermediates=intermediates,
        ca_oids=ca_oids,
        policy_oids=policy_oids,
        fingerprint=digest.hexdigest(),
        crl_urls=tuple(crl_urls),
    )


@functools.lru_cache(maxsize=16)
def load_trust_set(spec: str) -> TrustSet:
    """Load ``prod``, ``acc`` (shipped) or a folder of PEM files with ``uzi-oids.json``."""
    if spec in BUILTIN_TRUST_SETS:
        folder = resources.files("issuer.trust.uzi").joinpath(spec)
        pems = {e.name: e.read_bytes() for e in folder.iterdir() if e.name.endswith(".pem")}
        oids_entry = folder.joinpath(OIDS_FILE)
        return trust_set_from_files(spec, pems, oids_entry.read_bytes())
    path = Path(spec)
    if not path.is_dir():
        raise UziError(
            errors.TRUST_SET_UNUSABLE,
            f"got trust set {spec!r}; expected 'prod', 'acc' or an existing folder of PEM files",
        )
    pems = {p.name: p.read_bytes() for p in sorted(path.glob("*.pem"))}
    oids_path = path / OIDS_FILE
    return trust_set_from_files(
        str(path), pems, oids_path.read_bytes() if oids_path.exists() else None
    )
