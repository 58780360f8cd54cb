"""PolicyService over real gRPC with mTLS, a real ceremony on SoftHSM, SQLite and PostgreSQL.

Each test gets a freshly emptied, migrated database (``migrated``, both back
ends), a server built by the composition root's own pieces
(:func:`issuer.server.binding.policy_service_binding` over a
:class:`~issuer.wiring.PolicyRuntime`) and an injected clock
that tests move instead of sleeping. Officers are client certificates of the
test client CA with the ``security-officer`` role URI: three different people
(``officer-a``, ``officer-b``, ``officer-c``), plus the auditor and operator
of :func:`tests.server.conftest.test_pki`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from issuer.api.zorgid.v1 import policy_pb2_grpc
from issuer.config import Role, load_config
from issuer.server.app import BuiltServer, build_server
from issuer.server.binding import policy_service_binding
from issuer.wiring import PolicyRuntime
from policies import DEFAULT_POLICY_PATH
from tests.issuance.conftest import CaSetup, make_ca
from tests.server.conftest import ClientPki, role_rules, test_pki
from tests.server.pki import ROLE_URI, issue
from tests.softhsm import SoftHsmDir
from tests.store.dbfixtures import Database, migrated, migrated_db

__all__ = ["migrated", "migrated_db", "test_pki"]

OFFICERS = ("officer-a", "officer-b", "officer-c")
BASE_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def variant(*changes: tuple[str, str]) -> str:
    """The packaged policy with each ``(old, new)`` text replaced (each must occur)."""
    text = BASE_TEXT
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    return text


@dataclass
class Clock:
    """Injected time: tests move it instead of sleeping."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(scope="session")
def policy_ca(softhsm_dir: SoftHsmDir, tmp_path_factory: pytest.TempPathFactory) -> CaSetup:
    """The dev hierarchy on its own token (its audit key signs the policy rows)."""
    return make_ca(softhsm_dir, tmp_path_factory.mktemp("policy-ca"), "policy-ca")


@pytest.fixture(scope="session")
def officer_files(test_pki: ClientPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("officers")
    for name in OFFICERS:
        issue(
            test_pki.client_ca,
            f"{name} security officer",
            ou="Security",
            uris=(ROLE_URI + Role.SECURITY_OFFICER,),
        ).write(folder, name)
    return folder


def write_policy_config(
    folder: Path, pki: ClientPki, ca: CaSetup, db: Database, *, listen: str = "127.0.0.1:0"
) -> Path:
    token = ca.token
    text = (
        f'data_dir = "{ca.data_dir}"\n\n'
        f'[server]\nlisten = "{listen}"\nworkers = 8\n\n'
        f'[tls]\ncert = "{pki.root / "server.pem"}"\nkey = "{pki.root / "server.key"}"\n'
        f'client_ca = "{pki.root / "client-ca.pem"}"\n\n'
        f'[hsm]\ntoken = "{token.label}"\npin_source = "file:{token.pin_file}"\n\n'
        f'[database]\nurl = "{db.cli_url}"\n'
        f"{role_rules()}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zorgid.toml"
    path.write_text(text)
    return path


@dataclass
class PolicyServer:
    built: BuiltServer
    runtime: PolicyRuntime
    clock: Clock
    engine: sa.Engine
    db: Database
    pki: ClientPki
    officers: Path
    config_path: Path

    def client_files(self, name: str) -> tuple[Path, Path]:
        if name in OFFICERS:
            return self.officers / f"{name}.pem", self.officers / f"{name}.key"
        return self.pki.client(name)


@pytest.fixture
def policy_server(
    migrated_db: Database,
    migrated: sa.Engine,
    policy_ca: CaSetup,
    test_pki: ClientPki,
    officer_files: Path,
    tmp_path: Path,
) -> Iterator[PolicyServer]:
    path = write_policy_config(tmp_path, test_pki, policy_ca, migrated_db)
    config = load_config(path)
    clock = Clock()
    runtime = PolicyRuntime(config, engine=migrated, clock=clock)
    built = build_server(config, [policy_service_binding(runtime.get)])
    built.start()
    yield PolicyServer(built, runtime, clock, migrated, migrated_db, test_pki, officer_files, path)
    built.stop(None)


StubFor = Callable[[str], policy_pb2_grpc.PolicyServiceStub]


@pytest.fixture
def stub_for(policy_server: PolicyServer) -> Iterator[StubFor]:
    """``stub_for("officer-a")`` -> a PolicyService stub over mTLS with that certificate."""
    channels: list[grpc.Channel] = []

    def make(name: str) -> policy_pb2_grpc.PolicyServiceStub:
        cert, key = policy_server.client_files(name)
        creds = grpc.ssl_channel_credentials(
            root_certificates=policy_server.pki.server_ca_pem,
            private_key=key.read_bytes(),
            certificate_chain=cert.read_bytes(),
        )
        channel = grpc.secure_channel(
            f"127.0.0.1:{policy_server.built.port}",
            creds,
            options=[("grpc.use_local_subchannel_pool", 1)],
        )
        channels.append(channel)
        return policy_pb2_grpc.PolicyServiceStub(channel)  # type: ignore[no-untyped-call]

    yield make
    for channel in channels:
        channel.close()
