"""Issue 16 item 2 over real mTLS gRPC: a forged card fetches nothing, a tarpit holds no worker.

The attacks as they came: a self-made card certificate that copies only a
trusted UZI CA's name and key identifier, signed by the attacker, whose CRL
distribution point names the attacker's server (blind SSRF before any
signature was checked); and CRL servers that send one byte every few seconds
while verifications wait for them (every worker of the server held).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from grpc_health.v1 import health_pb2, health_pb2_grpc

from issuer.api.zorgid.v1 import uzi_pb2, uzi_pb2_grpc
from issuer.config import load_config
from issuer.server.app import build_server
from issuer.server.binding import uzi_service_binding
from issuer.uzi import errors
from issuer.uzi.crl import CrlCache, CrlRefresher, FetchLimits
from issuer.uzi.validate import ChainValidator, RevocationMode
from issuer.uzi.verify import UziPolicy
from issuer.wiring import build_uzi_verifier
from testkit.crl_server import CrlServer, crl_server
from testkit.forgery import forge_card
from testkit.uzi_world import UziWorld
from tests.server.conftest import ClientPki, write_config
from tests.uzi.conftest import NOW, Clock, World
from tests.uzi_grpc.conftest import StubFor, UziServer
from tests.uzi_grpc.test_uzi_service import PKCS1, REGISTRATION, _assert_refused, _refusal, _verify

TARPIT_SECONDS = 3.0
"""The tarpit's pace: one byte every 3 s (the report saw 3.5 s)."""
IN_FLIGHT = 10


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def test_forged_card_is_refused_and_the_attacker_gets_no_request(
    uzi: World, uzi_server: UziServer, stub_for: StubFor
) -> None:
    attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    genuine = uzi.world.issue_card("Z")
    with crl_server() as attacker:
        stolen = attacker.base_url + "internal-admin/crl"
        forged = forge_card(
            genuine.auth, trusted_ca=uzi.world.cas["Z"].cert, key=attacker_key, crl_url=stolen
        )
        stub = stub_for("portal")
        challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
        chain = [forged.public_bytes(Encoding.DER)] + [
            c.public_bytes(Encoding.DER) for c in genuine.chain
        ]
        with pytest.raises(grpc.RpcError) as info:
            _verify(
                stub, challenge.challenge_id, chain, _sign(attacker_key, challenge.to_be_signed)
            )
        assert attacker.requests == []
        _assert_refused(info, errors.INVALID_CHAIN)
        # Nor was it handed to the background refresher for later.
        assert stolen not in uzi_server.verifier.validator.crls.wanted()
        uzi_server.verifier.refresher.refresh_now(timeout=30)
        assert attacker.requests == []


@pytest.fixture
def tarpit_world(tmp_path: Path) -> Iterator[tuple[UziWorld, Path, CrlServer]]:
    with crl_server(trickle_seconds=TARPIT_SECONDS) as tarpit:
        world = UziWorld(now=NOW, base_url=tarpit.base_url)
        yield world, world.write_trust_set(tmp_path / "trust"), tarpit


def test_ten_tarpit_verifications_leave_other_calls_fast(
    tarpit_world: tuple[UziWorld, Path, CrlServer], tmp_path: Path, test_pki: ClientPki
) -> None:
    world, trust_dir, tarpit = tarpit_world
    path = write_config(tmp_path / "engine", test_pki)
    path.write_text(path.read_text().replace("workers = 4", f"workers = {IN_FLIGHT}"))
    config = load_config(path)
    cache = CrlCache()
    verifier = build_uzi_verifier(
        config,
        policy=UziPolicy(trust_set=str(trust_dir), revocation=RevocationMode.HARD),
        validator=ChainValidator(crls=cache),
        refresher=CrlRefresher(cache, clock=Clock(), limits=FetchLimits(deadline_seconds=2.0)),
        clock=Clock(),
    )
    cards = [world.issue_card("Z") for _ in range(IN_FLIGHT)]
    built = build_server(config, [uzi_service_binding(verifier)])
    built.start()
    cert, key = test_pki.client("portal")
    channel = grpc.secure_channel(
        f"127.0.0.1:{built.port}",
        grpc.ssl_channel_credentials(
            root_certificates=test_pki.server_ca_pem,
            private_key=key.read_bytes(),
            certificate_chain=cert.read_bytes(),
        ),
        options=[("grpc.use_local_subchannel_pool", 1)],
    )
    calls: list[grpc.Future] = []
    try:
        stub = uzi_pb2_grpc.UziServiceStub(channel)  # type: ignore[no-untyped-call]
        health = health_pb2_grpc.HealthStub(channel)
        health.Check(health_pb2.HealthCheckRequest(), timeout=30)  # the channel is up
        done = threading.Event()
        for card in cards:
            challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
            request = uzi_pb2.VerifyUziCardRequest(
                challenge_id=challenge.challenge_id,
                certificate_chain=card.chain_der(),
                signature=_sign(card.auth_key, challenge.to_be_signed),  # type: ignore[arg-type]
                signature_scheme=PKCS1,
                purpose=REGISTRATION,
            )
            call = stub.VerifyUziCard.future(request, timeout=120)
            calls.append(call)

        def answered(_: object) -> None:
            with tarpit.changed:
                tarpit.changed.notify_all()
            if all(c.done() for c in calls):
                done.set()

        for call in calls:
            call.add_done_callback(answered)
        # The ten are either waiting at the tarpit (one connection each) or answered.
        assert tarpit.wait_for(
            lambda: len(tarpit.requests) >= IN_FLIGHT or all(c.done() for c in calls), 60
        )
        slowest = 0.0
        for _ in range(5):
            started = time.monotonic()
            reply = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
            slowest = max(slowest, time.monotonic() - started)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert slowest < 1.0, f"an unrelated call took {slowest:.2f} s"
        # The verifications were answered at once, not after the tarpit: retry later.
        assert done.wait(10)
        for call in calls:
            with pytest.raises(grpc.RpcError) as info:
                call.result()
            _, reason, _texts = _refusal(info.value)  # type: ignore[arg-type]
            assert reason in {errors.REVOCATION_PENDING, errors.REVOCATION_UNAVAILABLE}
            said = info.value.details() or ""
            port = tarpit.base_url.rsplit(":", 1)[1].strip("/")
            for leak in ("within", "127.0.0.1", port, "http://"):  # no fetch error text
                assert leak not in said, f"{leak!r} in {said!r}"
    finally:
        for call in calls:
            call.cancel()
        channel.close()
        built.stop(0)
