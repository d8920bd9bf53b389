"""Statements run on the DB-API connection (db.Prepared, db.DriverTransaction), both databases:
the same values in and out as through SQLAlchemy, its exceptions, and the pool kept whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cocreate.db import DriverTransaction, SessionTransaction, make_engine, prepared
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


def test_only_a_core_select_that_changes_and_locks_nothing_reads(table: Engine) -> None:
    """`Prepared.reads`: what `DriverTransaction(reads_alone=True)` may run outside a
    transaction. Anything that writes, locks or is not Core counts as a write."""
    dialect = table.dialect
    inserted = probe.insert().values(id=bindparam("id")).returning(probe.c.id).cte("inserted")
    assert prepared(READ, dialect).reads
    assert prepared(select(func.count()).select_from(probe.alias("updated_rows")), dialect).reads
    assert not prepared(INSERT, dialect).reads
    assert not prepared(probe.update().values(label="x"), dialect).reads
    assert not prepared(text("SELECT 1"), dialect).reads
    if dialect.name == "postgresql":  # SQLite has no row locks, nor writes in a CTE
        assert not prepared(READ.with_for_update(), dialect).reads
        assert not prepared(select(inserted.c.id), dialect).reads
        assert not prepared(READ.with_for_update(read=True), dialect).reads
        assert not prepared(select(func.pg_advisory_xact_lock(1)), dialect).reads


def _state(engine: Engine, pid: int) -> str:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :p"), {"p": pid})
        return str(found.scalar_one())


def test_reads_alone_run_outside_a_transaction_and_writes_inside_one(table: Engine) -> None:
    """PostgreSQL, `reads_alone` (the vote's fast path): no BEGIN and no COMMIT around its
    reads, and no transaction left open while the worker screens the vote; a write begins a
    transaction that only COMMIT keeps, and a statement sent with its commit outside one
    commits itself."""
    if table.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's transactions")
    row = {"at": None, "data": None, "label": None}
    tx = DriverTransaction(table, reads_alone=True)
    try:
        found = tx.first(select(func.pg_backend_pid()), {})
        assert found is not None
        pid = int(found[0])
        assert _state(table, pid) == "idle"
        tx.first(INSERT, {**row, "id": 4})
        assert _state(table, pid) == "idle in transaction"
        assert tx.first(READ, {"id": 4}) == (5, None, None, None)  # inside: sees the write
        tx.rollback()
        assert tx.first(READ, {"id": 4}) is None
        assert tx.first_then_commit(INSERT, {**row, "id": 5}) == (5, None, None)
        assert _state(table, pid) == "idle"
    finally:
        tx.close()
    with table.connect() as conn:
        assert list(conn.execute(select(probe.c.id)).scalars()) == [5]


def test_a_connection_that_read_alone_goes_back_to_the_pool_as_it_came(table: Engine) -> None:
    """Its next user (a session) gets transactions again: a rolled-back insert is not kept."""
    if table.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's transactions")
    one = make_engine(table.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    try:
        tx = DriverTransaction(one, reads_alone=True)
        try:
            assert tx.first(READ, {"id": 1}) is None
        finally:
            tx.close()
        with one.connect() as conn:  # the same connection: the pool holds one
            conn.execute(INSERT, {"id": 6, "at": None, "data": None, "label": None})
            conn.rollback()
    finally:
        one.dispose()
    with table.connect() as conn:
        assert list(conn.execute(select(probe.c.id)).scalars()) == []
