"""Entry point of the worker processes (importable by multiprocessing's spawn)."""

from __future__ import annotations

from typing import Any

from tests.audit.helpers import worker_append


def run(url: str, pg_schema: str | None, key_pem: bytes, count: int, actor: str, go: Any) -> None:
    """Wait for the start signal, then append; both workers start together."""
    worker_append(url, pg_schema, key_pem, count, actor, lambda: go.wait(60))
