"""The UZI-pas card reader and offline chain validation (``VerifyUziCard`` steps 2, 3, 6, 7).

Input: the card's certificate, DER, or a PEM bundle whose first certificate is
the card's and the rest the intermediates the desktop app sent. It is read
(:func:`load_certificates`, :func:`parse_card`), its key checked, and its path
validated against the development environment's test UZI-register (its trust set,
revocation ``off``: offline) for the kind of certificate it is.

Documented refusal: :class:`UziError` (a ``ZID-11xx`` code).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from fuzz.env import dev_root
from fuzz.refusals import refused
from issuer.uzi.card import load_certificates, parse_card
from issuer.uzi.checks import check_card_key
from issuer.uzi.errors import UziError
from issuer.uzi.store import UziChallengeStore
from issuer.uzi.validate import ChainValidator, RevocationMode
from issuer.uzi.verify import UziPolicy, UziVerifier


def trust_dir(work: Path) -> Path:
    return dev_root(work) / "uzi" / "trust"


def build(work: Path) -> Callable[[bytes], None]:
    at = datetime.now(UTC)
    verifier = UziVerifier(
        policy=UziPolicy(trust_set=str(trust_dir(work)), revocation=RevocationMode.OFF),
        store=cast(UziChallengeStore, None),  # no challenge is made or answered here
        validator=ChainValidator(cache_size=64),
        clock=lambda: at,
    )

    def one(data: bytes) -> None:
        with refused(UziError):
            certificates = load_certificates(data)
            card = parse_card(certificates[0])
            check_card_key(card.certificate)
            verifier.validate(card, certificates[1:], at=at, kind=card.kind)

    return one
