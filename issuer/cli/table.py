"""Listings of the CLI printed row by row (``certs list``, ``audit list|export``).

Why fixed widths and not a table library that sizes its columns: such a table
holds every row before it prints the first, and ``certs list --all`` or
``audit list`` may stream millions of rows. Each column has the width its
values have by construction (a serial, a date); a longer text is cut with
``~`` and the last column is never cut (docs/decisions/cli.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A column's title and width (characters); the last column's width is ignored."""

    title: str
    width: int


class Table:
    """Prints a header, then each row as it comes, in fixed-width columns."""

    GAP = "  "

    def __init__(self, columns: Sequence[Column]) -> None:
        self._columns = list(columns)

    def header(self) -> str:
        """The titles and a rule under them."""
        titles = self.row([c.title for c in self._columns])
        rule = self.GAP.join("-" * max(c.width, len(c.title)) for c in self._columns)
        return f"{titles}\n{rule}"

    def row(self, cells: Sequence[str]) -> str:
        """One line: each cell padded or cut to its column, the last as it is."""
        out = []
        for index, (cell, column) in enumerate(zip(cells, self._columns, strict=True)):
            if index == len(self._columns) - 1:
                out.append(cell)
            elif len(cell) > column.width:
                out.append(cell[: column.width - 1] + "~")
            else:
                out.append(cell.ljust(column.width))
        return self.GAP.join(out).rstrip()


def stdout_closed() -> int:
    """The reader of a listing went away (``| head``): stop there, exit 0, no traceback.

    stdout is pointed at /dev/null so the interpreter's last flush does not
    fail again on the closed pipe.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0
