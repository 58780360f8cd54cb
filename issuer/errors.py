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

Adding an error: add one entry to :data:`CATALOGUE` in the range of your
area, run ``python scripts/gen_errors_doc.py``. Never renumber or reuse a
code; a code that is no longer raised stays with ``retired=True`` (clients
and support scripts may still match on it).

Ranges (one hundred per area; a new area takes the next free hundred and
adds its line here)::

    ZID-00xx  transport, authentication, general
    ZID-01xx  CA hierarchy, key ceremony, HSM
    ZID-09xx  configuration, operations
    ZID-11xx  UZI-pas verification (rows kept in issuer/uzi/error_table.py, merged below)
    ZID-12xx  issuance cycle, certificates, revocation (issuer/issuance/errors.py)
    ZID-13xx  enrolment tokens / registration QR (issuer/issuance/errors.py)
    ZID-16xx..19xx  portal flows: registration, login, organisations, revocation
                    (issuer/flows/errors.py)
    ZID-15xx  policy versions, approval, validation at proposal (issuer/policy_errors.py)

An area may keep its rows beside its code as plain tuples
``(code, status name, cause en, solution en, cause nl, solution nl)``, as
``issuer/uzi/error_table.py`` does; they are merged into :data:`CATALOGUE` with
:func:`_from_rows` so that there is still one catalogue and one document.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from issuer.flows.errors import FLOW_ERROR_TABLE
from issuer.issuance.errors import ISSUANCE_ERROR_TABLE
from issuer.policy_errors import POLICY_ERROR_TABLE
from issuer.uzi.error_table import UZI_ERROR_TABLE

DOMAIN: Final = "zorg-id"
"""``google.rpc.ErrorInfo.domain`` of every error the engine raises."""

_CODE_PATTERN: Final = re.compile(r"^ZID-\d{4}$")


class Status(enum.IntEnum):
    """Canonical status codes, numbered as ``google.rpc.Code`` (and gRPC).

    Kept here, not taken from ``grpc.StatusCode``, so that domain code can
    raise errors without importing the transport.
    """

    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


@dataclass(frozen=True, kw_only=True)
class ErrorSpec:
    """One catalogue entry: what went wrong and what the reader can do about it.

    ``cause_*`` and ``solution_*`` are written for the person who will read
    them (a portal user, an operator), in plain language, and never contain
    request data: the per-occurrence detail travels separately.
    """

    code: str
    status: Status
    title: str
    cause_en: str
    solution_en: str
    cause_nl: str
    solution_nl: str
    retired: bool = False

    def __post_init__(self) -> None:
        if not _CODE_PATTERN.match(self.code):
            raise ValueError(f"error code {self.code!r} does not match ZID-nnnn; use e.g. ZID-0123")
        for name in ("title", "cause_en", "solution_en", "cause_nl", "solution_nl"):
            if not getattr(self, name).strip():
                raise ValueError(f"error {self.code}: {name} is empty; every text is required")


def _from_rows(rows: Iterable[tuple[str, str, str, str, str, str]]) -> tuple[ErrorSpec, ...]:
    """Catalogue entries from an area's plain rows; the title is the cause's first clause."""
    specs = []
    for code, status, cause_en, solution_en, cause_nl, solution_nl in rows:
        title = re.split(r"[.:;]", cause_en, maxsplit=1)[0].strip()
        specs.append(
            ErrorSpec(
                code=code,
                status=Status[status],
                title=title,
                cause_en=cause_en,
                solution_en=solution_en,
                cause_nl=cause_nl,
                solution_nl=solution_nl,
            )
        )
    return tuple(specs)


def _catalogue(*specs: ErrorSpec) -> Mapping[str, ErrorSpec]:
    table: dict[str, ErrorSpec] = {}
    for spec in specs:
        if spec.code in table:
            raise ValueError(f"error code {spec.code} appears twice in the catalogue")
        table[spec.code] = spec
    return MappingProxyType(dict(sorted(table.items())))


