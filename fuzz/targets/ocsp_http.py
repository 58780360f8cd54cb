"""The OCSP/CRL HTTP front (:mod:`ocsp.http`) with the real responder, in-process.

The application is the one ``zorgid serve`` runs (:class:`issuer.ocsp_wiring.OcspRuntime`:
the development environment's store, CA and responder key on its token); each input
becomes one request handed to the application's handler, no socket involved.

Input: ``METHOD SP PATH LF CONTENT-TYPE LF BODY`` (latin-1 for the first two lines).

Documented answers: any HTTP status but 500. Because the front answers every
failure with ``tryLater`` (``never_500``) and the responder with ``tryLater`` too,
an exception they caught is found in their ERROR log record: that is a crash as well.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from aiohttp import streams, web
from aiohttp.test_utils import make_mocked_request

from fuzz.env import config_file
from issuer.config import load_config
from issuer.ocsp_wiring import OcspRuntime
from issuer.wiring import hsm_opener

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
    app = runtime.app()
    loop = asyncio.new_event_loop()
    app.freeze()
    errors = _Errors()
    logging.getLogger("ocsp").addHandler(errors)
    logging.getLogger("ocsp").propagate = False

    async def handle(method: str, path: str, content_type: str, body: bytes) -> int:
        protocol = mock.Mock(_reading_paused=False)
        payload = streams.StreamReader(protocol, 2**16, loop=loop)
        payload.feed_data(body)
        payload.feed_eof()
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        try:
            request = make_mocked_request(
                method, path, headers=headers, app=app, payload=payload, loop=loop
            )
        except ValueError:
            return 400  # not a request line aiohttp's parser would let through
        try:
            response = await app._handle(request)
        except web.HTTPException as exc:
            return exc.status
        return response.status

    def one(data: bytes) -> None:
        parsed = parse(data[: MAX_BODY + 8192])
        if parsed is None:
            return
        errors.records.clear()
        status = loop.run_until_complete(handle(*parsed))
        if errors.records:
            record = errors.records[0]
            raise CaughtFailure(f"{record.name}: {record.getMessage()}") from (
                record.exc_info[1] if record.exc_info else None
            )
        if status >= 500 and status != 503:
            raise CaughtFailure(f"HTTP {status} for {parsed[0]} {parsed[1][:80]!r}")

    return one
