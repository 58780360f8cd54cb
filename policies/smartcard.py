"""The ``[smartcard]`` section: which certificates a ZORG-ID smartcard carries.

Read by :func:`policies.reader.parse_policy` through the same strict table
reader as every other section (unknown keys refused, every bound named), so
the section is part of the canonical document and its digest like the rest.
Why apart from the reader: one concern (the card set), and the reader stays
under the module size limit. Each bound's reason is in ``docs/policy.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policies.schema import (
    DAY,
    CardCertificatePolicy,
    CardKeyType,
    CardLayout,
    CertificatePolicy,
    PolicyError,
    SmartcardPolicy,
)

if TYPE_CHECKING:
    from policies.reader import _Table

__all__ = ["CARD_CERTIFICATES", "CARD_KEY_TYPES", "read_smartcard"]

CARD_KEY_TYPES: tuple[CardKeyType, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384")
CARD_CERTIFICATES = ("authentication", "signature", "encryption")
"""The certificates of a UZI-pas (docs/uzi-profile.md), each a sub-table of ``[smartcard]``."""
_LAYOUTS: tuple[CardLayout, ...] = ("N",)


def _certificate_policies(t: _Table) -> tuple[CertificatePolicy, ...]:
    from policies.reader import _oid, cps_uri_of

    cps: list[CertificatePolicy] = []
    for entry in t.tables("certificate_policies"):
        cps.append(CertificatePolicy(oid=_oid(entry, "oid"), cps_uri=cps_uri_of(entry)))
        entry.close()
    if not cps:
        raise PolicyError(t._key("certificate_policies"), "no entries", "at least one policy OID")
    if len({c.oid for c in cps}) != len(cps):
        raise PolicyError(
            t._key("certificate_policies"),
            "a repeated OID",
            "each OID once (RFC 5280 §4.2.1.4: MUST NOT appear more than once)",
        )
    return tuple(cps)


def _certificate(t: _Table, kind: str) -> CardCertificatePolicy:
    key_types = t.strings("key_types")
    for i, key_type in enumerate(key_types):
        if key_type not in CARD_KEY_TYPES:
            raise PolicyError(
                t._key(f"key_types[{i}]"), repr(key_type), f"one of {list(CARD_KEY_TYPES)}"
            )
        if kind == "encryption" and key_type.startswith("ec-"):
            raise PolicyError(
                t._key(f"key_types[{i}]"),
                repr(key_type),
                "an RSA key type: the encryption certificate's keyEncipherment needs RSA "
                "(RFC 5480 §3: an EC key agrees keys, it does not encipher them)",
            )
    card = CardCertificatePolicy(
        key_types=key_types,  # type: ignore[arg-type]
        certificate_policies=_certificate_policies(t),
    )
    t.close()
    return card


def read_smartcard(t: _Table, ocsp_response_validity_seconds: int) -> SmartcardPolicy:
    """The checked section; ``authentication`` is required, the other two optional."""
    enabled = t.boolean("enabled")
    card_type = t.choice("card_type", _LAYOUTS)
    validity_days = t.integer("validity_days", 1, 1095, "at most 3 years, as UZI-pas certificates")
    if validity_days * DAY < ocsp_response_validity_seconds:
        raise PolicyError(
            t._key("validity_days"),
            str(validity_days),
            f"at least the OCSP response validity ({ocsp_response_validity_seconds} s)",
        )
    carried = {
        kind: _certificate(t.table(kind), kind) if kind == "authentication" or t.has(kind) else None
        for kind in CARD_CERTIFICATES
    }
    t.close()
    return SmartcardPolicy(
        enabled=enabled,
        card_type=card_type,  # type: ignore[arg-type]
        validity_days=validity_days,
        authentication=carried["authentication"],
        signature=carried["signature"],
        encryption=carried["encryption"],
    )