CATALOGUE: Final[Mapping[str, ErrorSpec]] = _catalogue(
    ErrorSpec(
        code="ZID-0001",
        status=Status.INTERNAL,
        title="Internal error",
        cause_en="The engine met an unexpected internal error; nothing was changed.",
        solution_en="Try again later. If it persists, contact the ZORG-ID service desk "
        "and give the time of the request.",
        cause_nl="Er trad een onverwachte interne fout op; er is niets gewijzigd.",
        solution_nl="Probeer het later opnieuw. Blijft het gebeuren, neem dan contact op met "
        "de ZORG-ID servicedesk en noem het tijdstip van het verzoek.",
    ),
    ErrorSpec(
        code="ZID-0002",
        status=Status.UNAUTHENTICATED,
        title="No verified client certificate",
        cause_en="The call did not come with a client certificate that the engine verified.",
        solution_en="Connect over mutual TLS with a client certificate issued by the client CA "
        "configured in [tls] client_ca.",
        cause_nl="De aanroep had geen clientcertificaat dat de engine heeft geverifieerd.",
        solution_nl="Maak verbinding via wederzijdse TLS met een clientcertificaat van de CA "
        "die in [tls] client_ca is ingesteld.",
    ),
    ErrorSpec(
        code="ZID-0003",
        status=Status.PERMISSION_DENIED,
        title="Role not allowed for this method",
        cause_en="The caller's client certificate has no role that may call this method.",
        solution_en="Use a client certificate with the right role, or ask the operator to "
        "map this certificate to that role in [roles].",
        cause_nl="Het clientcertificaat van de aanroeper heeft geen rol die deze methode mag "
        "aanroepen.",
        solution_nl="Gebruik een clientcertificaat met de juiste rol, of vraag de beheerder dit "
        "certificaat in [roles] aan die rol te koppelen.",
    ),
    ErrorSpec(
        code="ZID-0004",
        status=Status.UNAVAILABLE,
        title="Temporarily unavailable",
        cause_en="A component the engine needs (such as the HSM or the database) is "
        "temporarily unavailable; nothing was changed.",
        solution_en="Retry with back-off; the engine recovers without a restart.",
        cause_nl="Een onderdeel dat de engine nodig heeft (zoals de HSM of de database) is "
        "tijdelijk niet beschikbaar; er is niets gewijzigd.",
        solution_nl="Probeer het na een korte wachttijd opnieuw; de engine herstelt zonder "
        "herstart.",
    ),
    ErrorSpec(
        code="ZID-0005",
        status=Status.INVALID_ARGUMENT,
        title="Malformed request",
        cause_en="A field of the request is missing or malformed.",
        solution_en="Correct the field named in the message and send the request again.",
        cause_nl="Een veld van het verzoek ontbreekt of is onjuist opgebouwd.",
        solution_nl="Verbeter het veld dat in de melding wordt genoemd en verstuur het "
        "verzoek opnieuw.",
    ),
    ErrorSpec(
        code="ZID-0101",
        status=Status.FAILED_PRECONDITION,
        title="CA certificates not available",
        cause_en="The CA certificates have not been created yet or cannot be read.",
        solution_en="Run the key ceremony (zorgid ca init) so that it writes the root, "
        "issuing CA and OCSP responder certificates to <data_dir>/ca/.",
        cause_nl="De CA-certificaten zijn nog niet aangemaakt of zijn niet leesbaar.",
        solution_nl="Voer de sleutelceremonie uit (zorgid ca init) zodat die de root-, "
        "uitgevende CA- en OCSP-respondercertificaten in <data_dir>/ca/ schrijft.",
    ),
    ErrorSpec(
        code="ZID-0110",
        status=Status.FAILED_PRECONDITION,
        title="HSM key does not match its certificate",
        cause_en="A key the configuration names on the HSM (issuing CA, OCSP responder or "
        "audit checkpoint key) is not the key of its certificate or public key in the CA "
        "folder, so what it signed would not verify; the engine did not start issuing.",
        solution_en="Correct the key label in <data_dir>/ca/ceremony.json, or restore the "
        "token or the CA folder from the ceremony backup, so each label names the key of "
        "its certificate; then start the engine again.",
        cause_nl="Een sleutel die de configuratie in de HSM aanwijst (uitgevende CA, "
        "OCSP-responder of audit-checkpointsleutel) hoort niet bij het certificaat of de "
        "publieke sleutel in de CA-map, zodat wat ermee ondertekend wordt niet klopt; de "
        "engine is niet met uitgeven begonnen.",
        solution_nl="Corrigeer het sleutellabel in <data_dir>/ca/ceremony.json, of herstel "
        "het token of de CA-map uit de back-up van de sleutelceremonie, zodat elk label de "
        "sleutel van zijn certificaat aanwijst; start de engine daarna opnieuw.",
    ),
    ErrorSpec(
        code="ZID-0901",
        status=Status.FAILED_PRECONDITION,
        title="Configuration invalid",
        cause_en="The configuration file has errors; the engine did not start.",
        solution_en="Fix every problem listed and check again with: zorgid config check FILE.",
        cause_nl="Het configuratiebestand bevat fouten; de engine is niet gestart.",
        solution_nl="Herstel alle genoemde problemen en controleer opnieuw met: "
        "zorgid config check BESTAND.",
    ),
    *_from_rows(UZI_ERROR_TABLE),
    *_from_rows(ISSUANCE_ERROR_TABLE),
    *_from_rows(POLICY_ERROR_TABLE),
    *_from_rows(FLOW_ERROR_TABLE),
)


class ZorgIdError(Exception):
    """The engine's one domain error, identified by a catalogue code.

    ``detail`` says, for this occurrence, what was got and what was expected
    (in English, for logs and the status message). It and ``metadata``
    (copied into ``ErrorInfo.metadata``) reach the caller, so they must never
    contain secrets: no PINs, tokens, keys or personal data beyond what the
    caller itself sent.
    """

    code: str
    spec: ErrorSpec
    detail: str
    metadata: Mapping[str, str]

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        spec = CATALOGUE.get(code)
        if spec is None:
            raise ValueError(
                f"unknown error code {code!r}; expected one of the catalogue in issuer/errors.py"
            )
        self.code = code
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
