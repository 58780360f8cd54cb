"""The OCSP request parser: :func:`ocsp.codec.parse_request` (both of its paths).

Documented refusal: :class:`MalformedRequest` (answered ``malformedRequest``).
Besides not crashing, the fast path must agree with asn1crypto's on what it
accepts (its docstring's promise): a request it reads must read the same there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fuzz.refusals import refused
from ocsp.codec import MalformedRequest, _parse_asn1, _parse_simple, parse_request


class PathsDisagree(AssertionError):
    """The fast path read a request differently from asn1crypto."""


def build(work: Path) -> Callable[[bytes], None]:
    def one(data: bytes) -> None:
        with refused(MalformedRequest):
            parse_request(data)
        simple = _parse_simple(data)
        if simple is not None:
            try:
                full = _parse_asn1(data)
            except MalformedRequest as exc:
                raise PathsDisagree(f"fast path read it, asn1crypto refused: {exc}") from exc
            if full != simple:
                raise PathsDisagree(f"fast path {simple!r} != asn1crypto {full!r}")

    return one
