"""ErrorCatalogueService over real mTLS: the served catalogue is the engine's, text for text."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from issuer.api.zorgid.v1 import errors_pb2, errors_pb2_grpc, policy_pb2, policy_pb2_grpc
from issuer.config import Role
from issuer.errors import CATALOGUE, Code, ZorgIdError
from issuer.server.interceptors import to_rpc_status
from tests.server.conftest import ChannelFactory


def _served(channel: grpc.Channel) -> errors_pb2.ListErrorsResponse:
    stub = errors_pb2_grpc.ErrorCatalogueServiceStub(channel)  # type: ignore[no-untyped-call]
    answer: errors_pb2.ListErrorsResponse = stub.ListErrors(
        errors_pb2.ListErrorsRequest(), timeout=10
    )
    return answer


def _joined(entry: errors_pb2.CatalogueEntry) -> dict[str, str]:
    """Cause and solution per locale, joined as a refusal's LocalizedMessage carries them."""
    return {text.locale: f"{text.cause} {text.solution}" for text in entry.texts}


def _localized(status: object) -> dict[str, str]:
    found: dict[str, str] = {}
    for detail in getattr(status, "details", ()):
        if detail.Is(error_details_pb2.LocalizedMessage.DESCRIPTOR):
            message = error_details_pb2.LocalizedMessage()
            detail.Unpack(message)
            found[message.locale] = message.message
    return found


def test_every_role_gets_every_code_with_its_status_and_texts(
    channel_for: ChannelFactory,
) -> None:
    for role in Role:
        served = _served(channel_for(role.value))
        assert [e.code for e in served.errors] == sorted(c.value for c in Code)
        for entry in served.errors:
            spec = CATALOGUE[entry.code]
            assert entry.status == spec.status.name
            assert entry.title == spec.title
            assert entry.retired == spec.retired
            texts = {t.locale: (t.cause, t.solution) for t in entry.texts}
            assert texts == {
                "en": (spec.cause_en, spec.solution_en),
                "nl-NL": (spec.cause_nl, spec.solution_nl),
            }


def test_the_served_texts_are_those_every_refusal_carries(channel_for: ChannelFactory) -> None:
    served = {e.code: _joined(e) for e in _served(channel_for("portal")).errors}
    for code in Code:
        assert _localized(to_rpc_status(ZorgIdError(code))) == served[code.value], code


def test_a_real_refusal_matches_its_served_entry(channel_for: ChannelFactory) -> None:
    channel = channel_for("portal")
    served = {e.code: _joined(e) for e in _served(channel).errors}
    stub = policy_pb2_grpc.PolicyServiceStub(channel)  # type: ignore[no-untyped-call]
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListPolicies(policy_pb2.ListPoliciesRequest(), timeout=10)
    status = rpc_status.from_call(refused.value)  # type: ignore[arg-type]
    assert status is not None
    infos = [d for d in status.details if d.Is(error_details_pb2.ErrorInfo.DESCRIPTOR)]
    info = error_details_pb2.ErrorInfo()
    infos[0].Unpack(info)
    assert info.reason == "ZID-0003"
    assert _localized(status) == served["ZID-0003"]


def test_a_caller_without_a_role_is_refused(channel_for: ChannelFactory) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _served(channel_for("norole"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
