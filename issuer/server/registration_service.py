"""``zorgid.v1.RegistrationService`` (flow 2), plus the wiring shared by the four flow services.

Thin (STYLE.md): protobuf in, one :mod:`issuer.flows` call, protobuf out. The
portal a registration is bound to is ``current_caller().identity`` (the
SHA-256 of its verified TLS certificate), never anything the caller writes.

Wiring (:func:`flow_service_bindings`): the four services share the
process's :class:`~issuer.issuance.runtime.IssuanceRuntime` (HSM on first
use) and the one UZI verifier, which must be an
:class:`~issuer.flows.evidence.EvidenceKeepingVerifier` so registrations can
keep the UZI proof (:func:`build_evidence_verifier`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import grpc
import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp

from issuer.api.zorgid.v1 import registration_pb2, registration_pb2_grpc
from issuer.config import Config
from issuer.flows import registration as flow
from issuer.flows.common import FlowDeps, Portal
from issuer.flows.evidence import EvidenceKeepingVerifier
from issuer.qr import RenderedQr
from issuer.server.certificate_service import actor_for
from issuer.server.roles import current_caller
from issuer.server.uzi_service import _identity
from issuer.store import check_schema, shared_engine
from issuer.store.uzi import SqlUziChallengeStore
from issuer.uzi.policy import policy_source
from issuer.uzi.validate import ChainValidator
from issuer.uzi.verify import Clock, PolicySource, UziPolicy, utc_now

if TYPE_CHECKING:
    from issuer.issuance.runtime import IssuanceRuntime
    from issuer.server.app import ServiceBinding

_SERVICE = "/zorgid.v1.RegistrationService/"
_STATES = {
    "started": registration_pb2.REGISTRATION_STATE_STARTED,
    "data_entered": registration_pb2.REGISTRATION_STATE_DATA_ENTERED,
    "confirmed": registration_pb2.REGISTRATION_STATE_CONFIRMED,
    "redeemed": registration_pb2.REGISTRATION_STATE_REDEEMED,
    "cancelled": registration_pb2.REGISTRATION_STATE_CANCELLED,
    "expired": registration_pb2.REGISTRATION_STATE_EXPIRED,
}


def timestamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def portal_for(method: str) -> Portal:
    """The calling portal of the current RPC (identity from the verified TLS peer)."""
    caller = current_caller()
    return Portal(identity=caller.identity, name=caller.subject, actor=actor_for(method, caller))


def qr_message(qr: RenderedQr) -> registration_pb2.QrCode:
    return registration_pb2.QrCode(payload=qr.payload, png=qr.png, svg=qr.svg.decode("utf-8"))


def registration_message(view: flow.RegistrationView) -> registration_pb2.Registration:
    return registration_pb2.Registration(
        id=view.id,
        state=_STATES[view.state],
        terms_version=view.terms_version,
        identity=_identity(view.identity),
        organization_name=view.organisation_name,
        birth_date=view.date_of_birth.isoformat() if view.date_of_birth else "",
        summary_digest=view.summary_digest,
        expires_at=timestamp(view.expires_at),
        qr_expires_at=timestamp(view.token_expires_at),
        certificate_id=view.certificate_id or "",
        registration_record_id=view.registration_id or "",
    )


class RegistrationServicer(registration_pb2_grpc.RegistrationServiceServicer):
    """Protobuf in, :mod:`issuer.flows.registration`, protobuf out."""

    def __init__(self, deps: FlowDeps) -> None:
        self._deps = deps

    def GetTerms(
        self, request: registration_pb2.GetTermsRequest, context: grpc.ServicerContext
    ) -> registration_pb2.GetTermsResponse:
        terms = flow.get_terms(self._deps.policy().policy, request.version or None)
        return registration_pb2.GetTermsResponse(version=terms.version, text=terms.text)

    def StartRegistration(
        self, request: registration_pb2.StartRegistrationRequest, context: grpc.ServicerContext
    ) -> registration_pb2.StartRegistrationResponse:
        view = flow.start_registration(
            self._deps,
            portal=portal_for(_SERVICE + "StartRegistration"),
            terms_version=request.terms_version,
            uzi_session=request.uzi_session_handle,
        )
        return registration_pb2.StartRegistrationResponse(registration=registration_message(view))

    def SetBirthDate(
        self, request: registration_pb2.SetBirthDateRequest, context: grpc.ServicerContext
    ) -> registration_pb2.SetBirthDateResponse:
        view = flow.set_birth_date(
            self._deps,
            portal=portal_for(_SERVICE + "SetBirthDate"),
            registration_id=request.registration_id,
            birth_date=request.birth_date,
        )
        return registration_pb2.SetBirthDateResponse(registration=registration_message(view))

    def ConfirmRegistration(
        self, request: registration_pb2.ConfirmRegistrationRequest, context: grpc.ServicerContext
    ) -> registration_pb2.ConfirmRegistrationResponse:
        done = flow.confirm_registration(
            self._deps,
            portal=portal_for(_SERVICE + "ConfirmRegistration"),
            registration_id=request.registration_id,
            summary_digest=request.summary_digest,
        )
        return registration_pb2.ConfirmRegistrationResponse(
            registration=registration_message(done.view), qr=qr_message(done.qr)
        )

    def GetRegistration(
        self, request: registration_pb2.GetRegistrationRequest, context: grpc.ServicerContext
    ) -> registration_pb2.GetRegistrationResponse:
        view = flow.get_registration(
            self._deps,
            portal=portal_for(_SERVICE + "GetRegistration"),
            registration_id=request.registration_id,
        )
        return registration_pb2.GetRegistrationResponse(registration=registration_message(view))


# -- wiring -----------------------------------------------------------------------------------


def build_evidence_verifier(
    config: Config,
    *,
    engine: sa.Engine | None = None,
    policy: UziPolicy | PolicySource | None = None,
    validator: ChainValidator | None = None,
    clock: Clock = utc_now,
) -> EvidenceKeepingVerifier:
    """Like :func:`issuer.server.uzi_service.build_uzi_verifier`, keeping each proof's evidence.

    The rules follow the active policy version per request (issue 7), like
    the UziService's: both are the one verifier ``default_services`` builds.
    """
    engine = engine if engine is not None else shared_engine(config.database.url)
    check_schema(engine)
    return EvidenceKeepingVerifier(
        engine=engine,
        policy=policy if policy is not None else policy_source(config, engine),
        store=SqlUziChallengeStore(engine, clock=clock),
        validator=validator,
        clock=clock,
    )


def engine_host(config: Config) -> str:
    """What the QR codes name as the engine (``h=``): ``[server] public_host`` or the listen."""
    public = getattr(config.server, "public_host", None)
    return str(public) if public else str(config.server.listen)


def flow_service_bindings(
    config: Config,
    *,
    runtime: IssuanceRuntime,
    verifier: EvidenceKeepingVerifier,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    host: str | None = None,
) -> list[ServiceBinding]:
    """Registration, Login, Organization and Attribute services on one runtime and verifier."""
    from issuer.api.zorgid.v1 import (
        attribute_pb2,
        attribute_pb2_grpc,
        login_pb2,
        login_pb2_grpc,
        organization_pb2,
        organization_pb2_grpc,
    )
    from issuer.server.app import ServiceBinding
    from issuer.server.attribute_service import AttributeServicer
    from issuer.server.login_service import LoginServicer
    from issuer.server.organization_service import OrganizationServicer

    deps = FlowDeps(
        engine=runtime.engine,
        issuance=runtime.get,
        policy=runtime.active_policy,
        chain=runtime.chain_der,
        verifier=verifier,
        host=host or engine_host(config),
        clock=clock,
    )
    reg = RegistrationServicer(deps)
    login = LoginServicer(deps)
    org = OrganizationServicer(deps)
    attrs = AttributeServicer(deps)
    add_reg: Callable[[RegistrationServicer, grpc.Server], None] = (
        registration_pb2_grpc.add_RegistrationServiceServicer_to_server
    )
    add_login: Callable[[LoginServicer, grpc.Server], None] = (
        login_pb2_grpc.add_LoginServiceServicer_to_server
    )
    add_org: Callable[[OrganizationServicer, grpc.Server], None] = (
        organization_pb2_grpc.add_OrganizationServiceServicer_to_server
    )
    add_attrs: Callable[[AttributeServicer, grpc.Server], None] = (
        attribute_pb2_grpc.add_AttributeServiceServicer_to_server
    )
    return [
        ServiceBinding.from_descriptor(
            registration_pb2.DESCRIPTOR.services_by_name["RegistrationService"],
            lambda server: add_reg(reg, server),
        ),
        ServiceBinding.from_descriptor(
            login_pb2.DESCRIPTOR.services_by_name["LoginService"],
            lambda server: add_login(login, server),
        ),
        ServiceBinding.from_descriptor(
            organization_pb2.DESCRIPTOR.services_by_name["OrganizationService"],
            lambda server: add_org(org, server),
        ),
        ServiceBinding.from_descriptor(
            attribute_pb2.DESCRIPTOR.services_by_name["AttributeService"],
            lambda server: add_attrs(attrs, server),
        ),
    ]
