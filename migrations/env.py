"""Alembic environment: runs on SQLModel.metadata, for SQLite and PostgreSQL alike."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import cocreate.models  # noqa: F401  (registers every table on SQLModel.metadata)
from cocreate.db import make_engine
from cocreate.settings import Settings

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `cocreate migrate`")
run_migrations()
