"""``[log]``: how the engine's processes write their log lines (text or JSON lines)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from issuer.config.base import doc


class LogFormat(enum.StrEnum):
    """How a log line is written: for a person at a terminal, or for a log collector."""

    TEXT = "text"
    JSON = "json"


class LogLevel(enum.StrEnum):
    """The least severe level written."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


@dataclass(frozen=True, kw_only=True)
class LogConfig:
    """The log lines of zorgid serve, zorgid dev and zorgid ocsp serve (``[log]``).

    Fields, the access lines and what is never logged: docs/operations.md, "Logs".
    """

    format: LogFormat = field(
        default=LogFormat.TEXT,
        metadata=doc(
            "text: one readable line per event (time, level, logger, message, then the access "
            "lines' fields as key=value). json: one JSON object per line with time (RFC 3339, "
            "UTC), level, logger, message, pid, the access lines' fields and exception. "
            "--log-format on the command line overrides it.",
            why="text reads well in a terminal (the development default); json is what a log "
            "collector (journald, Loki, Elasticsearch) parses without a pattern to maintain.",
        ),
    )
    level: LogLevel = field(
        default=LogLevel.INFO,
        metadata=doc(
            "The least severe level written. The access lines (loggers zorgid.access.grpc and "
            "zorgid.access.http) are INFO: WARNING and ERROR leave them out. --log-level on "
            "the command line overrides it.",
        ),
    )
