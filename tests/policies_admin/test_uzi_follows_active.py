"""The UZI verifier follows the active policy version per request (issue 7), over gRPC.

Issue 7: "Issuance always uses the active version at the moment of the
request ... a version change never breaks a request in flight." Officers
activate versions over PolicyService (two-person rule); the portal calls
UziService on a verifier built by the composition root's own
:func:`~issuer.wiring.build_uzi_verifier` (rules from the signed
``policy_versions`` row, verified with the audit public key) on the same
database. No restart between the steps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp

from issuer.api.zorgid.v1 import uzi_pb2, uzi_pb2_grpc
from issuer.config import load_config
from issuer.policy_store import ActivePolicy
from issuer.server.app import build_server
from issuer.server.binding import uzi_service_binding
from issuer.store.schema import policy_versions
from issuer.uzi import errors
from issuer.uzi.crl import CrlCache
from issuer.uzi.policy import UziPolicySource, policy_source
from issuer.uzi.validate import ChainValidator, ValidatedChain
from issuer.uzi.verify import UziVerifier
from issuer.uzi_vocabulary import CardType
from issuer.wiring import build_uzi_verifier
from testkit.crl_server import crl_server
from testkit.desktop_app import DesktopApp
from testkit.uzi_world import UziWorld
from tests.policies_admin.conftest import PolicyServer, StubFor, variant
from tests.policies_admin.test_grpc import A, B, active, approve, propose
from tests.server.conftest import ClientPki
from tests.server.test_mtls_roles import error_info
from tests.softhsm import SoftHsmDir
from tests.uzi.conftest import Clock

PKCS1 = uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256
REGISTRATION = uzi_pb2.UZI_PURPOSE_REGISTRATION


@dataclass(frozen=True)
class Card:
    app: DesktopApp
    trust_dir: Path


@pytest.fixture(scope="session")
def card(tmp_path_factory: pytest.TempPathFactory, softhsm_dir: SoftHsmDir) -> Iterator[Card]:
    """A Z card of the test UZI register on a token of its own (its CRLs served locally)."""
    root = tmp_path_factory.mktemp("uzi-follows-active")
    with crl_server() as server:
        world = UziWorld(now=Clock().now, base_url=server.base_url)
        token = softhsm_dir.init_token("uzi-pas-follows")
        app = DesktopApp.with_card_on_token(
            world, module_path=token.module, token_label=token.label, pin_file=str(token.pin_file)
        )
        server.publish(world)
        yield Card(app, world.write_trust_set(root / "trust"))


@dataclass
class HookedValidator(ChainValidator):
    """The real validator; runs ``during`` once inside the next validation (a request in flight)."""

    during: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(crls=CrlCache())

    def validate(self, *args: Any, **kwargs: Any) -> ValidatedChain:
        while self.during:
            self.during.pop()()
        return super().validate(*args, **kwargs)


@dataclass
class Portal:
    stub: uzi_pb2_grpc.UziServiceStub
    verifier: UziVerifier
    validator: HookedValidator
    clock: Clock


@pytest.fixture
def portal(policy_server: PolicyServer, test_pki: ClientPki) -> Iterator[Portal]:
    config = load_config(policy_server.config_path)
    clock = Clock()
    validator = HookedValidator()
    verifier = build_uzi_verifier(
        config,
        engine=policy_server.engine,
        # The server's own source, on the officers' clock (activate_at is wall time).
        policy=policy_source(config, policy_server.engine, clock=policy_server.clock),
        validator=validator,
        clock=clock,
    )
    built = build_server(config, [uzi_service_binding(verifier)])
    built.start()
    cert, key = test_pki.client("portal")
    creds = grpc.ssl_channel_credentials(
        root_certificates=test_pki.server_ca_pem,
        private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes(),
    )
    channel = grpc.secure_channel(
        f"127.0.0.1:{built.port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
    )
    stub = uzi_pb2_grpc.UziServiceStub(channel)  # type: ignore[no-untyped-call]
    yield Portal(stub, verifier, validator, clock)
    channel.close()
    built.stop(None)


def trusting(card: Card, *changes: tuple[str, str]) -> str:
    """The packaged policy trusting the test UZI register, with ``changes``."""
    return variant(('trust_set = "acc"', f'trust_set = "{card.trust_dir}"'), *changes)


NARROWER = (
    ('card_types = ["Z", "N"]', 'card_types = ["N"]'),
    ("uzi_challenge_seconds = 120", "uzi_challenge_seconds = 60"),
    ("uzi_session_seconds = 900", "uzi_session_seconds = 600"),
)


def activate(stub_for: StubFor, text: str) -> int:
    """Proposed by one officer, approved by a second: active at once (two-person rule)."""
    version = propose(stub_for, A, text).version
    approve(stub_for, B, version)
    assert active(stub_for).version == version
    return int(version)


def challenge(portal: Portal) -> uzi_pb2.CreateUziChallengeResponse:
    reply: uzi_pb2.CreateUziChallengeResponse = portal.stub.CreateUziChallenge(
        uzi_pb2.CreateUziChallengeRequest(), timeout=30
    )
    return reply


def prove(portal: Portal, card: Card) -> uzi_pb2.VerifyUziCardResponse:
    made = challenge(portal)
    reply: uzi_pb2.VerifyUziCardResponse = portal.stub.VerifyUziCard(
        uzi_pb2.VerifyUziCardRequest(
            challenge_id=made.challenge_id,
            certificate_chain=card.app.chain(),
            signature=card.app.sign(made.to_be_signed),
            signature_scheme=PKCS1,
            purpose=REGISTRATION,
        ),
        timeout=30,
    )
    return reply


def expires(stamp: Any, portal: Portal) -> timedelta:
    moment = stamp.ToDatetime().replace(tzinfo=portal.clock.now.tzinfo)
    return moment - portal.clock.now  # type: ignore[no-any-return]


def refused_card_type(portal: Portal, card: Card) -> None:
    with pytest.raises(grpc.RpcError) as info:
        prove(portal, card)
    assert error_info(info.value).reason == errors.CARD_TYPE_REFUSED, info.value.details()


def test_the_next_request_follows_a_new_version_without_a_restart(
    stub_for: StubFor, portal: Portal, card: Card
) -> None:
    assert active(stub_for).version == 1  # bootstrapped: the packaged policy (trust set acc)
    activate(stub_for, trusting(card))
    first = prove(portal, card)
    assert first.identity.card_type == uzi_pb2.UZI_CARD_TYPE_ZORGVERLENER
    assert expires(first.session_expires_at, portal) == timedelta(seconds=900)
    assert expires(challenge(portal).expires_at, portal) == timedelta(seconds=120)
    steady = portal.verifier.rules()
    assert portal.verifier.rules() is steady  # unchanged version: the same snapshot object

    activate(stub_for, trusting(card, *NARROWER))

    assert expires(challenge(portal).expires_at, portal) == timedelta(seconds=60)
    refused_card_type(portal, card)
    assert portal.verifier.policy.accepted_card_types == frozenset({CardType.MEDEWERKER_OP_NAAM})
    assert portal.verifier.trust is steady.trust  # trust set loaded once per name


def test_a_request_in_flight_keeps_its_snapshot(
    stub_for: StubFor, portal: Portal, card: Card
) -> None:
    activate(stub_for, trusting(card))
    narrowed: list[int] = []
    # Officers activate the narrower version while the proof's chain is being validated.
    portal.validator.during.append(
        lambda: narrowed.append(activate(stub_for, trusting(card, *NARROWER)))
    )
    in_flight = prove(portal, card)
    assert narrowed, "the activation ran inside the request"
    # The whole request ran under the version it started with: Z accepted, 900 s session.
    assert in_flight.identity.card_type == uzi_pb2.UZI_CARD_TYPE_ZORGVERLENER
    assert expires(in_flight.session_expires_at, portal) == timedelta(seconds=900)
    # The next request follows the version activated meanwhile.
    refused_card_type(portal, card)


def test_before_any_version_the_configured_policy_applies(portal: Portal) -> None:
    """No row yet (the issuance runtime bootstraps one): the packaged document's rules."""
    assert portal.verifier.policy.trust_set == "acc"
    assert portal.verifier.policy.challenge_lifetime == timedelta(seconds=120)


