"""Fixtures of the UZI tests: a generated test UZI-register with its CRL server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from issuer.uzi.crl import CrlCache
from issuer.uzi.store import SqliteUziStore
from issuer.uzi.validate import ChainValidator, RevocationMode
from issuer.uzi.verify import UziPolicy, UziVerifier
from testkit.desktop_app import DesktopApp
from testkit.uzi_world import CrlServer, UziWorld, crl_server
from tests.softhsm import SoftHsmDir

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


@pytest.fixture
def make_verifier(uzi: World, clock: Clock, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(revocation: RevocationMode = RevocationMode.HARD, **policy: object) -> UziVerifier:
        return UziVerifier(
            policy=UziPolicy(trust_set=str(uzi.trust_dir), revocation=revocation, **policy),  # type: ignore[arg-type]
            store=SqliteUziStore(tmp_path / "uzi.sqlite"),
            validator=ChainValidator(crls=CrlCache()),
            clock=clock,
        )

    return make
