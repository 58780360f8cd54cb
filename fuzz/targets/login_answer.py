"""The phone's login answer (``AnswerLoginChallenge``): certificate, signature and time.

Through the login servicer on the development environment, as the mobile gateway
calls it. Input: byte 0 says whether the answer is to a fresh login challenge (made
by the portal at start, bit 0 set, bits 1-4 pick one of :data:`POOL`) or to a
challenge id taken from the input;
bytes 1-4 the signing time as seconds from now (signed), bytes 5-6 the length
``n`` of the certificate that follows (DER), then the certificate; the rest is the
signature, after the 43-character challenge id when it is taken from the input.
Seeds carry the demo's issued mobile-ID certificates, so the stored certificate,
validity and signature checks are reached. The flows' clock stands still at the
start, so the pool's challenges stay pending (no fuzzed answer verifies).

Documented refusal: :class:`ZorgIdError` with a login code (``ZID-17xx``) or ZID-0005.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fuzz.env import config_file
from fuzz.refusals import UndocumentedRefusal, refused
from fuzz.targets.grpc_servicers import _callers
from issuer.api.zorgid.v1 import login_pb2
from issuer.config import Role, load_config
from issuer.errors import Code, ZorgIdError
from issuer.server.login_service import LoginServicer
from issuer.server.roles import _set_caller
from issuer.uzi.verify import utc_now
from issuer.wiring import build_evidence_verifier, flow_deps, issuance_runtime

CHALLENGE_ID_CHARS = 43
FRESH = 0x01
HEADER = 7
POOL = 16


def frame(
    *, fresh: bool, offset: int, certificate: bytes, signature: bytes, challenge: str = ""
) -> bytes:
    """An input of this target (for the seeds)."""
    return (
        bytes([FRESH if fresh else 0])
        + offset.to_bytes(4, "big", signed=True)
        + len(certificate).to_bytes(2, "big")
        + certificate
        + ("" if fresh else challenge.ljust(CHALLENGE_ID_CHARS)[:CHALLENGE_ID_CHARS]).encode()
        + signature
    )


def _login_code(exc: BaseException) -> None:
    if isinstance(exc, ZorgIdError) and not (
        exc.code.startswith("ZID-17") or exc.code == Code.ZID_0005
    ):
        raise UndocumentedRefusal(f"login answer refused with {exc.code}") from exc


def build(work: Path) -> Callable[[bytes], None]:
    config = load_config(config_file(work))
    runtime = issuance_runtime(config)
    at = utc_now()
    verifier = build_evidence_verifier(config)
    servicer = LoginServicer(
        flow_deps(config, runtime=runtime, verifier=verifier, clock=lambda: at)
    )
    callers = _callers(work)
    _set_caller(callers[Role.PORTAL])
    new = login_pb2.CreateLoginChallengeRequest()
    pool = [servicer.CreateLoginChallenge(new, None).challenge_id for _ in range(POOL)]  # type: ignore[arg-type]

    def one(data: bytes) -> None:
        if len(data) < HEADER:
            return
        offset = int.from_bytes(data[1:5], "big", signed=True)
        length = int.from_bytes(data[5:7], "big")
        certificate, rest = data[HEADER : HEADER + length], data[HEADER + length :]
        if data[0] & FRESH:
            challenge_id, signature = pool[(data[0] >> 1) % POOL], rest
        else:
            challenge_id = rest[:CHALLENGE_ID_CHARS].decode("latin-1")
            signature = rest[CHALLENGE_ID_CHARS:]
        request = login_pb2.AnswerLoginChallengeRequest(
            challenge_id=challenge_id, certificate=certificate, signature=signature
        )
        try:
            request.signed_at.FromDatetime(at + timedelta(seconds=offset))
        except (ValueError, OverflowError):
            request.signed_at.seconds = offset
        _set_caller(callers[Role.MOBILE])
        with refused(ZorgIdError, check=_login_code):
            servicer.AnswerLoginChallenge(request, None)  # type: ignore[arg-type]

    return one
