"""``zorgid.v1.OrganizationService`` (flows 4 and 6): thin servicer over
:mod:`issuer.flows.organisations` and :mod:`issuer.flows.members`."""

from __future__ import annotations

import grpc

from issuer.api.zorgid.v1 import organization_pb2, organization_pb2_grpc
from issuer.config import Role
from issuer.flows import organisations as flow
from issuer.flows.common import FlowDeps
from issuer.flows.members import correct_person, list_members, reset_member
from issuer.server.certificate_service import actor_for, certificate_message
from issuer.server.registration_service import portal_for, qr_message, timestamp
from issuer.server.roles import current_caller
from issuer.server.uzi_service import _identity

_SERVICE = "/zorgid.v1.OrganizationService/"
# An administrator's state as the flows hand it out (``pending`` or ``approved``, the values
# of ``issuer.store.organisations.PENDING``/``APPROVED``; a servicer imports no store module).
_ADMIN_STATES = {
    None: organization_pb2.ADMINISTRATOR_STATE_UNSPECIFIED,
    "pending": organization_pb2.ADMINISTRATOR_STATE_PENDING,
    "approved": organization_pb2.ADMINISTRATOR_STATE_APPROVED,
}


def _org(org: flow.Organisation) -> organization_pb2.Organization:
    return organization_pb2.Organization(id=org.id, ura=org.ura, name=org.name)


class OrganizationServicer(organization_pb2_grpc.OrganizationServiceServicer):
    """Protobuf in, :mod:`issuer.flows.organisations`, protobuf out."""

    def __init__(self, deps: FlowDeps) -> None:
        self._deps = deps

    def RegisterOrganization(
        self, request: organization_pb2.RegisterOrganizationRequest, context: grpc.ServicerContext
    ) -> organization_pb2.RegisterOrganizationResponse:
        org = flow.register_organisation(
            self._deps,
            actor=actor_for(_SERVICE + "RegisterOrganization"),
            ura=request.ura,
            name=request.name,
            administrator_uzi_numbers=list(request.administrator_uzi_numbers),
        )
        return organization_pb2.RegisterOrganizationResponse(
            organization=_org(org), administrator_uzi_numbers=list(org.designated)
        )

    def StartValidation(
        self, request: organization_pb2.StartValidationRequest, context: grpc.ServicerContext
    ) -> organization_pb2.StartValidationResponse:
        started = flow.start_validation(
            self._deps,
            portal=portal_for(_SERVICE + "StartValidation"),
            terms_version=request.terms_version,
            uzi_session=request.uzi_session_handle,
            ura=request.ura,
        )
        return organization_pb2.StartValidationResponse(
            validation_id=started.id,
            organization=_org(started.organisation),
            identity=_identity(started.identity),
        )

    def ConfirmValidation(
        self, request: organization_pb2.ConfirmValidationRequest, context: grpc.ServicerContext
    ) -> organization_pb2.ConfirmValidationResponse:
        admin = flow.confirm_validation(
            self._deps,
            portal=portal_for(_SERVICE + "ConfirmValidation"),
            validation_id=request.validation_id,
        )
        return organization_pb2.ConfirmValidationResponse(
            organization=_org(admin.organisation),
            person_id=admin.person_id,
            mobile_id=admin.mobile_id,
            state=_ADMIN_STATES[admin.state],
        )

    def ApproveAdministrator(
        self, request: organization_pb2.ApproveAdministratorRequest, context: grpc.ServicerContext
    ) -> organization_pb2.ApproveAdministratorResponse:
        """The operator approves without a login session; anyone else acts through one.

        A portal caller with no session handle gets ZID-1709 (no live login
        session): the operator's authority comes only from the operator role.
        """
        method = _SERVICE + "ApproveAdministrator"
        if not request.login_session_handle and Role.OPERATOR in current_caller().roles:
            admin = flow.approve_by_operator(
                self._deps, actor=actor_for(method), ura=request.ura, uzi_number=request.uzi_number
            )
        else:
            admin = flow.approve_by_administrator(
                self._deps,
                portal=portal_for(method),
                login_session_handle=request.login_session_handle,
                ura=request.ura,
                uzi_number=request.uzi_number,
            )
        return organization_pb2.ApproveAdministratorResponse(
            organization=_org(admin.organisation),
            person_id=admin.person_id,
            mobile_id=admin.mobile_id,
            state=_ADMIN_STATES[admin.state],
        )

    def ListMembers(
        self, request: organization_pb2.ListMembersRequest, context: grpc.ServicerContext
    ) -> organization_pb2.ListMembersResponse:
        members = list_members(
            self._deps,
            portal=portal_for(_SERVICE + "ListMembers"),
            login_session_handle=request.login_session_handle,
        )
        return organization_pb2.ListMembersResponse(
            members=[
                organization_pb2.Member(
                    person_id=m.person_id,
                    uzi_number=m.uzi_number,
                    given_names=m.given_names,
                    surname=m.surname,
                    ura=m.ura,
                    good_certificate_ids=list(m.good_certificates),
                    administrator_state=_ADMIN_STATES[m.administrator_state],
                )
                for m in members
            ]
        )

    def ResetMember(
        self, request: organization_pb2.ResetMemberRequest, context: grpc.ServicerContext
    ) -> organization_pb2.ResetMemberResponse:
        reset = reset_member(
            self._deps,
            portal=portal_for(_SERVICE + "ResetMember"),
            login_session_handle=request.login_session_handle,
            person_id=request.person_id,
            ura=request.ura,
        )
        return organization_pb2.ResetMemberResponse(
            revoked=[certificate_message(c) for c in reset.revoked],
            qr=qr_message(reset.qr),
            qr_expires_at=timestamp(reset.enrolment.expires_at),
            registration_record_id=reset.enrolment.registration_id,
        )

    def CorrectPerson(
        self, request: organization_pb2.CorrectPersonRequest, context: grpc.ServicerContext
    ) -> organization_pb2.CorrectPersonResponse:
        person = correct_person(
            self._deps,
            actor=actor_for(_SERVICE + "CorrectPerson"),
            person_id=request.person_id,
            birth_date=request.birth_date or None,
            given_names=request.given_names or None,
            surname=request.surname or None,
        )
        return organization_pb2.CorrectPersonResponse(
            person_id=person.id,
            uzi_number=person.uzi_number,
            birth_date=person.date_of_birth or "",
            given_names=person.given_names,
            surname=person.surname,
        )
