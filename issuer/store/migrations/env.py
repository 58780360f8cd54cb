"""Alembic environment: always run with a connection handed in by :mod:`issuer.store.migrate`."""

from __future__ import annotations

from alembic import context

from issuer.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "alembic was started without a connection; run migrations with "
        "`zorgid db upgrade` or issuer.store.upgrade(), not the alembic command"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
