"""Entry point of the worker processes (importable by multiprocessing's spawn)."""

from __future__ import annotations

from typing import Any

from tests.audit.helpers import worker_append


def run(
    url: str, pg_schema: str | None, key_pem: bytes, count: int, actor: str, barrier: Any
) -> None:
    """Set up, meet the other worker at *barrier*, then append: both write at the same time."""
    worker_append(url, pg_schema, key_pem, count, actor, lambda: barrier.wait(60))