def test_a_tampered_active_row_is_refused_not_followed(
    stub_for: StubFor, policy_server: PolicyServer, portal: Portal, card: Card
) -> None:
    """The verifier reads only rows the audit key signed: an edited row is ZID-1508."""
    version = activate(stub_for, trusting(card))
    where = policy_versions.c.version == version
    with policy_server.engine.begin() as conn:
        document = json.loads(
            conn.execute(sa.select(policy_versions.c.document).where(where)).scalar_one()
        )
        document["uzi"]["roles"] = ["01.*"]
        conn.execute(
            policy_versions.update()
            .where(where)
            .values(document=json.dumps(document, sort_keys=True, separators=(",", ":")))
        )
    with pytest.raises(grpc.RpcError) as info:
        challenge(portal)
    assert info.value.code() == grpc.StatusCode.DATA_LOSS
    assert error_info(info.value).reason == "ZID-1508", info.value.details()
    assert f"policy version {version}" in str(info.value.details())


def test_a_scheduled_version_applies_when_due_without_the_engine_settling_it(
    stub_for: StubFor, policy_server: PolicyServer, portal: Portal, card: Card
) -> None:
    """Due at its ``activate_at``: in force for the next proof, before any engine read."""
    activate(stub_for, trusting(card))
    assert prove(portal, card).identity.card_type == uzi_pb2.UZI_CARD_TYPE_ZORGVERLENER
    when = Timestamp()
    when.FromDatetime(policy_server.clock.now + timedelta(days=1))
    scheduled = propose(stub_for, A, trusting(card, *NARROWER), activate_at=when).version
    approve(stub_for, B, scheduled)
    assert prove(portal, card).identity.card_type == uzi_pb2.UZI_CARD_TYPE_ZORGVERLENER
    policy_server.clock.advance(timedelta(days=1, seconds=1))
    # No PolicyService or issuance read in between: the row is still 'approved'.
    with policy_server.engine.connect() as conn:
        state = conn.execute(
            sa.select(policy_versions.c.state).where(policy_versions.c.version == scheduled)
        ).scalar_one()
    assert state == "approved"
    refused_card_type(portal, card)
    assert expires(challenge(portal).expires_at, portal) == timedelta(seconds=60)


def test_a_missing_audit_public_key_is_named_not_called_tampering(
    stub_for: StubFor, policy_server: PolicyServer, card: Card, tmp_path: Path
) -> None:
    """Without the ceremony's audit public key no stored version can be checked.

    That is an operator's missing file (ZID-1510, FAILED_PRECONDITION), not
    evidence of an edited row (ZID-1508): the message names the file to restore.
    """
    from issuer.errors import ZorgIdError

    activate(stub_for, trusting(card))
    missing = tmp_path / "audit-checkpoint.pub.pem"
    source = UziPolicySource(
        ActivePolicy(
            policy_server.engine,
            verifier=missing,
            fallback=lambda: pytest.fail("a version exists: no fallback"),
            clock=policy_server.clock,
        )
    )
    with pytest.raises(ZorgIdError) as info:
        source()
    assert info.value.code == "ZID-1510"
    assert str(missing) in str(info.value)
