"""The shape of a catalogue entry: :class:`Status`, :class:`ErrorSpec` and the area rows.

Pure data types with no imports of the project, so every table module of this
package can import them without a cycle.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

Row = tuple[str, str, str, str, str, str]
"""An area's plain row: ``(code, status name, cause en, solution en, cause nl, solution nl)``."""

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


def from_rows(rows: Iterable[Row]) -> tuple[ErrorSpec, ...]:
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
