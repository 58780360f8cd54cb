"""A ZORG-ID smartcard against the engine's real issuance cycle.

Session-wide: the key ceremony's CA on its own SoftHSM token (``tests.issuance``).
Per test: an emptied migrated database on SQLite and PostgreSQL, an engine whose
policy admits RSA keys (a card's keys are RSA-2048) and issues cards, the OCSP/CRL service as the
cycle's hooks (as ``zorgid serve`` wires it), and a blank card on a token of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.ocsp_service import OcspService
from policies import DEFAULT_POLICY_PATH, load_policy
from testkit.smartcard import SmartCard, write_openssl_engine_conf
from tests.issuance.conftest import CaSetup, World, build_world, make_ca
from tests.softhsm import SOFTHSM_MODULE, SoftHsmDir
from tests.store.dbfixtures import Database, migrated, migrated_db

__all__ = ["migrated", "migrated_db"]


@dataclass(frozen=True)
class CardEngine:
    """The engine a card is issued by: the issuance world and its OCSP/CRL service."""

    world: World
    ocsp: OcspService


def _rsa_policy() -> str:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    text = text.replace('allowed = ["ec-p256", "ec-p384"]', 'allowed = ["ec-p256", "rsa"]')
    text = text.replace('version = "dev-1"', 'version = "dev-1-card"')
    text = text.replace("enabled = false", "enabled = true")  # [smartcard]: cards issue
    policy = load_policy(text)
    assert policy.keys.allowed == ("ec-p256", "rsa") and policy.smartcard.enabled
    return text


@pytest.fixture(scope="session")
def ca(softhsm_dir: SoftHsmDir, tmp_path_factory: pytest.TempPathFactory) -> CaSetup:
    """The key ceremony's CA on a token of its own: sharing ``tests.issuance``'s session
    fixture by import would make a second instance initialise the same token again."""
    return make_ca(softhsm_dir, tmp_path_factory.mktemp("smartcard-ca"), "smartcard-ca")


@pytest.fixture
def card_engine(migrated_db: Database, migrated: sa.Engine, ca: CaSetup) -> CardEngine:
    world = build_world(migrated_db, migrated, ca, _rsa_policy())
    service = OcspService.build(
        engine=world.engine,
        material=world.ca.material,
        hsm=world.ca.hsm,
        policy=world.policy.ocsp,
        signature_hash=world.policy.profile.signature_hash,
    )
    world.cycle.hooks = service
    return CardEngine(world, service)


_cards = itertools.count(1)


@pytest.fixture
def card(softhsm_dir: SoftHsmDir) -> SmartCard:
    """A blank card: a freshly initialised token with its own label and PINs."""
    return SmartCard.blank(softhsm_dir, f"zorgid-card-{next(_cards)}")


@pytest.fixture(scope="session")
def openssl_conf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """openssl with libp11's pkcs11 engine on SoftHSM, as card software is configured."""
    yield write_openssl_engine_conf(
        tmp_path_factory.mktemp("openssl") / "openssl.cnf", SOFTHSM_MODULE
    )
