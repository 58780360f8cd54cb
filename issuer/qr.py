"""QR payloads of the portal flows and their rendering (PNG and SVG).

Two documented URIs (api-sketch "QR payloads"), short enough for a small QR
code (version <= 10 at error correction M):

- ``zorgid://enroll?v=1&t=<token>&h=<engine host>`` -- the registration QR
  (flow 2 and 6), built by :func:`issuer.enrolment.tokens.enrolment_uri`;
- ``zorgid://login?v=1&c=<challenge id>&n=<nonce>&h=<engine host>`` -- the
  login QR (flow 3); ``n`` is the challenge nonce, unpadded base64url
  (RFC 4648 §5).

Rendering uses segno (pure Python, no native dependencies), error correction
level M (ISO/IEC 18004 §4.14: ~15 % recovery, enough for a screen).
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qs, quote, urlsplit

import segno

from issuer.enrolment.tokens import enrolment_uri
from issuer.errors import Code, ZorgIdError

SCHEME: Final = "zorgid"
VERSION: Final = "1"
_CHALLENGE_RE: Final = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True, kw_only=True)
class RenderedQr:
    """A QR payload and its images. The payload may hold a secret: never log it."""

    payload: str = field(repr=False)
    png: bytes = field(repr=False)
    svg: bytes = field(repr=False)


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def render(payload: str) -> RenderedQr:
    """PNG and SVG of *payload* (error correction M, 4-module quiet zone)."""
    code = segno.make(payload, error="m", micro=False)
    png, svg = io.BytesIO(), io.BytesIO()
    code.save(png, kind="png", scale=6, border=4)
    code.save(svg, kind="svg", scale=4, border=4, xmldecl=True)
    return RenderedQr(payload=payload, png=png.getvalue(), svg=svg.getvalue())


def enrolment_qr(token: str, host: str) -> RenderedQr:
    """The registration QR (10 days, single use) for an enrolment token."""
    return render(enrolment_uri(token, host))


def login_uri(challenge_id: str, nonce: bytes, host: str) -> str:
    """``zorgid://login?v=1&c=<challenge id>&n=<nonce b64url>&h=<host>``."""
    return (
        f"{SCHEME}://login?v={VERSION}&c={challenge_id}&n={b64url(nonce)}&h={quote(host, safe='')}"
    )


@dataclass(frozen=True, kw_only=True)
class LoginQr:
    """What the phone reads from a login QR."""

    challenge_id: str
    nonce: bytes
    host: str


def parse_login_uri(uri: str) -> LoginQr:
    """The phone side of :func:`login_uri`; ZID-0005 for anything else."""
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    if parts.scheme != SCHEME or parts.netloc != "login" or query.get("v") != [VERSION]:
        raise ZorgIdError(
            Code.ZID_0005, f"got a URI of scheme {parts.scheme!r}; expected zorgid://login?v=1&..."
        )
    values = {k: query.get(k, []) for k in ("c", "n", "h")}
    if any(len(v) != 1 for v in values.values()) or not _CHALLENGE_RE.match(values["c"][0]):
        raise ZorgIdError(Code.ZID_0005, "expected exactly one c=, n= and h= parameter")
    return LoginQr(
        challenge_id=values["c"][0], nonce=b64url_decode(values["n"][0]), host=values["h"][0]
    )
