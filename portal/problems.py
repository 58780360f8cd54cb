"""Manual §7 "Probleemoplossing": every error code with its cause and its solution.

The list is the engine's catalogue (``ErrorCatalogueService.ListErrors``), fetched anew
for each visit, so a code the engine gained since the portal started is shown too.
"""

from __future__ import annotations

from aiohttp import web

from portal.catalogue import CATALOGUE, Catalogue, fetch, prefetch
from portal.engine import Refusal
from portal.web import ENGINE, lang_of, refused, render


async def problems(request: web.Request) -> web.Response:
    """The overview: one entry per code, its anchor the code (``/problemen#ZID-1702``)."""
    try:
        entries = await fetch(request.app[ENGINE], request.app[CATALOGUE])
    except Refusal as refusal:
        return refused(request, refusal)
    lang = lang_of(request)
    rows = [
        {
            "code": e.code,
            "status": e.status,
            "retired": e.retired,
            "cause": e.cause(lang),
            "solution": e.solution(lang),
        }
        for e in entries.values()
    ]
    return render(request, "problems.html", entries=rows)


async def _prefetch(app: web.Application) -> None:
    await prefetch(app[ENGINE], app[CATALOGUE])


def add_routes(app: web.Application) -> None:
    app[CATALOGUE] = Catalogue()
    app.on_startup.append(_prefetch)
    app.router.add_get("/problemen", problems)
