"""The one strict TOML reader for every file the project reads (config, policy, ceremony).

Why one: each file kind refused bad input its own way; here the rules are the same
for all: UTF-8 only (a stray Latin-1 byte is refused, not guessed), TOML 1.0 as
``tomllib`` reads it (a duplicate key or table is refused). Unknown keys are the
schema's business, not the reader's. Lives in ``policies`` because that is the one
package both ``policies`` and ``issuer`` may import.
"""

from __future__ import annotations

import tomllib
from typing import Any

__all__ = ["TomlError", "read_toml"]


class TomlError(ValueError):
    """The text is not UTF-8 or not valid TOML; ``str()`` is the decoder's own message.

    Each reader wraps it in its own error (``ZID-0901``, ``PolicyError``, ...), so
    the messages operators see are the ones they saw before.
    """


def read_toml(source: str | bytes) -> dict[str, Any]:
    """The TOML document in ``source``; bytes must be UTF-8. Raises :class:`TomlError`."""
    try:
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        return tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TomlError(str(exc)) from None
