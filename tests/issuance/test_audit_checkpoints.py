"""``zorgid serve`` signs audit checkpoints on its timer and at shutdown (issue 16, item 10).

A real server process (the composition root's own wiring, mTLS, the HSM audit
key of the ceremony) on SQLite and PostgreSQL: events its calls append get a
checkpoint within ``[audit] checkpoint_interval_seconds``, and the events of
the last calls before SIGTERM get one at shutdown. Before, a dev run had 700
events and no checkpoint at all.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa

from issuer.api.zorgid.v1 import enrollment_pb2, enrollment_pb2_grpc
from issuer.audit import verify_chain
from issuer.store.schema import audit_checkpoints, audit_head
from testkit.phone import Phone
from tests.audit.helpers import remove_and_rechain
from tests.issuance.conftest import World
from tests.server.conftest import ClientPki, role_rules, test_pki

__all__ = ["test_pki"]

ZORGID = str(Path(sys.executable).parent / "zorgid")
WAIT_SECONDS = 60.0
"""Generous: the machine is shared; the intervals used are 1 s."""


def _config(world: World, pki: ClientPki, folder: Path, interval: float) -> Path:
    token = world.ca.token
    path = folder / "zorgid.toml"
    path.write_text(
        f'data_dir = "{world.ca.data_dir}"\n\n'
        '[server]\nlisten = "127.0.0.1:0"\nworkers = 4\nshutdown_grace_seconds = 5\n\n'
        f'[tls]\ncert = "{pki.root / "server.pem"}"\nkey = "{pki.root / "server.key"}"\n'
        f'client_ca = "{pki.root / "client-ca.pem"}"\n\n'
        f'[hsm]\ntoken = "{token.label}"\npin_source = "file:{token.pin_file}"\n\n'
        f'[database]\nurl = "{world.db.cli_url}"\n\n'
        f"[audit]\ncheckpoint_interval_seconds = {interval}\n"
        f"{role_rules()}"
    )
    return path


class Served:
    """One ``zorgid serve`` process and a mobile client of it."""

    def __init__(self, config: Path, pki: ClientPki) -> None:
        self.process = subprocess.Popen(
            [ZORGID, "serve", "--config", str(config)], stderr=subprocess.PIPE, text=True
        )
        assert self.process.stderr is not None
        port = None
        for line in self.process.stderr:  # ends if the process dies
            found = re.search(r"serving .* on 127\.0\.0\.1:(\d+) \(mTLS\)", line)
            if found:
                port = int(found.group(1))
                break
        assert port, f"zorgid serve did not report its port (exit {self.process.poll()})"
        cert, key = pki.client("mobile")
        creds = grpc.ssl_channel_credentials(pki.server_ca_pem, key.read_bytes(), cert.read_bytes())
        self.channel = grpc.secure_channel(f"127.0.0.1:{port}", creds)

    def redeem(self, token: str, csr: bytes) -> None:
        stub = enrollment_pb2_grpc.EnrollmentServiceStub(self.channel)  # type: ignore[no-untyped-call]
        stub.RedeemEnrollment(
            enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=csr), timeout=60
        )

    def stop(self) -> int:
        self.channel.close()
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def serve(world: World, test_pki: ClientPki, tmp_path: Path) -> Iterator[Callable[[float], Served]]:
    started: list[Served] = []

    def start(interval: float) -> Served:
        folder = tmp_path / f"server-{len(started)}"
        folder.mkdir()
        started.append(Served(_config(world, test_pki, folder, interval), test_pki))
        return started[-1]

    yield start
    for served in started:
        served.kill()


def _head(world: World) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(sa.select(audit_head.c.seq)).scalar_one())


def _checkpointed(world: World) -> set[int]:
    with world.engine.connect() as conn:
        return set(conn.execute(sa.select(audit_checkpoints.c.seq)).scalars())


def _await_checkpoint_at(world: World, seq: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while seq not in _checkpointed(world):
        assert time.monotonic() < deadline, f"no checkpoint at event {seq} within {WAIT_SECONDS} s"
        time.sleep(0.1)


def test_a_running_server_checkpoints_appended_events_within_the_interval(
    world: World, serve: Callable[[float], Served], new_phone: Callable[..., Phone]
) -> None:
    served = serve(1.0)
    served.redeem(world.enrol().token, new_phone().csr())
    head = _head(world)
    assert head not in _checkpointed(world)  # the size rule (every 50 here) did not sign it
    _await_checkpoint_at(world, head)
    served.redeem(world.enrol().token, new_phone().csr())
    _await_checkpoint_at(world, _head(world))
    assert served.stop() == 0
    assert verify_chain(world.engine, world.ca.material.audit_public_key).ok


def test_shutdown_checkpoints_the_last_events(
    world: World, serve: Callable[[float], Served], new_phone: Callable[..., Phone]
) -> None:
    served = serve(3600.0)  # the timer does not fire during the test: only the shutdown signs
    served.redeem(world.enrol().token, new_phone().csr())
    head = _head(world)
    assert head not in _checkpointed(world)
    assert served.stop() == 0
    assert head in _checkpointed(world)
    result = verify_chain(world.engine, world.ca.material.audit_public_key)
    assert result.ok and result.events_after_checkpoint == 0


def test_removing_an_event_before_the_servers_checkpoint_fails_verify(
    world: World, serve: Callable[[float], Served], new_phone: Callable[..., Phone]
) -> None:
    served = serve(3600.0)
    for _ in range(2):
        served.redeem(world.enrol().token, new_phone().csr())
    assert served.stop() == 0
    checkpoints = _checkpointed(world)
    assert _head(world) in checkpoints
    remove_and_rechain(world.engine, 2)  # the attack: remove event 2, recompute the chain
    result = verify_chain(world.engine, world.ca.material.audit_public_key)
    assert not result.ok
    # The first checkpoint at or after the removed event no longer matches (or is cut off).
    assert result.first_bad_seq == min(c for c in checkpoints if c >= 2)
