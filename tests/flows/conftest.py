"""The portal flows end to end: a real engine over gRPC with mTLS, on SQLite and PostgreSQL.

Per test: one server built from the composition root's own pieces (UziService
with the evidence-keeping verifier, Enrollment/Certificate services, the four
flow services) on a freshly emptied migrated database, with ONE injected clock
shared by the UZI verifier, the issuance cycle and the flows -- tests move it
to cross the 5-minute login QR, the 10-day registration QR and the UZI
challenge instead of sleeping.

Session-wide: the key ceremony's CA on its own SoftHSM token, a test UZI
register (cards valid around the real now, CRLs served over HTTP), UZI-pas
keys on their own token (one desktop app per card) and phones on theirs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from hsm import Hsm, KeySpec
from issuer.api.zorgid.v1 import (
    attribute_pb2_grpc,
    certificate_pb2_grpc,
    enrollment_pb2,
    enrollment_pb2_grpc,
    login_pb2,
    login_pb2_grpc,
    organization_pb2,
    organization_pb2_grpc,
    registration_pb2,
    registration_pb2_grpc,
    uzi_pb2,
    uzi_pb2_grpc,
)
from issuer.config import load_config
from issuer.enrolment.tokens import parse_enrolment_uri
from issuer.flows.login import login_message
from issuer.qr import parse_login_uri
from issuer.server.app import BuiltServer, build_server
from issuer.server.binding import (
    errors_service_binding,
    flow_service_bindings,
    issuance_service_bindings,
    uzi_service_binding,
)
from issuer.uzi.crl import CrlCache
from issuer.uzi.policy import uzi_policy_from
from issuer.uzi.validate import ChainValidator, RevocationMode
from issuer.wiring import build_evidence_verifier, flow_deps, issuance_runtime
from policies import default_policy
from testkit.crl_server import CrlServer, crl_server
from testkit.desktop_app import DesktopApp
from testkit.phone import Phone
from testkit.uzi_world import UziWorld
from tests.issuance.conftest import CaSetup, make_ca
from tests.server.conftest import ClientPki, role_rules, test_pki
from tests.server.pki import ROLE_URI, issue
from tests.softhsm import SoftHsmDir
from tests.store.dbfixtures import Database, database, engine, migrated, migrated_db

__all__ = ["database", "engine", "migrated", "migrated_db", "test_pki"]

URA = "90000382"
OTHER_URA = "90000999"
SECOND_PORTAL = "portal-2"
START = datetime.now(UTC).replace(microsecond=0)
"""The tests' "now": the UZI world and the CA are valid around the real time."""


