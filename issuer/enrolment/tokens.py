"""Enrolment tokens: the secret in a registration QR, and its URI.

A token is 256 bits from the OS CSPRNG (the issue asks >= 128), written as
unpadded base64url (RFC 4648 §5, 43 characters) so it fits a QR code and a
URI query without escaping. Only its SHA-256 is stored (ARCHITECTURE §8):
a database leak gives nobody a redeemable QR. A high-entropy random token
needs no slow hash or salt: a guess is as hard as the token itself.

The URI (api-sketch): ``zorgid://enroll?v=1&t=<token>&h=<engine host>``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Final
from urllib.parse import parse_qs, quote, urlsplit

from issuer.errors import Code, ZorgIdError

TOKEN_BYTES: Final = 32
TOKEN_RE: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
URI_SCHEME: Final = "zorgid"
URI_VERSION: Final = "1"


def new_token() -> str:
    """A fresh enrolment token (256 random bits, base64url, 43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def check_token(token: str) -> str:
    """Refuse anything that is not the shape :func:`new_token` makes (ZID-1306)."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        length = len(token) if isinstance(token, str) else 0
        raise ZorgIdError(
            Code.ZID_1306,
            f"got a token of {length} characters; expected 43 base64url characters",
        )
    return token


def token_sha256(token: str) -> str:
    """What the database keeps: hex SHA-256 of the token's ASCII text."""
    return hashlib.sha256(check_token(token).encode("ascii")).hexdigest()


def enrolment_uri(token: str, host: str) -> str:
    """The registration QR's content: ``zorgid://enroll?v=1&t=<token>&h=<host>``."""
    return f"{URI_SCHEME}://enroll?v={URI_VERSION}&t={check_token(token)}&h={quote(host, safe='')}"


def parse_enrolment_uri(uri: str) -> tuple[str, str]:
    """``(token, host)`` from a registration QR; ZID-1306 for anything else."""
    parts = urlsplit(uri)
    query = parse_qs(parts.query, strict_parsing=False)
    if parts.scheme != URI_SCHEME or parts.netloc != "enroll" or query.get("v") != [URI_VERSION]:
        raise ZorgIdError(
            Code.ZID_1306, f"got a URI of scheme {parts.scheme!r}; expected zorgid://enroll?v=1&..."
        )
    tokens, hosts = query.get("t", []), query.get("h", [])
    if len(tokens) != 1 or len(hosts) != 1:
        raise ZorgIdError(Code.ZID_1306, "expected exactly one t= and one h= parameter")
    return check_token(tokens[0]), hosts[0]
