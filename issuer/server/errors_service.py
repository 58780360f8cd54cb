"""``zorgid.v1.ErrorCatalogueService``: the error catalogue, served to portals.

A portal's error overview (manual §7 "Probleemoplossing") reads the catalogue
here instead of copying it, and each text is built by the same
:func:`issuer.errors.localized` split as a refusal's ``LocalizedMessage``, so
the overview and the refusals cannot disagree.
"""

from __future__ import annotations

import grpc

from issuer.api.zorgid.v1 import errors_pb2, errors_pb2_grpc
from issuer.errors import CATALOGUE, ErrorSpec


def _texts(spec: ErrorSpec) -> list[errors_pb2.CatalogueText]:
    """Cause and solution per locale, in the order refusals send them (:data:`LOCALES`)."""
    return [
        errors_pb2.CatalogueText(locale="en", cause=spec.cause_en, solution=spec.solution_en),
        errors_pb2.CatalogueText(locale="nl-NL", cause=spec.cause_nl, solution=spec.solution_nl),
    ]


def catalogue_entry(spec: ErrorSpec) -> errors_pb2.CatalogueEntry:
    """One catalogue row as protobuf."""
    return errors_pb2.CatalogueEntry(
        code=spec.code,
        status=spec.status.name,
        title=spec.title,
        texts=_texts(spec),
        retired=spec.retired,
    )


class ErrorCatalogueServicer(errors_pb2_grpc.ErrorCatalogueServiceServicer):
    """The whole catalogue, built once: it is constant for the life of the process."""

    def __init__(self) -> None:
        self._answer = errors_pb2.ListErrorsResponse(
            errors=[catalogue_entry(spec) for spec in CATALOGUE.values()]
        )

    def ListErrors(
        self, request: errors_pb2.ListErrorsRequest, context: grpc.ServicerContext
    ) -> errors_pb2.ListErrorsResponse:
        return self._answer
