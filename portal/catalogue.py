"""The engine's error catalogue as the portal keeps it: every code's cause and solution.

The texts come from the engine (``ErrorCatalogueService.ListErrors``), never from a copy
in the portal, so the error overview (§7) and each error page say what a refusal says.
The catalogue is fetched when the portal starts and again whenever the overview is shown;
an error page before the first fetch shows the refusal's own text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiohttp import web

from issuer.api.zorgid.v1 import errors_pb2
from portal.engine import EngineClient, Refusal

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One code of the catalogue: its gRPC status and, per page language, cause and solution."""

    code: str
    status: str
    retired: bool
    causes: dict[str, str]
    solutions: dict[str, str]

    def cause(self, lang: str) -> str:
        return self.causes.get(lang) or self.causes.get("en", "")

    def solution(self, lang: str) -> str:
        return self.solutions.get(lang) or self.solutions.get("en", "")


@dataclass
class Catalogue:
    """The last catalogue the engine served (empty until the first fetch succeeds)."""

    entries: dict[str, Entry] = field(default_factory=dict)


CATALOGUE: web.AppKey[Catalogue] = web.AppKey("catalogue", Catalogue)


def _entry(served: errors_pb2.CatalogueEntry) -> Entry:
    """The page language is the locale's language part ("nl-NL" -> "nl"), as refusals map it."""
    causes = {t.locale.split("-")[0]: t.cause for t in served.texts}
    solutions = {t.locale.split("-")[0]: t.solution for t in served.texts}
    return Entry(served.code, served.status, served.retired, causes, solutions)


async def fetch(engine: EngineClient, catalogue: Catalogue) -> dict[str, Entry]:
    """Ask the engine for the whole catalogue and keep it; a refusal raises :class:`Refusal`."""
    answer = await engine.call(engine.errors.ListErrors, errors_pb2.ListErrorsRequest())
    catalogue.entries = {e.code: _entry(e) for e in answer.errors}
    return catalogue.entries


async def prefetch(engine: EngineClient, catalogue: Catalogue) -> None:
    """At start: fetch once so error pages can split cause and solution. Failing is fine
    and quiet (info): /problemen fetches again and shows the engine's refusal itself, and
    the start banner must stay the portal's first line of output."""
    try:
        await fetch(engine, catalogue)
    except Refusal as refusal:
        _LOG.info("error catalogue not fetched at start (%s); /problemen retries", refusal.code)


def lookup(app: web.Application, code: str) -> Entry | None:
    """The catalogue entry of ``code`` if the portal has the catalogue."""
    catalogue = app.get(CATALOGUE)
    return catalogue.entries.get(code) if catalogue is not None else None