@dataclass
class Clock:
    """The one injected clock (tests move it, never sleep)."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Cards:
    """The test UZI register and a desktop app per card, keys on their own token."""

    world: UziWorld
    trust_dir: Path
    hsm: Hsm
    numbers: Iterator[int] = field(default_factory=itertools.count)
    server: CrlServer | None = None
    """Where the register's CRLs are served (the UZI-pas watch's tests change them)."""

    def app(
        self,
        *,
        ura: str = URA,
        uzi_number: str | None = None,
        card_type: str = "Z",
        role: str | None = None,
        not_after: datetime | None = None,
    ) -> DesktopApp:
        """A card (``not_after``: its certificates' notAfter, else three years on)."""
        key = self.hsm.generate_key(f"card-{next(self.numbers)}", KeySpec.RSA_2048)
        card = self.world.issue_card(
            card_type, uzi_number=uzi_number, ura=ura, role=role, auth_key=key, not_after=not_after
        )
        return DesktopApp(card=card, key=key)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def cards(tmp_path_factory: pytest.TempPathFactory, softhsm_dir: SoftHsmDir) -> Iterator[Cards]:
    root = tmp_path_factory.mktemp("flows-uzi")
    with crl_server() as server:
        world = UziWorld(now=START, base_url=server.base_url)
        server.publish(world)
        token = softhsm_dir.init_token("flows-uzi-cards")
        yield Cards(
            world, world.write_trust_set(root / "trust"), Hsm.open(token.uri), server=server
        )


@pytest.fixture(scope="session")
def flows_ca(softhsm_dir: SoftHsmDir, tmp_path_factory: pytest.TempPathFactory) -> CaSetup:
    return make_ca(softhsm_dir, tmp_path_factory.mktemp("flows-ca"), "flows-ca")


@pytest.fixture(scope="session")
def phones(softhsm_dir: SoftHsmDir) -> Callable[[], Phone]:
    hsm = Hsm.open(softhsm_dir.init_token("flows-phones").uri)
    numbers = itertools.count()
    return lambda: Phone.create(hsm, f"phone-{next(numbers)}", "ec-p256")


@pytest.fixture(scope="session")
def second_portal(test_pki: ClientPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("flows-clients")
    issue(
        test_pki.client_ca, "second-portal-client", ou="Koppelingen", uris=(ROLE_URI + "portal",)
    ).write(folder, SECOND_PORTAL)
    return folder


def sign_as_phone(phone: Phone, message: bytes) -> bytes:
    """What the phone app does: ECDSA with SHA-256 with its key-store key."""
    key = phone.key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def current_certificate(eng: Engine, phone: Phone) -> Any:
    """The phone fetches its key's current certificate, with its key's proof."""
    from issuer.api.zorgid.v1 import attribute_pb2
    from issuer.flows.login import current_certificate_message

    at = eng.clock()
    request = attribute_pb2.GetCurrentCertificateRequest(
        spki_sha256=phone.spki_sha256,
        signature=sign_as_phone(phone, current_certificate_message(phone.spki_sha256, at)),
    )
    request.signed_at.FromDatetime(at)
    return eng.mobile.attrs.GetCurrentCertificate(request, timeout=30)


def localized(err: grpc.RpcError) -> dict[str, str]:
    """The LocalizedMessage texts of a refusal, by locale."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(err)  # type: ignore[arg-type]
    assert status is not None
    found = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.LocalizedMessage.DESCRIPTOR):
            msg = error_details_pb2.LocalizedMessage()
            detail.Unpack(msg)
            found[msg.locale] = msg.message
    return found


def rpc_code(err: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """(status, catalogue code) of a refused call."""
    from tests.server.test_mtls_roles import error_info

    return err.code(), error_info(err).reason


class Stubs:
    """One client identity's stubs of every service the flows use."""

    def __init__(self, ch: grpc.Channel) -> None:
        self.uzi: Any = uzi_pb2_grpc.UziServiceStub(ch)  # type: ignore[no-untyped-call]
        self.reg: Any = registration_pb2_grpc.RegistrationServiceStub(ch)  # type: ignore[no-untyped-call]
        self.login: Any = login_pb2_grpc.LoginServiceStub(ch)  # type: ignore[no-untyped-call]
        self.org: Any = organization_pb2_grpc.OrganizationServiceStub(ch)  # type: ignore[no-untyped-call]
        self.attrs: Any = attribute_pb2_grpc.AttributeServiceStub(ch)  # type: ignore[no-untyped-call]
        self.enrol: Any = enrollment_pb2_grpc.EnrollmentServiceStub(ch)  # type: ignore[no-untyped-call]
        self.certs: Any = certificate_pb2_grpc.CertificateServiceStub(ch)  # type: ignore[no-untyped-call]


class Engine:
    """One test's running engine and a client per role; helpers walk the manual's steps."""

    def __init__(
        self,
        built: BuiltServer,
        clock: Clock,
        pki: ClientPki,
        engine: sa.Engine,
        cards: Cards,
        phones: Callable[[], Phone],
        second_portal: Path,
    ) -> None:
        self.built = built
        self.runtime: Any = None
        """The engine's issuance runtime (set by :func:`running_engine`)."""
        self.config: Any = None
        self.clock = clock
        self.pki = pki
        self.db = engine
        self.cards = cards
        self.new_phone = phones
        self._second = second_portal
        self._channels: list[grpc.Channel] = []
        self.portal = self.stubs("portal")
        self.mobile = self.stubs("mobile")
        self.operator = self.stubs("operator")

    def channel(self, name: str) -> grpc.Channel:
        if name == SECOND_PORTAL:
            cert, key = self._second / f"{name}.pem", self._second / f"{name}.key"
        else:
            cert, key = self.pki.client(name)
        creds = grpc.ssl_channel_credentials(
            root_certificates=self.pki.server_ca_pem,
            private_key=key.read_bytes(),
            certificate_chain=cert.read_bytes(),
        )
        made = grpc.secure_channel(
            f"127.0.0.1:{self.built.port}", creds, options=[("grpc.use_local_subchannel_pool", 1)]
        )
        self._channels.append(made)
        return made

    def stubs(self, name: str = "portal") -> Stubs:
        ch = self.channel(name)

        return Stubs(ch)

    def close(self) -> None:
        for ch in self._channels:
            ch.close()

    # -- the manual's steps -------------------------------------------------------------

    def uzi_session(self, app: DesktopApp, purpose: Any, portal: Any = None) -> str:
        """Flow 1: the desktop app signs the engine's challenge with the card."""
        stub = (portal or self.portal).uzi
        challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
        proof = stub.VerifyUziCard(
            uzi_pb2.VerifyUziCardRequest(
                challenge_id=challenge.challenge_id,
                certificate_chain=app.chain(),
                signature=app.sign(challenge.to_be_signed),
                signature_scheme=uzi_pb2.UZI_SIGNATURE_SCHEME_RSA_PKCS1V15_SHA256,
                purpose=purpose,
            ),
            timeout=30,
        )
        return str(proof.session_handle)

    def register_org(
        self,
        ura: str = URA,
        name: str = "Huisartsenpraktijk De Eik",
        admins: tuple[str, ...] = (),
    ) -> Any:
        """The operator pre-registers an organisation, designating *admins* (UZI numbers)."""
        return self.operator.org.RegisterOrganization(
            organization_pb2.RegisterOrganizationRequest(
                ura=ura, name=name, administrator_uzi_numbers=list(admins)
            ),
            timeout=30,
        )

    def approve(self, ura: str, uzi_number: str, login_session_handle: str = "") -> Any:
        """ApproveAdministrator: by the operator, or by a logged-in administrator's portal."""
        stubs = self.portal if login_session_handle else self.operator
        return stubs.org.ApproveAdministrator(
            organization_pb2.ApproveAdministratorRequest(
                ura=ura, uzi_number=uzi_number, login_session_handle=login_session_handle
            ),
            timeout=30,
        )

    def administrator(self, ura: str = URA) -> tuple[str, DesktopApp]:
        """A card holder of *ura* who validated and whom the operator approved, logged in.

        Returns their login session handle and their desktop app (card).
        """
        app = self.cards.app(ura=ura)
        phone, der, _ = self.registered(app)
        self.validate(app, ura=ura)
        self.approve(ura, app.card.uzi_number)
        return str(self.login(phone, der).session_handle), app

    def start(self, app: DesktopApp, portal: Any = None) -> Any:
        portal = portal or self.portal
        terms = portal.reg.GetTerms(registration_pb2.GetTermsRequest(), timeout=30)
        handle = self.uzi_session(app, uzi_pb2.UZI_PURPOSE_REGISTRATION, portal)
        return portal.reg.StartRegistration(
            registration_pb2.StartRegistrationRequest(
                terms_version=terms.version, uzi_session_handle=handle
            ),
            timeout=30,
        ).registration

    def confirmed(self, app: DesktopApp, birth: str = "15-03-1980") -> Any:
        """Flow 2 up to the registration QR."""
        started = self.start(app)
        shown = self.portal.reg.SetBirthDate(
            registration_pb2.SetBirthDateRequest(registration_id=started.id, birth_date=birth),
            timeout=30,
        ).registration
        return self.portal.reg.ConfirmRegistration(
            registration_pb2.ConfirmRegistrationRequest(
                registration_id=started.id, summary_digest=shown.summary_digest
            ),
            timeout=30,
        )

    def redeem(self, payload: str, phone: Phone) -> Any:
        """The phone scans the registration QR; its gateway redeems it with a CSR."""
        token, _host = parse_enrolment_uri(payload)
        return self.mobile.enrol.RedeemEnrollment(
            enrollment_pb2.RedeemEnrollmentRequest(token=token, csr=phone.csr()), timeout=60
        )

    def registered(self, app: DesktopApp, birth: str = "15-03-1980") -> tuple[Phone, bytes, Any]:
        """A person with an installed mobile ID: (phone, certificate DER, confirmation)."""
        done = self.confirmed(app, birth)
        phone = self.new_phone()
        redeemed = self.redeem(done.qr.payload, phone)
        return phone, bytes(redeemed.certificate.der), done

    def answer(
        self, qr_payload: str, phone: Phone, cert_der: bytes, *, at: datetime | None = None
    ) -> Any:
        """The phone scans a login QR, shows the portal and signs after the user accepts."""
        qr = parse_login_uri(qr_payload)
        asked = self.mobile.login.DescribeLoginChallenge(
            login_pb2.DescribeLoginChallengeRequest(challenge_id=qr.challenge_id), timeout=30
        )
        signed_at = at or self.clock()
        message = login_message(qr.challenge_id, qr.nonce, asked.portal_identity, signed_at)
        signature = sign_as_phone(phone, message)
        request = login_pb2.AnswerLoginChallengeRequest(
            challenge_id=qr.challenge_id, certificate=cert_der, signature=signature
        )
        request.signed_at.FromDatetime(signed_at)
        return self.mobile.login.AnswerLoginChallenge(request, timeout=30)

    def login(self, phone: Phone, cert_der: bytes, portal: Any = None) -> Any:
        """Flow 3: a login QR answered by the phone, polled by the portal."""
        portal = portal or self.portal
        made = portal.login.CreateLoginChallenge(
            login_pb2.CreateLoginChallengeRequest(), timeout=30
        )
        self.answer(made.qr.payload, phone, cert_der)
        return portal.login.GetLoginChallenge(
            login_pb2.GetLoginChallengeRequest(challenge_id=made.challenge_id), timeout=30
        )

    def validate(self, app: DesktopApp, ura: str = URA) -> Any:
        """Flow 4: terms, UZI-pas, name and URA shown, confirm."""
        terms = self.portal.reg.GetTerms(registration_pb2.GetTermsRequest(), timeout=30)
        handle = self.uzi_session(app, uzi_pb2.UZI_PURPOSE_ORGANISATION_VALIDATION)
        started = self.portal.org.StartValidation(
            organization_pb2.StartValidationRequest(
                terms_version=terms.version, uzi_session_handle=handle, ura=ura
            ),
            timeout=30,
        )
        return self.portal.org.ConfirmValidation(
            organization_pb2.ConfirmValidationRequest(validation_id=started.validation_id),
            timeout=30,
        )


@dataclass(frozen=True, kw_only=True)
class EngineParts:
    """The session-wide pieces one test's engine is started from."""

    migrated_db: Database
    migrated: sa.Engine
    flows_ca: CaSetup
    cards: Cards
    phones: Callable[[], Phone]
    test_pki: ClientPki
    second_portal: Path


@pytest.fixture
def engine_parts(
    migrated_db: Database,
    migrated: sa.Engine,
    flows_ca: CaSetup,
    cards: Cards,
    phones: Callable[[], Phone],
    test_pki: ClientPki,
    second_portal: Path,
) -> EngineParts:
    return EngineParts(
        migrated_db=migrated_db,
        migrated=migrated,
        flows_ca=flows_ca,
        cards=cards,
        phones=phones,
        test_pki=test_pki,
        second_portal=second_portal,
    )


@pytest.fixture
def eng(engine_parts: EngineParts, tmp_path: Path) -> Iterator[Engine]:
    with running_engine(engine_parts, tmp_path) as made:
        yield made


@contextlib.contextmanager
def running_engine(
    parts: EngineParts, tmp_path: Path, *, policy_file: Path | None = None
) -> Iterator[Engine]:
    """Start one engine; *policy_file* becomes ``[policy] file`` (the packaged one if None)."""
    migrated_db, migrated, flows_ca = parts.migrated_db, parts.migrated, parts.flows_ca
    cards, phones, test_pki, second_portal = (
        parts.cards,
        parts.phones,
        parts.test_pki,
        parts.second_portal,
    )
    token = flows_ca.token
    policy_section = f'\n[policy]\nfile = "{policy_file}"\n' if policy_file else ""
    text = (
        f'data_dir = "{flows_ca.data_dir}"\n\n'
        '[server]\nlisten = "127.0.0.1:0"\nworkers = 8\n\n'
        f'[tls]\ncert = "{test_pki.root / "server.pem"}"\nkey = "{test_pki.root / "server.key"}"\n'
        f'client_ca = "{test_pki.root / "client-ca.pem"}"\n\n'
        f'[hsm]\ntoken = "{token.label}"\npin_source = "file:{token.pin_file}"\n\n'
        f'[database]\nurl = "{migrated_db.cli_url}"\n'
        f"{policy_section}"
        f"{role_rules()}"
    )
    path = tmp_path / "zorgid.toml"
    path.write_text(text)
    config = load_config(path)
    clock = Clock()
    runtime = issuance_runtime(config, engine=migrated, clock=clock)
    verifier = build_evidence_verifier(
        config,
        engine=migrated,
        # The packaged policy's UZI rules and lifetimes (challenge 120 s, session 900 s),
        # with the test register as trust set and revocation checked hard against its CRLs.
        policy=dataclasses.replace(
            uzi_policy_from(default_policy()),
            trust_set=str(cards.trust_dir),
            revocation=RevocationMode.HARD,
        ),
        validator=ChainValidator(crls=CrlCache()),
        clock=clock,
    )
    services = [
        errors_service_binding(),
        uzi_service_binding(verifier),
        *issuance_service_bindings(runtime),
        *flow_service_bindings(
            flow_deps(
                config, runtime=runtime, verifier=verifier, clock=clock, host="zorgid.test:443"
            )
        ),
    ]
    built = build_server(config, services)
    built.start()
    made = Engine(built, clock, test_pki, migrated, cards, phones, second_portal)
    made.runtime, made.config = runtime, config
    try:
        yield made
    finally:
        made.close()
        built.stop(None)
