"""The companion pages as one aiohttp application: ``/mobile`` and ``/desktop``."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from devapps import desktop, desktop_card, mobile
from devapps.web import PAGES, WORLD
from devapps.world import DevWorld

HERE = Path(__file__).resolve().parent
PARTS = (mobile, desktop, desktop_card)


def make_app(world: DevWorld) -> web.Application:
    app = web.Application()
    app[WORLD] = world
    app[PAGES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    for part in PARTS:
        part.add_routes(app)
    app.router.add_static("/static", HERE / "static")
    return app
