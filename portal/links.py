"""Connection codes: how a page hands a step to the Desktop App (the UZI-pas proof, §6).

The page shows a short code; the Desktop App, given ``<portal>/<path>/<code>``, reads
what to do there and posts its answer back. A code is unguessable (50 bits), bound to one
browser session by the step that made it, and never logged (the portal keeps no access
log). One module so both steps speak of codes alike.
"""

from __future__ import annotations

import secrets

from aiohttp import web

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""32 letters and digits without look-alikes (I/1, O/0): 5 bits a character."""
CODE_LENGTH = 10
"""50 bits: guessing one live code within its minutes is hopeless."""


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def shown(code: str) -> str:
    """The code as people read it: two groups of five (``K7QXM-2MPAB``)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normal(code: str) -> str:
    """A code as typed or shown, back to its key (no dash, upper case)."""
    return code.replace("-", "").strip().upper()


def connect_url(request: web.Request, path: str, code: str) -> str:
    """Where the Desktop App reaches this step on this portal: ``<origin>/<path>/<code>``."""
    return f"{request.url.origin()}/{path}/{shown(code)}"
