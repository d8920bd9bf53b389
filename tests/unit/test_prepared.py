"""Statements run on the DB-API connection (db.Prepared, db.DriverTransaction), both databases:
the same values in and out as through SQLAlchemy, its exceptions, and the pool kept whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, bindparam, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cocreate.db import DriverTransaction, SessionTransaction, prepared
from cocreate.types import UTCDateTime

metadata = MetaData()
probe = Table(
    "prepared_probe",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime()),
    Column("data", JSON),
    Column("label", String(20), unique=True),
)
INSERT = (
    probe.insert()
    .values(
        id=bindparam("id"), at=bindparam("at"), data=bindparam("data"), label=bindparam("label")
    )
    .returning(probe.c.id, probe.c.at, probe.c.data)
)
READ = select(probe.c.id + 1, probe.c.at, probe.c.data, probe.c.label).where(
    probe.c.id == bindparam("id")
)


@pytest.fixture
def table(engine: Engine) -> Iterator[Engine]:
    metadata.create_all(engine)
    try:
        yield engine
    finally:
        metadata.drop_all(engine)


def test_values_go_in_and_come_out_as_through_sqlalchemy(table: Engine) -> None:
    at = datetime(2026, 6, 3, 12, 0, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    tx = DriverTransaction(table)
    try:
        stored = tx.first(INSERT, {"id": 7, "at": at, "data": {"a": [1, 2]}, "label": "x"})
        tx.commit()
    finally:
        tx.close()
    assert stored == (7, at.astimezone(UTC), {"a": [1, 2]})
    with table.connect() as conn:
        through_sqlalchemy = tuple(conn.execute(READ, {"id": 7}).one())
    tx = DriverTransaction(table)
    try:
        assert tx.first(READ, {"id": 7}) == through_sqlalchemy == (8, at, {"a": [1, 2]}, "x")
        assert tx.first(READ, {"id": 8}) is None
    finally:
        tx.close()
    assert table.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_constraint_raises_sqlalchemys_integrity_error(table: Engine) -> None:
    row = {"id": 1, "at": None, "data": None, "label": "same"}
    tx = DriverTransaction(table)
    try:
        tx.first(INSERT, row)
        with pytest.raises(IntegrityError):
            tx.first(INSERT, {**row, "id": 2})
    finally:
        tx.close()
    assert table.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_closing_rolls_back_what_was_not_committed(table: Engine) -> None:
    tx = DriverTransaction(table)
    try:
        tx.first(INSERT, {"id": 3, "at": None, "data": None, "label": None})
    finally:
        tx.close()
    with Session(table) as session:
        assert SessionTransaction(session).first(READ, {"id": 3}) is None


def test_a_statement_is_compiled_once_per_kind_of_database(table: Engine) -> None:
    assert prepared(READ, table.dialect) is prepared(READ, table.dialect)
    assert prepared(READ, table.dialect) is not prepared(INSERT, table.dialect)


def test_a_locked_database_raises_sqlalchemys_error_and_keeps_the_pool_whole(
    database_url: str, table: Engine
) -> None:
    """SQLite: another writer holds the lock longer than busy_timeout. The app's error page
    knows SQLAlchemy's OperationalError (503), and the connection goes back to the pool."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from cocreate.db import make_engine

    impatient = make_engine(database_url)
    event.listen(
        impatient, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=50")
    )
    holder = DriverTransaction(table)  # BEGIN IMMEDIATE: holds the write lock
    try:
        with pytest.raises(OperationalError):
            DriverTransaction(impatient)
        assert impatient.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        holder.close()
        impatient.dispose()
