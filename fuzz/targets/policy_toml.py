"""The policy TOML loader: what :func:`policies.load_policy` does with a document's bytes.

Documented refusals: :class:`TomlError` (not UTF-8, not TOML) and :class:`PolicyError`
(the schema's refusal, naming the key).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fuzz.refusals import refused
from policies import PolicyError, parse_policy
from policies.strict_toml import TomlError, read_toml


def build(work: Path) -> Callable[[bytes], None]:
    def one(data: bytes) -> None:
        with refused(TomlError, PolicyError):
            parse_policy(read_toml(data))

    return one
