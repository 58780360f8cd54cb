"""UziService over real gRPC with mTLS, a real SoftHSM desktop app and the test UZI world.

One server per database back end (SQLite and PostgreSQL, a fresh migrated
schema each, :mod:`tests.store.dbfixtures`), built by the composition root's
own pieces (:func:`issuer.wiring.build_uzi_verifier`,
:func:`issuer.server.binding.uzi_service_binding`) with two things a test needs to
control: the trust set is the generated test UZI-register, and the verifier's
clock is an injected :class:`~tests.uzi.conftest.Clock` (tests move it instead
of sleeping).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from issuer.api.zorgid.v1 import uzi_pb2_grpc
from issuer.config import load_config
from issuer.server.app import BuiltServer, build_server
from issuer.server.binding import uzi_service_binding
from issuer.uzi.crl import CrlCache
from issuer.uzi.validate import ChainValidator, RevocationMode
from issuer.uzi.verify import UziPolicy, UziVerifier
from issuer.wiring import build_uzi_verifier
from testkit.crl_server import crl_server
from testkit.desktop_app import DesktopApp
from testkit.uzi_world import UziWorld
from tests.server.conftest import ClientPki, test_pki, write_config
from tests.server.pki import ROLE_URI, issue
from tests.softhsm import SoftHsmDir
from tests.store.dbfixtures import Database, migrated, migrated_db
from tests.uzi.conftest import NOW, Clock, World

__all__ = ["migrated", "migrated_db", "test_pki"]

SECOND_PORTAL = "portal-2"


@pytest.fixture(scope="session")
def uzi(tmp_path_factory: pytest.TempPathFactory, softhsm_dir: SoftHsmDir) -> Iterator[World]:
    """Like ``tests/uzi``'s world, with the card key on a token of its own.

    Its own fixture (not imported): a session fixture imported into two
    conftests runs twice, and the second would find the first's key on the token.
    """
    root = tmp_path_factory.mktemp("uzi-grpc-world")
    with crl_server() as server:
        world = UziWorld(now=NOW, base_url=server.base_url)
        foreign = UziWorld(now=NOW, base_url=server.base_url + "foreign/", prefix="OTHER")
        token = softhsm_dir.init_token("uzi-pas-grpc")
        app = DesktopApp.with_card_on_token(
            world, module_path=token.module, token_label=token.label, pin_file=str(token.pin_file)
        )
        broken = world.write_broken_cards(root / "broken", foreign=foreign)
        server.publish(world)
        yield World(world, foreign, server, world.write_trust_set(root / "trust"), broken, app)


@dataclass
class UziServer:
    built: BuiltServer
    verifier: UziVerifier
    clock: Clock
    pki: ClientPki
    clients: Path

    def client_files(self, name: str) -> tuple[Path, Path]:
        if name == SECOND_PORTAL:
            return self.clients / f"{name}.pem", self.clients / f"{name}.key"
        return self.pki.client(name)

    def identity(self, name: str) -> str:
        """What the engine binds challenges to: SHA-256 of the client certificate (DER)."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        cert = x509.load_pem_x509_certificate(self.client_files(name)[0].read_bytes())
        return "sha256:" + hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


@pytest.fixture(scope="session")
def uzi_server(
    tmp_path_factory: pytest.TempPathFactory,
    test_pki: ClientPki,
    uzi: World,
    migrated_db: Database,
) -> Iterator[UziServer]:
    folder = tmp_path_factory.mktemp(f"uzi-grpc-{migrated_db.backend}")
    config = load_config(write_config(folder, test_pki))
    clients = folder / "clients"
    issue(
        test_pki.client_ca, "second-portal-client", ou="Koppelingen", uris=(ROLE_URI + "portal",)
    ).write(clients, SECOND_PORTAL)
    clock = Clock()
    engine = migrated_db.engine()
    verifier = build_uzi_verifier(
        config,
        engine=engine,
        policy=UziPolicy(trust_set=str(uzi.trust_dir), revocation=RevocationMode.HARD),
        validator=ChainValidator(crls=CrlCache()),
        clock=clock,
    )
    built = build_server(config, [uzi_service_binding(verifier)])
    built.start()
    yield UziServer(built, verifier, clock, test_pki, clients)
    built.stop(0)
    engine.dispose()


StubFor = Callable[[str], uzi_pb2_grpc.UziServiceStub]


@pytest.fixture
def stub_for(uzi_server: UziServer) -> Iterator[StubFor]:
    """``stub_for("portal")`` -> a UziService stub over mTLS with that client certificate."""
    channels: list[grpc.Channel] = []

    def make(name: str) -> uzi_pb2_grpc.UziServiceStub:
        cert, key = uzi_server.client_files(name)
        creds = grpc.ssl_channel_credentials(
            root_certificates=uzi_server.pki.server_ca_pem,
            private_key=key.read_bytes(),
            certificate_chain=cert.read_bytes(),
        )
        channel = grpc.secure_channel(
            f"127.0.0.1:{uzi_server.built.port}",
            creds,
            options=[("grpc.use_local_subchannel_pool", 1)],
        )
        channels.append(channel)
        return uzi_pb2_grpc.UziServiceStub(channel)  # type: ignore[no-untyped-call]

    yield make
    for channel in channels:
        channel.close()
