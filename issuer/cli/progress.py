"""Progress bars of long CLI jobs, on a terminal only (docs/cli.md, "Progress").

Why one helper: every long job (``ocsp refresh``, ``audit verify``, ``policy
dry-run``, ``uzi watch --once``) shows progress the same way, and none of them
may print it where nobody watches: stderr that is not a terminal (a pipe, a
cron mail, a CI log) gets nothing, so scripts and ``--json`` output stay clean.
The bar is drawn by ``rich`` (docs/decisions/cli.md).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

Update = Callable[[int, int | None], None]
"""``update(done, total)``: how far the job is; ``total`` None keeps the one known."""


def shown(stream: TextIO | None = None) -> bool:
    """Whether progress is drawn: only when *stream* (default stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def _ignore(done: int, total: int | None = None) -> None:
    return None


@contextlib.contextmanager
def progress(label: str, *, total: int | None = None, enabled: bool = True) -> Iterator[Update]:
    """A bar on stderr for the ``with`` block; *total* None: a job of unknown length
    (one call to the engine), shown as a pulsing bar with the time elapsed.

    Yields the ``update`` function the job calls; off a terminal, or with
    *enabled* False (a ``--json`` run), that function does nothing and nothing
    is drawn. The bar stays on screen at its last state when the block ends.
    """
    if not (enabled and shown()):
        yield _ignore
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    if total is not None:
        columns += [MofNCompleteColumn(), TimeRemainingColumn()]
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=Console(file=sys.stderr)) as bar:
        task = bar.add_task(label, total=total)

        def update(done: int, new_total: int | None = None) -> None:
            if new_total is not None:
                bar.update(task, completed=done, total=new_total)
            else:
                bar.update(task, completed=done)

        yield update
