"""gRPC services as values the server registers: :class:`ServiceBinding`, one builder per service.

A builder takes the domain object its servicer translates for (a runtime, a
verifier, a responder) and returns the binding; what those objects are made of
is decided in :mod:`issuer.wiring`, so servicer modules stay protobuf <->
domain. Servicers that reach the issuance runtime are imported inside their
builder: importing the server front end loads no PKCS#11.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from issuer.api.zorgid.v1 import (
    ca_pb2,
    ca_pb2_grpc,
    errors_pb2,
    errors_pb2_grpc,
    ocsp_pb2,
    policy_pb2,
    policy_pb2_grpc,
    uzi_pb2,
    uzi_pb2_grpc,
)
from issuer.config import Config
from issuer.policy_store import PolicyStore
from issuer.server.ca_service import CaCertificateStore, CaServicer
from issuer.server.errors_service import ErrorCatalogueServicer
from issuer.server.ocsp_service import Answering
from issuer.server.ocsp_service import add_to_server as ocsp_add_to_server
from issuer.server.policy_service import PolicyServicer
from issuer.server.uzi_service import UziServicer
from issuer.uzi.verify import UziVerifier

if TYPE_CHECKING:
    from issuer.flows.common import FlowDeps
    from issuer.issuance.runtime import IssuanceRuntime

__all__ = [
    "Background",
    "ServiceBinding",
    "ca_service_binding",
    "errors_service_binding",
    "flow_service_bindings",
    "issuance_service_bindings",
    "ocsp_service_binding",
    "policy_service_binding",
    "uzi_service_binding",
]


@dataclass(frozen=True, kw_only=True)
class ServiceBinding:
    """One gRPC service to register: its full name, its methods and how to add it.

    Build one from the generated code with :meth:`from_descriptor`::

        ServiceBinding.from_descriptor(
            ca_pb2.DESCRIPTOR.services_by_name["CaService"],
            lambda server: ca_pb2_grpc.add_CaServiceServicer_to_server(servicer, server),
        )
    """

    name: str
    """Full service name, e.g. ``zorgid.v1.CaService`` (for reflection and health)."""
    methods: tuple[str, ...]
    """Full method names, ``/zorgid.v1.CaService/GetCaCertificates``."""
    add_to: Callable[[grpc.Server], None] = field(repr=False)
    start: Callable[[], None] | None = field(default=None, repr=False)
    """Run by ``BuiltServer.start`` before serving (a background worker of the service)."""
    stop: Callable[[], None] | None = field(default=None, repr=False)
    """Run by ``BuiltServer.stop`` after the calls drained."""

    @classmethod
    def from_descriptor(
        cls, descriptor: ServiceDescriptor, add_to: Callable[[grpc.Server], None]
    ) -> ServiceBinding:
        return cls(
            name=descriptor.full_name,
            methods=tuple(f"/{descriptor.full_name}/{m.name}" for m in descriptor.methods),
            add_to=add_to,
        )


def ca_service_binding(config: Config) -> ServiceBinding:
    """``zorgid.v1.CaService`` reading ``<data_dir>/ca/*.pem``."""
    servicer = CaServicer(CaCertificateStore(config.ca_dir))
    # The generated _pb2_grpc module has no type stubs; give its adder a type once.
    add: Callable[[CaServicer, grpc.Server], None] = ca_pb2_grpc.add_CaServiceServicer_to_server
    return ServiceBinding.from_descriptor(
        ca_pb2.DESCRIPTOR.services_by_name["CaService"], lambda server: add(servicer, server)
    )


def errors_service_binding() -> ServiceBinding:
    """``zorgid.v1.ErrorCatalogueService``: the error catalogue (no state, no HSM)."""
    servicer = ErrorCatalogueServicer()
    add: Callable[[ErrorCatalogueServicer, grpc.Server], None] = (
        errors_pb2_grpc.add_ErrorCatalogueServiceServicer_to_server
    )
    return ServiceBinding.from_descriptor(
        errors_pb2.DESCRIPTOR.services_by_name["ErrorCatalogueService"],
        lambda server: add(servicer, server),
    )


def ocsp_service_binding(responder: Answering) -> ServiceBinding:
    """``zorgid.v1.OcspService`` over *responder* (built by ``issuer.ocsp_wiring``)."""
    return ServiceBinding.from_descriptor(
        ocsp_pb2.DESCRIPTOR.services_by_name["OcspService"], ocsp_add_to_server(responder)
    )


class Background(Protocol):
    """A worker that runs beside a service (the UZI-pas watch, ``issuer.uzi_watch``)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


def uzi_service_binding(
    verifier: UziVerifier, *, watch: Background | None = None
) -> ServiceBinding:
    """``zorgid.v1.UziService`` over *verifier* (built by ``issuer.wiring.build_uzi_verifier``).

    The verifier's CRL refresher starts and stops with the server (issue 16),
    and so does the UZI-pas *watch* when given (issue 18, ``issuer.wiring.uzi_watch``).
    """
    servicer = UziServicer(verifier)
    add: Callable[[UziServicer, grpc.Server], None] = uzi_pb2_grpc.add_UziServiceServicer_to_server
    binding = ServiceBinding.from_descriptor(
        uzi_pb2.DESCRIPTOR.services_by_name["UziService"], lambda server: add(servicer, server)
    )
    if watch is None:
        return dataclasses.replace(binding, start=verifier.start, stop=verifier.stop)

    def start() -> None:
        verifier.start()
        watch.start()

    def stop() -> None:
        watch.stop()
        verifier.stop()

    return dataclasses.replace(binding, start=start, stop=stop)


def issuance_service_bindings(
    runtime: IssuanceRuntime, *, follow_seconds: float | None = None
) -> list[ServiceBinding]:
    """``zorgid.v1.EnrollmentService`` and ``zorgid.v1.CertificateService`` on one runtime.

    The runtime opens the HSM on first use and reports an unavailable HSM to
    the health callback it was built with (``issuer.wiring.issuance_runtime``).
    With them starts and stops the check that makes the runtime follow a renewed OCSP
    responder certificate (:meth:`IssuanceRuntime.follow_responder`), every
    *follow_seconds* (default ``issuer.issuance.runtime.FOLLOW_SECONDS``), and the probe
    that says SERVING again once an HSM reported away answers
    (:meth:`IssuanceRuntime.probe_hsm`), without waiting for a call.
    """
    from issuer.api.zorgid.v1 import (
        certificate_pb2,
        certificate_pb2_grpc,
        enrollment_pb2,
        enrollment_pb2_grpc,
    )
    from issuer.issuance.runtime import FOLLOW_SECONDS, HSM_PROBE_SECONDS
    from issuer.periodic import Periodic
    from issuer.server.certificate_service import CertificateServicer
    from issuer.server.enrollment_service import EnrollmentServicer

    enrol = EnrollmentServicer(runtime)
    certs = CertificateServicer(runtime)
    follower = Periodic(
        "ocsp-responder-follow",
        runtime.follow_responder,
        interval=FOLLOW_SECONDS if follow_seconds is None else follow_seconds,
    )
    prober = Periodic("hsm-probe", runtime.probe_hsm, interval=HSM_PROBE_SECONDS)
    add_enrol: Callable[[EnrollmentServicer, grpc.Server], None] = (
        enrollment_pb2_grpc.add_EnrollmentServiceServicer_to_server
    )
    add_certs: Callable[[CertificateServicer, grpc.Server], None] = (
        certificate_pb2_grpc.add_CertificateServiceServicer_to_server
    )
    return [
        dataclasses.replace(
            ServiceBinding.from_descriptor(
                enrollment_pb2.DESCRIPTOR.services_by_name["EnrollmentService"],
                lambda server: add_enrol(enrol, server),
            ),
            start=prober.start,
            stop=prober.stop,
        ),
        dataclasses.replace(
            ServiceBinding.from_descriptor(
                certificate_pb2.DESCRIPTOR.services_by_name["CertificateService"],
                lambda server: add_certs(certs, server),
            ),
            start=follower.start,
            stop=follower.stop,
        ),
    ]


def policy_service_binding(store: Callable[[], PolicyStore]) -> ServiceBinding:
    """``zorgid.v1.PolicyService`` (issue 7): officers manage policy versions.

    *store* is called per request (``issuer.wiring.PolicyRuntime.get`` builds
    the store on first call), so the server starts without HSM or CA material.
    """
    servicer = PolicyServicer(store)
    add: Callable[[PolicyServicer, grpc.Server], None] = (
        policy_pb2_grpc.add_PolicyServiceServicer_to_server
    )
    return ServiceBinding.from_descriptor(
        policy_pb2.DESCRIPTOR.services_by_name["PolicyService"],
        lambda server: add(servicer, server),
    )


def flow_service_bindings(deps: FlowDeps) -> list[ServiceBinding]:
    """Registration, Login, Organization, Attribute and Smartcard services on one flow deps."""
    from issuer.api.zorgid.v1 import (
        attribute_pb2,
        attribute_pb2_grpc,
        login_pb2,
        login_pb2_grpc,
        organization_pb2,
        organization_pb2_grpc,
        registration_pb2,
        registration_pb2_grpc,
        smartcard_pb2,
        smartcard_pb2_grpc,
    )
    from issuer.server.attribute_service import AttributeServicer
    from issuer.server.login_service import LoginServicer
    from issuer.server.organization_service import OrganizationServicer
    from issuer.server.registration_service import RegistrationServicer
    from issuer.server.smartcard_service import SmartcardServicer

    reg = RegistrationServicer(deps)
    login = LoginServicer(deps)
    org = OrganizationServicer(deps)
    attrs = AttributeServicer(deps)
    card = SmartcardServicer(deps)
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
    add_card: Callable[[SmartcardServicer, grpc.Server], None] = (
        smartcard_pb2_grpc.add_SmartcardServiceServicer_to_server
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
        ServiceBinding.from_descriptor(
            smartcard_pb2.DESCRIPTOR.services_by_name["SmartcardService"],
            lambda server: add_card(card, server),
        ),
    ]
