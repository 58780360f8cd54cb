"""The portal's web side: one aiohttp application composed of one module per manual section."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from portal import (
    attributes,
    login,
    members,
    organisation,
    problems,
    registration,
    smartcard,
    uzi_step,
)
from portal.engine import EngineClient
from portal.web import COMPANIONS, ENGINE, PAGES, SESSIONS, Companions

HERE = Path(__file__).resolve().parent
SECTIONS = (login, registration, uzi_step, organisation, attributes, members, smartcard, problems)
"""Each adds its routes; the order is the manual's."""


def make_app(engine: EngineClient, *, companions: Companions | None = None) -> web.Application:
    """The portal's routes around one engine client."""
    app = web.Application()
    app[ENGINE] = engine
    app[SESSIONS] = {}
    app[COMPANIONS] = companions or Companions()
    app[PAGES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    for section in SECTIONS:
        section.add_routes(app)
    app.router.add_static("/static", HERE / "static")

    async def close_engine(_: web.Application) -> None:
        await engine.close()

    app.on_cleanup.append(close_engine)
    return app
