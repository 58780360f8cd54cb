"""``zorgid.v1.SmartcardService`` (portal manual §6): a thin servicer over the card flow."""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from issuer.api.zorgid.v1 import smartcard_pb2, smartcard_pb2_grpc
from issuer.errors import Code, ZorgIdError
from issuer.flows import smartcard as flow
from issuer.flows.common import FlowDeps
from issuer.issuance.records import IssuedCertificate
from issuer.server.certificate_service import actor_for, certificate_message
from issuer.server.registration_service import portal_for, timestamp
from issuer.server.roles import Role, current_caller

_SERVICE = "/zorgid.v1.SmartcardService/"
_SLOTS = {
    smartcard_pb2.SMARTCARD_SLOT_AUTHENTICATION: flow.AUTHENTICATION,
    smartcard_pb2.SMARTCARD_SLOT_NON_REPUDIATION: flow.NON_REPUDIATION,
    smartcard_pb2.SMARTCARD_SLOT_ENCRYPTION: flow.ENCRYPTION,
}
_SLOT_NUMBERS = {name: number for number, name in _SLOTS.items()}
_STATES = {
    "issuing": smartcard_pb2.SMARTCARD_STATE_ISSUING,
    "active": smartcard_pb2.SMARTCARD_STATE_ACTIVE,
    "revoked": smartcard_pb2.SMARTCARD_STATE_REVOKED,
    "superseded": smartcard_pb2.SMARTCARD_STATE_SUPERSEDED,
}


def _csrs(request: smartcard_pb2.RedeemSmartcardRequest) -> dict[str, bytes]:
    """The CSRs by slot name; an unset or repeated slot is ZID-2005."""
    csrs: dict[str, bytes] = {}
    for item in request.csrs:
        name = _SLOTS.get(item.slot)
        if name is None:
            raise ZorgIdError(Code.ZID_2005, f"csrs: got slot {int(item.slot)}; expected 1-3")
        if name in csrs:
            raise ZorgIdError(Code.ZID_2005, f"csrs: slot {name} given twice")
        csrs[name] = item.csr
    return csrs


def _slot_certificates(
    issued: Mapping[str, IssuedCertificate],
) -> list[smartcard_pb2.SlotCertificate]:
    return [
        smartcard_pb2.SlotCertificate(slot=_SLOT_NUMBERS[slot], certificate=certificate_message(c))
        for slot, c in issued.items()
    ]


def _card(view: flow.CardView) -> smartcard_pb2.Smartcard:
    return smartcard_pb2.Smartcard(
        id=view.id,
        state=_STATES[view.state],
        created_at=timestamp(view.created_at),
        revoked_at=timestamp(view.revoked_at),
        revocation_reason=view.revocation_reason or "",
        certificates=_slot_certificates(view.certificates),
    )


class SmartcardServicer(smartcard_pb2_grpc.SmartcardServiceServicer):
    """Protobuf in, :mod:`issuer.flows.smartcard`, protobuf out."""

    def __init__(self, deps: FlowDeps) -> None:
        self._deps = deps

    def StartSmartcard(
        self, request: smartcard_pb2.StartSmartcardRequest, context: grpc.ServicerContext
    ) -> smartcard_pb2.StartSmartcardResponse:
        made = flow.start_smartcard(
            self._deps,
            portal=portal_for(_SERVICE + "StartSmartcard"),
            login_session_handle=request.login_session_handle,
        )
        return smartcard_pb2.StartSmartcardResponse(
            ticket=made.ticket, expires_at=timestamp(made.expires_at)
        )

    def RedeemSmartcard(
        self, request: smartcard_pb2.RedeemSmartcardRequest, context: grpc.ServicerContext
    ) -> smartcard_pb2.RedeemSmartcardResponse:
        made = flow.redeem_smartcard(
            self._deps,
            portal=portal_for(_SERVICE + "RedeemSmartcard"),
            ticket=request.ticket,
            csrs=_csrs(request),
        )
        return smartcard_pb2.RedeemSmartcardResponse(
            card_id=made.card_id,
            certificates=_slot_certificates(made.certificates),
            chain=list(made.chain),
            replayed=made.replayed,
        )

    def ListSmartcards(
        self, request: smartcard_pb2.ListSmartcardsRequest, context: grpc.ServicerContext
    ) -> smartcard_pb2.ListSmartcardsResponse:
        views = flow.list_smartcards(
            self._deps,
            portal=portal_for(_SERVICE + "ListSmartcards"),
            login_session_handle=request.login_session_handle,
        )
        return smartcard_pb2.ListSmartcardsResponse(cards=[_card(v) for v in views])

    def RevokeSmartcard(
        self, request: smartcard_pb2.RevokeSmartcardRequest, context: grpc.ServicerContext
    ) -> smartcard_pb2.RevokeSmartcardResponse:
        """The operator revokes without a login session; anyone else acts through one."""
        method = _SERVICE + "RevokeSmartcard"
        card: flow.CardView
        if not request.login_session_handle and Role.OPERATOR in current_caller().roles:
            card = flow.revoke_card_by_operator(
                self._deps,
                actor=actor_for(method),
                card_id=request.card_id,
                reason=int(request.reason),
            )
        else:
            card = flow.revoke_card_as_holder(
                self._deps,
                portal=portal_for(method),
                login_session_handle=request.login_session_handle,
                card_id=request.card_id,
                reason=int(request.reason),
            )
        return smartcard_pb2.RevokeSmartcardResponse(card=_card(card))

    def ReplaceSmartcard(
        self, request: smartcard_pb2.ReplaceSmartcardRequest, context: grpc.ServicerContext
    ) -> smartcard_pb2.ReplaceSmartcardResponse:
        made = flow.replace_smartcard(
            self._deps,
            portal=portal_for(_SERVICE + "ReplaceSmartcard"),
            login_session_handle=request.login_session_handle,
            card_id=request.card_id,
        )
        return smartcard_pb2.ReplaceSmartcardResponse(
            ticket=made.ticket, expires_at=timestamp(made.expires_at)
        )
