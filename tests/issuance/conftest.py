"""Issuance fixtures: a real ceremony on a fresh SoftHSM token, phones on their own token,
and a cycle + redeemer per test on SQLite and PostgreSQL (tests.store.dbfixtures)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from hsm import Hsm
from issuer.audit import AuditLog
from issuer.ca import CaMaterial, load_ca_material, run_ceremony
from issuer.ca.dev import DEFAULT_DEV_PUBLIC_URL, default_dev_ceremony
from issuer.enrolment.create import Enrolment, create_enrolment
from issuer.enrolment.redeem import Redeemer
from issuer.issuance.cycle import IssuanceCycle
from issuer.issuance.policy_record import record_active_policy
from issuer.issuance.records import Actor
from issuer.profile import VerifiedAttributes
from issuer.uzi_vocabulary import AgbCode, RoleCode, Ura, UziNumber
from issuer.wiring import open_ceremony_hsm
from policies import Policy
from testkit.phone import Phone
from tests.softhsm import SoftHsmDir, SoftHsmToken
from tests.store.dbfixtures import Database, database, engine, migrated, migrated_db

__all__ = ["database", "engine", "migrated", "migrated_db"]

MOBILE = Actor(role="mobile", identity="CN=mobile-gateway,serial=1")
PORTAL = Actor(role="portal", identity="CN=portal,serial=2")


@dataclass(frozen=True)
class HsmSettings:
    module: str
    token: str
    pin_source: str
    environment: dict[str, str] = field(default_factory=dict)  # [hsm.environment]: none


@dataclass(frozen=True)
class CaSetup:
    token: SoftHsmToken
    hsm: Hsm
    data_dir: Path
    material: CaMaterial

    def settings(self) -> HsmSettings:
        return HsmSettings(self.token.module, self.token.label, f"file:{self.token.pin_file}")


def make_ca(softhsm_dir: SoftHsmDir, root: Path, label: str) -> CaSetup:
    token = softhsm_dir.init_token(label)
    data_dir = root / label
    settings = HsmSettings(token.module, token.label, f"file:{token.pin_file}")
    config = default_dev_ceremony(data_dir, settings, DEFAULT_DEV_PUBLIC_URL)
    hsm = open_ceremony_hsm(config)
    # An hour ago: a certificate is backdated (profile.backdate_seconds) and must not
    # start before its CA (RFC 5280 §6.1.3 (a)(2) via openssl's chain check).
    start = datetime.now(UTC) - timedelta(hours=1)
    run_ceremony(config, hsm, out=lambda _: None, clock=lambda: start)
    return CaSetup(token, hsm, data_dir, load_ca_material(data_dir))


@pytest.fixture(scope="session")
def ca(softhsm_dir: SoftHsmDir, tmp_path_factory: pytest.TempPathFactory) -> CaSetup:
    """The dev hierarchy (ceremony of ``zorgid dev``) on its own fresh token."""
    return make_ca(softhsm_dir, tmp_path_factory.mktemp("issuance-ca"), "issuance-ca")


@pytest.fixture(scope="session")
def phone_hsm(softhsm_dir: SoftHsmDir) -> Hsm:
    """The phones' key store: a token of their own, never the engine's."""
    token = softhsm_dir.init_token("phones")
    return Hsm.open(token.uri)


_phone_numbers = itertools.count()


@pytest.fixture
def new_phone(phone_hsm: Hsm) -> object:
    def make(spec: str = "ec-p256") -> Phone:
        return Phone.create(phone_hsm, f"phone-{next(_phone_numbers)}", spec)

    return make


def attributes(uzi_number: str = "900016528", *, card_type: str = "Z") -> VerifiedAttributes:
    if card_type == "N":
        return VerifiedAttributes(
            uzi_number=UziNumber(uzi_number),
            card_type="N",
            subscriber_number=Ura("90000382"),
            role=RoleCode("00.000"),
            agb_code=AgbCode("00000000"),
            given_name="Jan",
            surname="Jansen",
            common_name="Jan Jansen",
            title=None,
            organization="Ziekenhuis Ōost",
        )
    return VerifiedAttributes(
        uzi_number=UziNumber(uzi_number),
        card_type="Z",
        subscriber_number=Ura("90000382"),
        role=RoleCode("01.015"),
        agb_code=AgbCode("01234567"),
        given_name="Zoë",
        surname="van der Heijden",
        common_name="Zoë van der Heijden",
        title="dr.",
        organization="Huisartsenpraktijk De Ëik",
    )


@dataclass
class World:
    """One test's engine: database, cycle, redeemer, audit log."""

    db: Database
    engine: sa.Engine
    ca: CaSetup
    policy: Policy
    policy_version: int
    audit: AuditLog
    cycle: IssuanceCycle
    redeemer: Redeemer

    def enrol(
        self,
        attrs: VerifiedAttributes | None = None,
        *,
        now: datetime | None = None,
    ) -> Enrolment:
        with self.engine.begin() as conn:
            return create_enrolment(
                conn,
                attrs=attrs or attributes(),
                card_certificate_sha256="ab" * 32,
                portal_identity="portal-sha256",
                policy=self.policy,
                policy_version=self.policy_version,
                audit=self.audit,
                actor=PORTAL,
                now=now or datetime.now(UTC),
            )


def build_world(
    db: Database, engine: sa.Engine, ca: CaSetup, policy_text: str | None = None
) -> World:
    """The engine on *db*; the policy store bootstraps from *policy_text* (default policy)."""
    material = ca.material
    audit = AuditLog(signer=ca.hsm.get_ec_key(material.audit_key_label), checkpoint_every=50)
    active = record_active_policy(
        engine,
        audit_key=ca.hsm.get_ec_key(material.audit_key_label),
        material=material,
        policy_text=policy_text,
    )
    cycle = IssuanceCycle(
        engine=engine,
        policy=active.policy,
        policy_version=active.version,
        ca_cert=material.issuing_ca,
        ca_key=ca.hsm.get_key(material.issuing_ca_key_label),
        audit=audit,
    )
    return World(db, engine, ca, active.policy, active.version, audit, cycle, Redeemer(cycle))


@pytest.fixture
def world(migrated_db: Database, migrated: sa.Engine, ca: CaSetup) -> Iterator[World]:
    yield build_world(migrated_db, migrated, ca)
