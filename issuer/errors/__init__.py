"""The one domain error of the engine and the catalogue of its codes.

Every failure a caller (a portal user, an operator, a phone) can meet has a
stable code ``ZID-nnnn``, a cause and a solution in English and Dutch, and a
canonical status (the numbers of ``google.rpc.Code``). The catalogue is the
single dict :data:`CATALOGUE`; ``scripts/gen_errors_doc.py`` renders it into
``docs/errors.md`` and fails on drift, so the user-facing error overview
(ARCHITECTURE section 2, flow 7) can never disagree with the code.

This module is domain code: it imports no ``grpc``. The translation into a
``google.rpc.Status`` (``ErrorInfo`` + ``LocalizedMessage``) happens in one
place, :mod:`issuer.server.interceptors`.

Adding an error: add one row to the table of your area in this package
(``general.py``, ``uzi.py``, ``issuance.py``, ``policy.py``, ``flows.py``, ``smartcard.py``), in
its range, run ``python scripts/gen_errors_doc.py``. Never renumber or reuse a
code; a code that is no longer raised stays with ``retired=True`` (clients
and support scripts may still match on it).

Ranges (one hundred per area; a new area takes the next free hundred and
adds its line here)::

    ZID-00xx  transport, authentication, general        (general.py)
    ZID-01xx  CA hierarchy, key ceremony, HSM            (general.py)
    ZID-09xx  configuration, operations                  (general.py)
    ZID-11xx  UZI-pas verification                       (uzi.py)
    ZID-12xx  issuance cycle, certificates, revocation   (issuance.py)
    ZID-13xx  enrolment tokens / registration QR         (issuance.py)
    ZID-15xx  policy versions, approval, validation      (policy.py)
    ZID-16xx..19xx  portal flows: registration, login, organisations, revocation
                    (flows.py)
    ZID-20xx  ZORG-ID smartcard                          (smartcard.py)

Areas keep their rows as plain tuples ``(code, status name, cause en, solution
en, cause nl, solution nl)`` (:data:`issuer.errors.spec.Row`); they are merged
into :data:`CATALOGUE` with :func:`~issuer.errors.spec.from_rows` so that there
is one catalogue and one document. All tables live in this package, so no
other package's ``__init__`` has to stay empty to let this one import them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from issuer.errors.codes import Code
from issuer.errors.flows import FLOW_ERROR_TABLE
from issuer.errors.general import GENERAL_ERRORS
from issuer.errors.issuance import ISSUANCE_ERROR_TABLE
from issuer.errors.policy import POLICY_ERROR_TABLE
from issuer.errors.smartcard import SMARTCARD_ERROR_TABLE
from issuer.errors.spec import DOMAIN, ErrorSpec, Status, from_rows
from issuer.errors.uzi import UZI_ERROR_TABLE

__all__ = [
    "CATALOGUE",
    "DOMAIN",
    "LOCALES",
    "Code",
    "ErrorSpec",
    "LocalizedText",
    "Status",
    "ZorgIdError",
    "localized",
]


def _catalogue(*specs: ErrorSpec) -> Mapping[str, ErrorSpec]:
    table: dict[str, ErrorSpec] = {}
    for spec in specs:
        if spec.code in table:
            raise ValueError(f"error code {spec.code} appears twice in the catalogue")
        table[spec.code] = spec
    return MappingProxyType(dict(sorted(table.items())))


CATALOGUE: Final[Mapping[str, ErrorSpec]] = _catalogue(
    *GENERAL_ERRORS,
    *from_rows(UZI_ERROR_TABLE),
    *from_rows(ISSUANCE_ERROR_TABLE),
    *from_rows(POLICY_ERROR_TABLE),
    *from_rows(FLOW_ERROR_TABLE),
    *from_rows(SMARTCARD_ERROR_TABLE),
)


class ZorgIdError(Exception):
    """The engine's one domain error, identified by a catalogue code.

    ``detail`` says, for this occurrence, what was got and what was expected
    (in English, for logs and the status message). It and ``metadata``
    (copied into ``ErrorInfo.metadata``) reach the caller, so they must never
    contain secrets: no PINs, tokens, keys or personal data beyond what the
    caller itself sent.
    """

    code: Code
    spec: ErrorSpec
    detail: str
    metadata: Mapping[str, str]

    def __init__(
        self,
        code: Code,
        detail: str = "",
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        spec = CATALOGUE.get(code)
        if spec is None:
            raise ValueError(
                f"unknown error code {code!r}; expected one of the catalogue in issuer/errors/"
            )
        self.code = Code(code)  # a str from an untyped caller (a test) becomes its member
        self.spec = spec
        self.detail = detail
        self.metadata = MappingProxyType(dict(metadata or {}))
        super().__init__(self.message)

    @property
    def status(self) -> Status:
        """The canonical status code the transport reports."""
        return self.spec.status

    @property
    def message(self) -> str:
        """English one-liner: code, cause and (if any) this occurrence's detail."""
        text = f"{self.code}: {self.spec.cause_en}"
        return f"{text} {self.detail}" if self.detail else text


@dataclass(frozen=True, kw_only=True)
class LocalizedText:
    """A message in one locale (BCP 47 tag), as ``google.rpc.LocalizedMessage`` carries it."""

    locale: str
    message: str


LOCALES: Final = ("en", "nl-NL")
"""Locales of every catalogue text, in the order they are sent."""


def localized(spec: ErrorSpec) -> tuple[LocalizedText, ...]:
    """Cause and solution of ``spec`` in each of :data:`LOCALES`."""
    return (
        LocalizedText(locale="en", message=f"{spec.cause_en} {spec.solution_en}"),
        LocalizedText(locale="nl-NL", message=f"{spec.cause_nl} {spec.solution_nl}"),
    )
