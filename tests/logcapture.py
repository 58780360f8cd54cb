"""An access logger's lines captured as both formats write them (issuer.logs)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from issuer.logs import JsonFormatter, TextFormatter


@dataclass
class Captured:
    json: io.StringIO
    text: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        """The JSON lines, parsed back."""
        return [json.loads(line) for line in self.json.getvalue().splitlines()]


@contextmanager
def capture(logger_name: str) -> Iterator[Captured]:
    """The lines of *logger_name* at INFO, in the JSON and the text format at once."""
    streams = Captured(io.StringIO(), io.StringIO())
    logger = logging.getLogger(logger_name)
    handlers = [logging.StreamHandler(streams.json), logging.StreamHandler(streams.text)]
    handlers[0].setFormatter(JsonFormatter())
    handlers[1].setFormatter(TextFormatter())
    previous = logger.level
    logger.setLevel(logging.INFO)
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield streams
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.setLevel(previous)
