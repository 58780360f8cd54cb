"""The engine's log lines: one setup for every process, text or JSON lines (``[log]``).

``zorgid serve``, ``zorgid dev``, ``zorgid ocsp serve`` and the further processes
of ``[server] processes`` / ``[ocsp] processes`` all call :func:`configure`, so a
line looks the same whichever process wrote it. A record may carry structured
fields in its ``fields`` attribute (``logger.info(msg, extra={"fields": {...}})``):
the access lines do (:data:`GRPC_ACCESS`, :data:`HTTP_ACCESS`). The text format
appends them as ``key=value``; the JSON format makes them keys of the object.
Why the standard library and not python-json-logger: docs/decisions/logs.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from issuer.config import LogConfig, LogFormat, LogLevel

__all__ = [
    "FIELDS",
    "GRPC_ACCESS",
    "HTTP_ACCESS",
    "JsonFormatter",
    "LogSettings",
    "TextFormatter",
    "add_arguments",
    "configure",
    "current",
    "settings_for",
]

FIELDS: Final = "fields"
"""The record attribute holding a line's structured fields (a dict of JSON values)."""
GRPC_ACCESS: Final = "zorgid.access.grpc"
"""The logger of the one access line per gRPC call (:mod:`issuer.server.call_metrics`)."""
HTTP_ACCESS: Final = "zorgid.access.http"
"""The logger of the one access line per OCSP/CRL HTTP request (:mod:`ocsp.front`)."""

_TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s %(message)s"
_TEXT_FORMAT_PID: Final = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
_BARE: Final = re.compile(r"[A-Za-z0-9_.:/@+=-]*")
"""Field values written as they are in text; anything else (spaces, quotes, control
characters) is written JSON-quoted, so a value can never start a line of its own."""
_RESERVED: Final = frozenset({"time", "level", "logger", "message", "pid", "exception", "stack"})


@dataclass(frozen=True, kw_only=True)
class LogSettings:
    """What :func:`configure` installs: a format and a level (picklable, for spawned processes)."""

    format: LogFormat = LogFormat.TEXT
    level: LogLevel = LogLevel.INFO


def settings_for(config: LogConfig | None, args: argparse.Namespace | None = None) -> LogSettings:
    """``[log]`` of the config, overridden by ``--log-format`` / ``--log-level`` when given."""
    config = config or LogConfig()
    given_format = getattr(args, "log_format", None) if args is not None else None
    given_level = getattr(args, "log_level", None) if args is not None else None
    return LogSettings(
        format=LogFormat(given_format) if given_format else config.format,
        level=LogLevel(given_level) if given_level else config.level,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--log-format`` and ``--log-level``: the ``[log]`` keys, without editing the file."""
    parser.add_argument(
        "--log-format",
        choices=[f.value for f in LogFormat],
        default=None,
        help="text or json (one JSON object per line); default: [log] format of the config, text",
    )
    parser.add_argument(
        "--log-level",
        choices=[level.value for level in LogLevel],
        default=None,
        help="default: [log] level of the config, INFO",
    )


def _text_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    if value is None:
        return "-"
    text = str(value)
    return text if _BARE.fullmatch(text) and text else json.dumps(text)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, FIELDS, None)
    return dict(fields) if isinstance(fields, dict) else {}


class TextFormatter(logging.Formatter):
    """The classic line (time, level, logger, message) plus the record's fields as key=value."""

    def __init__(self, *, pid: bool = False) -> None:
        super().__init__(_TEXT_FORMAT_PID if pid else _TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # fields stay on the message's own line
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields.items())
        return f"{head} {pairs}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339, UTC), level, logger, message, pid, fields.

    An exception goes into ``exception`` (its formatted traceback, one string), so a
    traceback never spreads over lines a collector would read as separate events.
    A field named like a fixed key (``time``, ``level``, ...) is dropped, never overwrites.
    """

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for key, value in _fields(record).items():
            if key not in _RESERVED:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class _Handler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure` installs; replaced, never stacked, when called again."""


_CURRENT: LogSettings | None = None


def configure(settings: LogSettings, *, stream: TextIO | None = None, pid: bool = False) -> None:
    """Send every logger's records to *stream* (stderr) in *settings*' format and level.

    Called again (``zorgid dev`` logs its first-start preparation before its config
    exists, then re-reads ``[log]``), it replaces its own handler. *pid* adds the process
    id to text lines (further server processes; JSON lines always carry it).
    """
    global _CURRENT
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
        handler.close()
    handler = _Handler(stream if stream is not None else sys.stderr)
    handler.setFormatter(
        JsonFormatter() if settings.format is LogFormat.JSON else TextFormatter(pid=pid)
    )
    root.addHandler(handler)
    root.setLevel(settings.level.value)
    _CURRENT = settings


def current() -> LogSettings:
    """What :func:`configure` last installed in this process (the defaults before that)."""
    return _CURRENT or LogSettings()
