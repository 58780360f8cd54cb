"""Reading the UZI identity back from a certificate's SAN otherName.

The login flow (and any relying party) takes the identity from the UZI SAN
string of a mobile-ID certificate. The otherName reader and the grammar are
the UZI vocabulary's (:mod:`issuer.uzi_vocabulary`); this module only gives
their refusals the profile's error type.
"""

from __future__ import annotations

from cryptography import x509

from issuer.uzi_vocabulary import UziName, UziNameError, parse_uzi_name, read_uzi_other_name


class UziSanError(ValueError):
    """A certificate without one well-formed UZI SAN string."""

    def __init__(self, got: str) -> None:
        super().__init__(
            f"UZI SAN: got {got}; expected one otherName 2.5.5.5 holding an IA5String "
            "'<CA OID>-1-<UZI nr>-<card type>-<URA>-<role>-<AGB>'. "
            "The certificate is not a UZI-style certificate; refuse it."
        )


def parse_san_string(text: str) -> UziName:
    """Split a UZI SAN string by its documented layout."""
    try:
        return parse_uzi_name(text)
    except UziNameError as exc:
        raise UziSanError(str(exc)) from None


def read_uzi_san(cert: x509.Certificate) -> UziName:
    """The UZI SAN of ``cert``; :class:`UziSanError` unless there is exactly one."""
    try:
        return parse_uzi_name(read_uzi_other_name(cert))
    except UziNameError as exc:
        raise UziSanError(str(exc)) from None
