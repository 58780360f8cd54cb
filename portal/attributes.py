"""Manual §5 "Attributen registreren": a proven UZI-pas's attributes onto the logged-in
person's mobile ID (a new certificate for the same phone key; the old one superseded).

The UZI-pas step (``/uzi/attributen``) sends the browser to ``/attributen/bevestigen`` with
the proof in ``session.uzi``; confirming spends its one-use handle with the login session.
The supersession ends that login session in the engine (docs/flows.md "Login sessions end
at revocation"), so the browser is logged out and the result page asks to log in again.
"""

from __future__ import annotations

from aiohttp import web

from issuer.api.zorgid.v1 import attribute_pb2
from portal.engine import Refusal
from portal.web import ENGINE, browser_session, logged_in, refused, render

FLOW = "attributes"
PURPOSE = "attributen"
"""The slug the UZI-pas step gives its proof for this flow (``UziProof.purpose``)."""

SHOWN = ("common_name", "uzi_number", "card_type", "ura", "organization", "role", "agb_code")
"""The card's attributes shown before confirming, and copied into the overview after."""


async def review(request: web.Request) -> web.Response:
    """Figure 26 (first half): the proven card's attributes, to confirm."""
    session = logged_in(request)
    proof = session.uzi
    if proof is None or proof.purpose != PURPOSE:
        return render(request, "attributes_review.html", identity=None)
    return render(request, "attributes_review.html", identity=proof.identity, shown=SHOWN)


async def register(request: web.Request) -> web.Response:
    """RegisterAttributes with the login session and the card's one-use UZI session."""
    session = logged_in(request)
    proof = session.uzi
    if proof is None or proof.purpose != PURPOSE:
        raise web.HTTPSeeOther("/attributen/bevestigen")
    session.uzi = None  # spent by this call, whatever its outcome
    engine = request.app[ENGINE]
    try:
        done = await engine.call(
            engine.attribute.RegisterAttributes,
            attribute_pb2.RegisterAttributesRequest(
                login_session_handle=session.session_handle, uzi_session_handle=proof.handle
            ),
        )
    except Refusal as refusal:
        return refused(request, refusal, back="/overzicht")
    attributes = {name: proof.identity.get(name, "") for name in SHOWN}
    session.flows[FLOW] = {
        "serial": done.certificate.serial,
        "superseded": done.superseded.serial,
        "attributes": attributes,
    }
    # The old certificate's revocation ended the engine's login session for good: the
    # person logs in again with the new certificate (which carries the new attributes).
    session.person, session.session_handle, session.challenge = None, "", None
    raise web.HTTPSeeOther("/attributen/resultaat")


async def outcome(request: web.Request) -> web.Response:
    """Figure 26 (second half): the new certificate's serial and attributes, and the way
    back in (the browser was logged out by the supersession)."""
    _, session = browser_session(request)
    done = session.flow(FLOW)
    if "serial" not in done:
        raise web.HTTPFound("/overzicht")
    return render(request, "attributes_result.html", done=done, shown=SHOWN)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/attributen/bevestigen", review)
    app.router.add_post("/attributen/bevestigen", register)
    app.router.add_get("/attributen/resultaat", outcome)
