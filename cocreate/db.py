"""Engine, sessions, and the SQLite pragmas that make it a safe embedded default."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; we issue BEGIN ourselves so
        # SAVEPOINTs and SELECT ... then write work (see SQLAlchemy "pysqlite" notes).
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _sqlite_begin(conn: Connection) -> None:
    # A read-then-write transaction that began DEFERRED fails at once with "database is
    # locked" when another writer committed in between; write paths ask for IMMEDIATE.
    mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (SQLite: BEGIN IMMEDIATE; others: as is).

    Call before the first write of a transaction that reads, then writes what it read. On
    SQLite a request's earlier reads (the signed-in user, the page's lookups) may have opened
    a read transaction whose snapshot a write cannot outgrow: if another request committed
    meanwhile, the write fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT, which
    busy_timeout does not retry). So that read-only transaction is ended first. On PostgreSQL
    reads and writes share one READ COMMITTED transaction safely: nothing changes there.
    """
    if session.in_transaction():
        if session.get_bind().dialect.name != "sqlite":
            return
        assert not (session.new or session.dirty or session.deleted), "unsaved changes"
        session.commit()  # ends the read only: nothing is pending
    session.connection(execution_options={"sqlite_immediate": True})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN; pysqlite's implicit transactions are off.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Durable across a process crash; only a power loss can drop the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Database:
    """The engine plus a session factory; one per app, shared by every request."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def ping(self) -> bool:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1
