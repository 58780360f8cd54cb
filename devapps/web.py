"""What both companion pages share: the world they stand on and their page renderer."""

from __future__ import annotations

import jinja2
from aiohttp import web

from devapps.world import DevWorld

WORLD: web.AppKey[DevWorld] = web.AppKey("world", DevWorld)
PAGES: web.AppKey[jinja2.Environment] = web.AppKey("pages", jinja2.Environment)


def render(
    request: web.Request, template: str, status: int = 200, **values: object
) -> web.Response:
    """A companion page (English and Dutch side by side are not needed: these are dev tools)."""
    html = request.app[PAGES].get_template(template).render(**values)
    return web.Response(text=html, status=status, content_type="text/html")
