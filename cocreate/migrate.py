"""Apply Alembic migrations from code (CLI, tests, `make run`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class ForeignKeysBroken(RuntimeError):
    """A migration left rows whose foreign key points nowhere (SQLite): rolled back."""


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction for migrations, committed when the block ends.

    SQLite: batch mode changes a table by copying it and dropping the old one, and with
    foreign keys on, dropping a table deletes its rows first, and every row that refers to
    them by ON DELETE CASCADE (a round's tallies, ballots and votes). So foreign keys are off
    while migrations run (the pragma only works outside a transaction), and checked whole
    before the commit: a migration that broke one is rolled back.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # on the driver's connection, which is in no transaction yet
            _pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise ForeignKeysBroken(f"foreign keys broken: {broken[:10]}")
        finally:
            if sqlite:
                _pragma(connection, "PRAGMA foreign_keys=ON")


def _pragma(connection: Connection, sql: str) -> None:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config(engine)
    with migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
