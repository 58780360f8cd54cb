"""Fixtures of the UZI tests: a generated test UZI-register with its CRL server.

Verifiers store challenges and sessions in the engine's own SQL store
(:class:`issuer.store.uzi.SqlUziChallengeStore`) on a SQLite database migrated
once per run; challenge ids and session handles are random, so tests sharing
it never see each other's rows. Tests about the store itself use ``migrated``
(SQLite and PostgreSQL, :mod:`tests.store.dbfixtures`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.store import create_engine_for, upgrade
from issuer.store.uzi import SqlUziChallengeStore
from issuer.uzi.crl import CrlCache
from issuer.uzi.validate import ChainValidator, RevocationMode
from issuer.uzi.verify import UziPolicy, UziVerifier
from testkit.crl_server import CrlServer, crl_server
from testkit.desktop_app import DesktopApp
from testkit.uzi_world import UziWorld
from tests.softhsm import SoftHsmDir
from tests.store.dbfixtures import migrated, migrated_db

__all__ = ["migrated", "migrated_db"]

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    """An injected clock tests move by hand (never sleep)."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass(frozen=True)
class World:
    world: UziWorld
    foreign: UziWorld
    server: CrlServer
    trust_dir: Path
    broken: dict[str, Path]
    app: DesktopApp


@pytest.fixture(scope="session")
def uzi(tmp_path_factory: pytest.TempPathFactory, softhsm_dir: SoftHsmDir) -> Iterator[World]:
    root = tmp_path_factory.mktemp("uzi")
    with crl_server() as server:
        world = UziWorld(now=NOW, base_url=server.base_url)
        foreign = UziWorld(now=NOW, base_url=server.base_url + "foreign/", prefix="OTHER")
        token = softhsm_dir.init_token("uzi-pas-z")
        app = DesktopApp.with_card_on_token(
            world,
            module_path=token.module,
            token_label=token.label,
            pin_file=str(token.pin_file),
        )
        broken = world.write_broken_cards(root / "broken", foreign=foreign)
        server.publish(world)
        yield World(world, foreign, server, world.write_trust_set(root / "trust"), broken, app)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def uzi_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """One migrated SQLite database for this run's verifiers."""
    path = tmp_path_factory.mktemp("uzi-db") / "zorgid.sqlite3"
    engine = create_engine_for(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def make_verifier(uzi: World, clock: Clock, uzi_engine: sa.Engine):  # type: ignore[no-untyped-def]
    """Verifiers started like a server starts them (CRL refresher running), stopped after."""
    made: list[UziVerifier] = []

    def make(
        revocation: RevocationMode = RevocationMode.HARD,
        trust_dir: Path | None = None,
        **policy: object,
    ) -> UziVerifier:
        verifier = UziVerifier(
            policy=UziPolicy(
                trust_set=str(trust_dir or uzi.trust_dir),
                revocation=revocation,
                **policy,  # type: ignore[arg-type]
            ),
            store=SqlUziChallengeStore(uzi_engine, clock=clock),
            validator=ChainValidator(crls=CrlCache()),
            clock=clock,
        )
        verifier.start()
        made.append(verifier)
        return verifier

    yield make
    for verifier in made:
        verifier.stop()


MakeVerifier = Callable[..., UziVerifier]
PORTAL = "portal.zorgid.test"


def prove(verifier: UziVerifier, chain: list[bytes], sign: Callable[[bytes], bytes]) -> None:
    """One UZI-pas proof for registration through *verifier*, as the desktop app makes it."""
    challenge = verifier.create_challenge(portal=PORTAL)
    verifier.verify_card(
        challenge.challenge_id,
        chain,
        sign(challenge.to_be_signed),
        portal=PORTAL,
        purpose="registration",
    )
