"""The ceremony file of the development environment (``var/ceremony.toml``).

Why: ``zorgid ca check|renew-ocsp|renew-arl|rollover`` read a reviewed ceremony
file, and ``zorgid dev`` runs its ceremony from a built-in one; without the file
on disk those commands could not be tried on the development CA (issue 21). It
is written from what the ceremony actually made -- the URLs the issuing CA
certificate names are read back from it -- so it states that hierarchy and not
a default that may have moved since.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from issuer.files import write_file

if TYPE_CHECKING:
    from issuer.config import HsmConfig

CEREMONY_FILE = "ceremony.toml"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def to_toml(doc: Mapping[str, Any], path: tuple[str, ...] = ()) -> str:
    """*doc* (strings, integers, booleans, lists of them, nested tables) as TOML text."""
    lines = [f"{key} = {_value(v)}" for key, v in doc.items() if not isinstance(v, Mapping)]
    text = ("[" + ".".join(path) + "]\n" if path and lines else "") + "".join(
        f"{line}\n" for line in lines
    )
    for key, v in doc.items():
        if isinstance(v, Mapping):
            text += "\n" + to_toml(v, (*path, key))
    return text


def ceremony_document(root: Path, hsm: HsmConfig, issuing_ca: Path) -> dict[str, Any]:
    """The development ceremony as a file in *root*: paths relative to *root*, the issuing
    CA's root-certificate and CRL URLs as its certificate names them."""
    from issuer.ca.dev import DEFAULT_DEV_PUBLIC_URL, dev_ceremony_document

    doc = dev_ceremony_document(root, hsm, DEFAULT_DEV_PUBLIC_URL)
    doc["data_dir"] = "."
    pin = str(hsm.pin_source)
    if pin.startswith("file:"):
        path = Path(pin.removeprefix("file:"))
        if path.is_relative_to(root):
            pin = f"file:{path.relative_to(root)}"
    doc["hsm"]["pin_source"] = pin
    certificate = x509.load_pem_x509_certificate(issuing_ca.read_bytes())
    aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    doc["issuing_ca"]["ca_issuers_url"] = next(
        str(a.access_location.value)
        for a in aia
        if a.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    )
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    doc["issuing_ca"]["crl_urls"] = [
        str(name.value) for point in points for name in point.full_name or ()
    ]
    return doc


def write_ceremony_file(root: Path, hsm: HsmConfig, issuing_ca: Path) -> Path:
    """Write ``<root>/ceremony.toml`` (0600) unless it exists; its path."""
    path = root / CEREMONY_FILE
    if path.exists():
        return path
    text = (
        "# Development key ceremony file written by `zorgid dev`: the CA hierarchy it made\n"
        "# on the token on first start (docs/ceremony.md describes every field).\n"
        f"# Check it: zorgid ca check --config {path}\n"
        f"# A new OCSP responder certificate: zorgid ca renew-ocsp --config {path}\n"
        "# A relative path is relative to the folder of this file.\n"
    )
    text += to_toml(ceremony_document(root, hsm, issuing_ca))
    write_file(path, text.encode(), exclusive=True)
    return path
