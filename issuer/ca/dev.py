"""Development defaults: the hierarchy ``zorgid dev`` makes on first start."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from issuer.ca.config import CeremonyConfig, parse_ceremony

#: The base the development ceremony names when nothing is bound yet: the engine's
#: default ``[ocsp] listen`` (``zorgid dev`` passes the address it actually bound).
DEFAULT_DEV_PUBLIC_URL = "http://127.0.0.1:8080"

#: Where the engine's HTTP front serves the root certificate and the root's CRL; the
#: issuing CA certificate names them (AIA caIssuers, CRL DP) on the public base.
ROOT_CERTIFICATE_PATH = "/ca/root.cer"
ROOT_CRL_PATH = "/crl/root.crl"

#: The development mobile-ID policy OID of ``policies/default.toml``, under IANA PEN 32473
#: (reserved for documentation, RFC 5612): the issuing CA must list the policies its
#: certificates assert (RFC 5280 §6.1.3 (d)), and a dev CA must never pass for a real one.
DEV_POLICY_OID = "1.3.6.1.4.1.32473.528.1.2.1"


class HsmSettingsLike(Protocol):
    """Anything with ``module``, ``token``, ``pin_source`` (``str()``: the value), ``environment``.

    Both :class:`issuer.ca.HsmSettings` and the server's ``issuer.config.HsmConfig``
    (``module: Path``, ``pin_source: PinSource`` printing as ``file:/path``) fit.
    """

    @property
    def module(self) -> object: ...

    @property
    def token(self) -> str: ...

    @property
    def pin_source(self) -> object: ...

    @property
    def environment(self) -> Mapping[str, str]: ...


def default_dev_ceremony(
    data_dir: Path, hsm_settings: HsmSettingsLike, public_url: str
) -> CeremonyConfig:
    """The ceremony ``zorgid dev`` runs on first start (as ``docs/ceremony.example.toml``).

    EC P-384 root and issuing CA (ecdsa-with-SHA384), EC P-256 responder and
    audit keys, a 30-day responder certificate, a 30-day root CRL. The issuing CA
    certificate names the root certificate and the root's CRL on *public_url*
    (``http://host:port``, the engine's HTTP front, which serves both) and no OCSP
    URL: nothing answers OCSP for the root's children, the root's CRL does. Built
    through the same schema check as a reviewed file, so it can never drift from
    what the file allows.
    """
    base = public_url.rstrip("/")
    doc = {
        "data_dir": str(Path(data_dir).resolve()),
        "hsm": {
            "module": str(hsm_settings.module),
            "token": hsm_settings.token,
            "pin_source": str(hsm_settings.pin_source),
            "environment": dict(hsm_settings.environment),
        },
        "root": {
            "mode": "self-signed",
            "key_label": "root-ca",
            "key_spec": "ec-p384",
            "organization": "ZORG-ID Ontwikkeling",
            "common_name": "ZORG-ID Dev Root CA",
            "validity_days": 7305,
            "crl_next_update_days": 30,
        },
        "issuing_ca": {
            "key_label": "issuing-ca",
            "key_spec": "ec-p384",
            "organization": "ZORG-ID Ontwikkeling",
            "common_name": "ZORG-ID Dev Mobile ID CA",
            "validity_days": 3653,
            "policy_oids": [DEV_POLICY_OID],
            "ca_issuers_url": f"{base}{ROOT_CERTIFICATE_PATH}",
            "crl_urls": [f"{base}{ROOT_CRL_PATH}"],
        },
        "ocsp_responder": {
            "key_label": "ocsp-responder",
            "key_spec": "ec-p256",
            "organization": "ZORG-ID Ontwikkeling",
            "common_name": "ZORG-ID Dev OCSP Responder",
            "validity_days": 30,
        },
        "audit": {"key_label": "audit-checkpoint"},
    }
    return parse_ceremony(doc, base_dir=Path(data_dir).resolve(), source="default_dev_ceremony")
