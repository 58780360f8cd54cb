"""What the engine's HTTP front serves for the root: its CRL (ARL) and its certificate.

The paths are read from the issuing CA certificates themselves (their CRL DP and AIA
caIssuers URLs, RFC 5280 §4.2.1.13, §4.2.2.1), so what is served is exactly what a
relying party following the certificates' links asks for, whatever the ceremony file
said. Several issuing CA generations may name different paths: each is served.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from issuer.ca.config import RootMode
from issuer.ca.errors import CaMaterialError
from issuer.ca.material import ROOT_CRL, read_record
from ocsp.model import StoredCrl


@dataclass(frozen=True, kw_only=True)
class RootPaths:
    """URL paths the issuing CA certificates name for their issuer's services."""

    crl: tuple[str, ...]
    """The path of every CRL DP URI: the root's CRL is served at each."""
    certificate: tuple[str, ...]
    """The path of every AIA caIssuers URI: the root certificate is served at each."""


def root_paths(issuing_cas: Sequence[x509.Certificate]) -> RootPaths:
    """The paths of the CRL DP and caIssuers URIs in *issuing_cas*, first seen first."""
    crl: dict[str, None] = {}
    issuers: dict[str, None] = {}
    for cert in issuing_cas:
        try:
            points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        except x509.ExtensionNotFound:
            points = x509.CRLDistributionPoints([])
        for point in points:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier):
                    crl.setdefault(urlsplit(name.value).path or "/")
        try:
            aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        except x509.ExtensionNotFound:
            aia = x509.AuthorityInformationAccess([])
        for access in aia:
            if access.access_method == AuthorityInformationAccessOID.CA_ISSUERS and isinstance(
                access.access_location, x509.UniformResourceIdentifier
            ):
                issuers.setdefault(urlsplit(access.access_location.value).path or "/")
    return RootPaths(crl=tuple(crl), certificate=tuple(issuers))


def root_is_ours(ca_dir: Path) -> bool:
    """A self-signed root made by our ceremony: its CRL and certificate are ours to serve.
    An external root's links point at its operator, who serves them."""
    root = read_record(ca_dir).get("root")
    return isinstance(root, dict) and root.get("mode") == RootMode.SELF_SIGNED.value


class ArlFile:
    """``<ca_dir>/root.crl`` as a :class:`~ocsp.model.StoredCrl`, re-read when it changes.

    Why a file and not the store: the ARL is signed by the root key, at the ceremony or by
    whichever process renews it (``zorgid ca renew-arl``, another OCSP process); each
    front picks a renewal up by the file's mtime, size and inode, at the cost of a stat.
    """

    def __init__(self, ca_dir: Path) -> None:
        self._path = ca_dir / ROOT_CRL
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._crl: StoredCrl | None = None

    def get(self) -> StoredCrl | None:
        """The root CRL on disk, or ``None`` while there is none."""
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        with self._lock:
            if key != self._seen:
                self._crl = self._read()
                self._seen = key
            return self._crl

    def _read(self) -> StoredCrl:
        der = self._path.read_bytes()
        try:
            crl = x509.load_der_x509_crl(der)
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except (ValueError, x509.ExtensionNotFound) as exc:
            raise CaMaterialError(
                f"{self._path} is not a numbered DER CRL ({exc}); expected the root CRL. "
                "Renew it: zorgid ca renew-arl --config FILE"
            ) from None
        if crl.next_update_utc is None:
            raise CaMaterialError(f"{self._path} has no nextUpdate; expected the root CRL")
        return StoredCrl(
            number=number,
            der=der,
            this_update=crl.last_update_utc,
            next_update=crl.next_update_utc,
        )
