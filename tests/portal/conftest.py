"""The portal's browser tests run against the flows' real engine (mTLS, its own clock)."""

from __future__ import annotations

from tests.flows.conftest import (
    cards,
    database,
    eng,
    engine,
    engine_parts,
    flows_ca,
    migrated,
    migrated_db,
    phones,
    second_portal,
    test_pki,
)

__all__ = [
    "cards",
    "database",
    "eng",
    "engine",
    "engine_parts",
    "flows_ca",
    "migrated",
    "migrated_db",
    "phones",
    "second_portal",
    "test_pki",
]
