"""The UZI-pas step of the load: a test UZI-register on loopback and card proofs against it.

A registration starts with a card proof (``CreateUziChallenge``, the card signs,
``VerifyUziCard`` for a registration), and the engine in ``hard`` revocation mode
accepts it only with a current CRL of the card's issuing CA and of the CAs above
it, fetched from the register in the background (``issuer/uzi/crl.py``). For the
CRL faults (``bench/faults.py``) the load gets that fifth kind of request
(:class:`bench.load.Load` with ``cards``); the other faults keep their mix, so their
figures stay comparable.

:class:`Register` is the register: a :class:`testkit.uzi_world.UziWorld`, its trust
set, a policy naming it, and a :class:`testkit.crl_server.CrlServer` serving its
CRLs. The CRLs are re-signed every second with a life of :data:`CRL_LIFE_SECONDS`,
so the engine fetches them again every few seconds: a register that is down or slow
for a few seconds then costs the engine its current CRL, as a day's outage would
with the register's real, daily CRLs -- the case the faults are about.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import grpc

from bench.load import DEADLINE, error_code
from testkit.crl_server import CrlServer
from testkit.desktop_app import DesktopApp
from testkit.uzi_world import UziWorld

CRL_LIFE_SECONDS = 5
"""thisUpdate to nextUpdate of each published CRL: the engine renews it a quarter of its
life before nextUpdate (1.25 s), and holds none for longer than 3 s past a fetch."""
CRL_AHEAD_SECONDS = 3
"""nextUpdate this long after the whole second a CRL is signed in."""
SLOW_SECONDS = 20.0
"""The slow register's pace, a byte every 20 s: beyond the engine's 15 s fetch deadline."""


class Register:
    """A test UZI-register whose CRLs a server on 127.0.0.1 serves, re-signed every second.

    ``down`` stops the server (connections refused), ``slow`` makes it a tarpit;
    ``restore`` brings it back, answering at once, on the same port: a new server,
    so the tarpit's open connections are cut as a restarted register's would be.
    """

    def __init__(self, root: Path) -> None:
        self._server = CrlServer()
        self._server.start()
        self.port = int(self._server.base_url.rsplit(":", 1)[1].strip("/"))
        self.world = UziWorld(now=datetime.now(UTC), base_url=self._server.base_url)
        self.trust = self.world.write_trust_set(root / "uzi-trust")
        self.policy = root / "policy-uzi.toml"
        self.policy.write_text(_policy_text(self.trust))
        self.policy.chmod(0o600)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._publish()
        self._publisher = threading.Thread(target=self._republish, daemon=True)
        self._publisher.start()

    @property
    def server(self) -> CrlServer:
        with self._lock:
            return self._server

    @property
    def hits(self) -> int:
        return self.server.hits

    def _publish(self) -> None:
        second = datetime.fromtimestamp(math.floor(time.time()), UTC)
        this = second + timedelta(seconds=CRL_AHEAD_SECONDS - CRL_LIFE_SECONDS)
        nxt = second + timedelta(seconds=CRL_AHEAD_SECONDS)
        files = {
            ca.crl_path: self.world.crl(ca, this_update=this, next_update=nxt)
            for ca in self.world.all_cas()
        }
        self.server.files.update(files)

    def _republish(self) -> None:
        last = math.floor(time.time())
        while not self._stop.wait(0.1):
            now = math.floor(time.time())
            if now != last:
                last = now
                self._publish()

    def down(self) -> None:
        """The server stops listening: a fetch meets a refused connection."""
        self.server.stop()

    def slow(self, seconds: float = SLOW_SECONDS) -> None:
        """Every answer trickles, a byte every *seconds*: a fetch runs into its deadline."""
        self.server.trickle_seconds = seconds

    def restore(self) -> None:
        """A server answering at once again on the same port (the old one stopped first)."""
        old = self.server
        old.stop()  # idempotent for a server already down: cuts a tarpit's connections
        new = CrlServer(port=self.port)
        new.files.update(old.files)
        new.hits = old.hits
        with self._lock:
            self._server = new
        new.start()
        self._publish()

    def close(self) -> None:
        self._stop.set()
        self._publisher.join()
        self.server.stop()

    def cards(self, token_uri: str, count: int = 2) -> CardProofs:
        """*count* UZI-passen (Z cards) with their keys on the SoftHSM token *token_uri*."""
        from hsm import Hsm, KeySpec

        hsm = Hsm.open(token_uri)
        apps = []
        for n in range(count):
            key = hsm.generate_key(f"uzi-card-{n}", KeySpec.RSA_2048)
            card = self.world.issue_card("Z", auth_key=key)
            apps.append(DesktopApp(card=card, key=key))  # type: ignore[arg-type]
        return CardProofs(apps)


def _policy_text(trust: Path) -> str:
    """The packaged development policy with the register's trust set, revocation ``hard``."""
    text = resources.files("policies").joinpath("default.toml").read_text(encoding="utf-8")
    for old, new in (
        ('trust_set = "acc"', f'trust_set = "{trust}"'),
        ('revocation_mode = "soft"', 'revocation_mode = "hard"'),
        ('version = "dev-1"', 'version = "dev-1-uzi-load"'),
    ):
        if old not in text:
            raise RuntimeError(f"policies/default.toml has no {old!r}; update bench/uzi_load.py")
        text = text.replace(old, new, 1)
    return text


class CardProofs:
    """A card proof for a registration, as the portal and the desktop app make it together:
    a challenge, the card's signature over it, the verification. Cards taken in turn."""

    def __init__(self, apps: list[DesktopApp]) -> None:
        self.apps = apps
        self._turn = itertools.cycle(range(len(apps)))
        self._lock = threading.Lock()

    def __call__(self, stub: Any) -> str:
        """One proof through the portal's ``UziService`` *stub*: ``OK`` or the error's code."""
        from issuer.api.zorgid.v1 import uzi_pb2

        with self._lock:
            app = self.apps[next(self._turn)]
        try:
            challenge = stub.CreateUziChallenge(
                uzi_pb2.CreateUziChallengeRequest(), timeout=DEADLINE
            )
            stub.VerifyUziCard(
                uzi_pb2.VerifyUziCardRequest(
                    challenge_id=challenge.challenge_id,
                    certificate_chain=app.chain(),
                    signature=app.sign(challenge.to_be_signed),
                    signature_scheme=uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256,
                    purpose=uzi_pb2.UZI_PURPOSE_REGISTRATION,
                ),
                timeout=DEADLINE,
            )
        except grpc.RpcError as err:
            return error_code(err)
        return "OK"
