"""What counts as a crash: any exception but a target's documented refusals.

Each target documents the errors it answers hostile input with (its docstrings
and docs/errors.md); a target lets everything else propagate, so the runner
(:func:`fuzz.run.guarded`) reports it with its traceback and keeps the input.
A :class:`ZorgIdError` is a refusal only with a code of its own: ZID-0001 is the
internal error the gRPC guard makes of an unexpected exception, so it is a crash
too. Hangs (over one second an input) and memory blow-ups are libFuzzer's
``-timeout`` and ``-rss_limit_mb`` (:mod:`fuzz.run`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from issuer.errors import Code, ZorgIdError

INTERNAL: Code = Code.ZID_0001


class UndocumentedRefusal(AssertionError):
    """A target refused with a documented type but an undocumented meaning (e.g. ZID-0001)."""


@contextmanager
def refused(
    *documented: type[BaseException], check: Callable[[BaseException], None] | None = None
) -> Iterator[None]:
    """Swallow a documented refusal of *documented* types; re-raise anything else.

    *check* looks closer at a documented one (raises :class:`UndocumentedRefusal`).
    """
    try:
        yield
    except documented as exc:
        if isinstance(exc, ZorgIdError) and exc.code == INTERNAL:
            raise UndocumentedRefusal(f"internal error for hostile input: {exc}") from exc
        if check is not None:
            check(exc)
