"""Engine, sessions, and the SQLite pragmas that make it a safe embedded default."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

from cocreate.concurrency import RequestThreads, track_connections
from cocreate.group_commit import WRITER, GroupCommit


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """The engine for `database_url`. `pool_size`, `max_overflow` and `pool_timeout` go to
    the connection pool (a file or server database); every checkout is counted per thread
    (`concurrency.track_connections`)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        else:  # an in-memory database has a pool of one connection, not a queue
            for name in ("pool_size", "max_overflow", "pool_timeout"):
                kwargs.pop(name, None)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; we issue BEGIN ourselves so
        # SAVEPOINTs and SELECT ... then write work (see SQLAlchemy "pysqlite" notes).
        event.listen(engine, "begin", _sqlite_begin)
        track_connections(engine)
        return engine
    # A check of each connection taken from the pool (one round trip), so that a restart or
    # an idle timeout costs no user an error page: see docs/architecture.md.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    track_connections(engine)
    return engine


def _sqlite_begin(conn: Connection) -> None:
    # A read-then-write transaction that began DEFERRED fails at once with "database is
    # locked" when another writer committed in between; write paths ask for IMMEDIATE.
    mode = "IMMEDIATE" if conn.get_execution_options().get("sqlite_immediate") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


_WRITING = "cocreate.writing"


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (SQLite: BEGIN IMMEDIATE; others: as is).

    Call before the first write of a transaction that reads, then writes what it read. On
    SQLite a request's earlier reads (the signed-in user, the page's lookups) may have opened
    a read transaction whose snapshot a write cannot outgrow: if another request committed
    meanwhile, the write fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT, which
    busy_timeout does not retry). So that read-only transaction is ended first. On PostgreSQL
    reads and writes share one READ COMMITTED transaction safely: nothing changes there.

    The read is ended and the write begun on the same connection, inside the session's own
    transaction (COMMIT, then BEGIN IMMEDIATE): the session's commit later ends the write.
    A `session.commit()` and a new session transaction cost as much as two of the vote's
    statements. A second call in the same write transaction does nothing: a COMMIT there
    would split the transaction in two, and neither does a call on a session of a group
    commit (`group_commit.WRITER`), whose shared transaction is the writer already.
    """
    if session.get_bind().dialect.name != "sqlite" or session.info.get(WRITER):
        return
    if not session.in_transaction():
        session.connection(execution_options={"sqlite_immediate": True})
    elif session.info.get(_WRITING) is not session.get_transaction():
        assert not (session.new or session.dirty or session.deleted), "unsaved changes"
        connection = session.connection()
        connection.exec_driver_sql("COMMIT")  # ends the read only: nothing is pending
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    session.info[_WRITING] = session.get_transaction()


def release(session: Session) -> None:
    """End the session's transaction, giving its connection back to the pool, before work
    that must not hold one (a password hash, an image decode). Nothing may be pending: what
    was read stays loaded (sessions here do not expire on commit)."""
    if session.in_transaction():
        assert not (session.new or session.dirty or session.deleted), "unsaved changes"
        session.commit()


STREAM_BATCH = 20_000  # rows per round trip from the server-side cursor


def stream_rows(session: Session, statement: Any, name: str) -> Iterator[Sequence[Any]]:
    """The statement's rows in batches straight from the DB-API cursor, in the session's
    transaction: server-side on PostgreSQL, so memory stays flat however many rows. Over
    millions of votes SQLAlchemy's per-row objects were most of the time.

    The statement is compiled with its values inline: pass only ids and fixed strings.
    """
    connection = session.connection()
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    dbapi = connection.connection.dbapi_connection
    assert dbapi is not None
    if connection.dialect.name == "postgresql":
        cursor = dbapi.cursor(name=f"{name}_{secrets.token_hex(6)}")
    else:
        cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(STREAM_BATCH):
            yield rows
    finally:
        cursor.close()


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

    def __init__(self, engine: Engine, threads: RequestThreads | None = None) -> None:
        self.engine = engine
        self.threads = threads or RequestThreads(size=8, wait=5.0)
        self.group_commit = GroupCommit(engine, self.threads)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def ping(self) -> bool:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1
