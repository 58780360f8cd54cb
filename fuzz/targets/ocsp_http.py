"""The OCSP/CRL HTTP front (:mod:`ocsp.front`) with the real responder, in-process.

The front is the one ``zorgid ocsp serve`` runs (:class:`issuer.ocsp_wiring.OcspRuntime`:
the development environment's store, CA and responder key on its token); each input
becomes one request handed to :meth:`ocsp.front.Front.handle` (what every server adapter
calls), no socket involved.

Input: ``METHOD SP PATH LF CONTENT-TYPE LF BODY`` (latin-1 for the first two lines).

Documented answers: any HTTP status but 500. Because the front answers every
failure with ``tryLater`` and the responder with ``tryLater`` too,
an exception they caught is found in their ERROR log record: that is a crash as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from fuzz.env import config_file
from issuer.config import load_config
from issuer.ocsp_wiring import OcspRuntime
from issuer.wiring import hsm_opener
from ocsp.front import HttpRequest

MAX_BODY = 64 * 1024


class CaughtFailure(AssertionError):
    """The front or the responder caught an unexpected exception (and logged it)."""


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def parse(data: bytes) -> tuple[str, str, str, bytes] | None:
    """(method, path, content type, body) of an input, ``None`` when it has not that form."""
    first, _, rest = data.partition(b"\n")
    content_type, _, body = rest.partition(b"\n")
    method, _, path = first.decode("latin-1").partition(" ")
    if not method.isalpha() or not method.isupper() or not path.startswith("/"):
        return None
    return method, path, content_type.decode("latin-1"), body


def build(work: Path) -> Callable[[bytes], None]:
    config = load_config(config_file(work))
    runtime = OcspRuntime.open(config, open_hsm=hsm_opener(config))
    front = runtime.front()
    errors = _Errors()
    logging.getLogger("ocsp").addHandler(errors)
    logging.getLogger("ocsp").propagate = False

    def handle(method: str, path: str, content_type: str, body: bytes) -> int:
        headers = {"content-type": content_type, "content-length": str(len(body))}
        request = HttpRequest(method=method, raw_path=path, headers=headers, body=body)
        return front.handle(request).status

    def one(data: bytes) -> None:
        parsed = parse(data[: MAX_BODY + 8192])
        if parsed is None:
            return
        errors.records.clear()
        status = handle(*parsed)
        if errors.records:
            record = errors.records[0]
            raise CaughtFailure(f"{record.name}: {record.getMessage()}") from (
                record.exc_info[1] if record.exc_info else None
            )
        if status >= 500 and status != 503:
            raise CaughtFailure(f"HTTP {status} for {parsed[0]} {parsed[1][:80]!r}")

    return one
