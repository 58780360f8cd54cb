"""Card certificates that once crashed the card parser, sent to ``VerifyUziCard`` over mTLS.

Issue 16, item 7: each got ZID-0001 (INTERNAL); each kind of defect must get
its own refusal, with the catalogue texts, like every other card refusal.
"""

from __future__ import annotations

import grpc
import pytest

from issuer.api.zorgid.v1 import uzi_pb2
from tests.regressions import CARD_REFUSALS, card_inputs
from tests.uzi.conftest import World
from tests.uzi_grpc.conftest import StubFor
from tests.uzi_grpc.test_uzi_service import _assert_refused, _verify


@pytest.mark.parametrize("name", sorted(CARD_REFUSALS))
def test_hostile_card_certificate_gets_its_own_code(
    uzi: World, stub_for: StubFor, name: str
) -> None:
    stub = stub_for("portal")
    challenge = stub.CreateUziChallenge(uzi_pb2.CreateUziChallengeRequest(), timeout=30)
    chain = [card_inputs()[name], *uzi.app.chain()[1:]]
    with pytest.raises(grpc.RpcError) as info:
        _verify(stub, challenge.challenge_id, chain, uzi.app.sign(challenge.to_be_signed))
    _assert_refused(info, CARD_REFUSALS[name])
