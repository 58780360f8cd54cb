"""Alembic migrations of the engine's schema, configured in code (no alembic.ini)."""
