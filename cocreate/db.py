"""Engine, sessions, and the SQLite pragmas that make it a safe embedded default."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import re
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, event
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.orm import class_mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import manager_of_class
from sqlmodel import Session, SQLModel, create_engine

from cocreate import pg_batch
from cocreate.concurrency import RequestThreads, track_connections

M = TypeVar("M", bound=SQLModel)
T = TypeVar("T")


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
    # A check of each connection taken from the pool (one round trip), so that a restart or an
    # idle timeout costs no user an error page: see docs/architecture.md. SQLAlchemy's
    # pool_pre_ping, as a checkout event that the vote's fast path can skip (`unpinged`).
    pre_ping = kwargs.pop("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if pre_ping:
        event.listen(engine, "checkout", _pre_ping(engine.dialect))
    track_connections(engine)
    return engine


# False while a caller takes a connection that it checks itself (`unpinged`).
_PING_ON_CHECKOUT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "cocreate_ping_on_checkout", default=True
)


def _pre_ping(dialect: Dialect) -> Callable[[Any, Any, Any], None]:
    def ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if not _PING_ON_CHECKOUT.get():
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                # As pool_pre_ping: the pool's other connections predate the same restart.
                raise InvalidatePoolError() from exc
            raise

    return ping


def unpinged(engine: Engine) -> Any:
    """A connection of the engine's pool taken without the pre-ping's round trip: for a
    caller that runs its work again on a checked connection if the first round trip finds
    this one dead (`GroupCommit._run_alone`)."""
    token = _PING_ON_CHECKOUT.set(False)
    try:
        return engine.raw_connection()
    finally:
        _PING_ON_CHECKOUT.reset(token)


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
    would split the transaction in two.
    """
    if session.get_bind().dialect.name != "sqlite":
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


def attach_loaded(session: Session, model: type[M], values: Mapping[Any, Any]) -> M:
    """An object of `model` made from a row read with a Core query, in `session` as if the
    ORM had loaded it: no pending change, a persistent identity, columns not in `values`
    expired (loaded on first use, as with `load_only`). The object already in the session
    with that identity, if any, is returned instead.

    For the hottest reads (the signed-in user, the open round): the ORM's own load path costs
    several times the query on SQLite, and `Model(**values)` runs every field's setter.
    """
    mapper = class_mapper(model)  # configures the mappers first, if no query did yet
    key = mapper.identity_key_from_primary_key(tuple(values[c.name] for c in mapper.primary_key))
    found = session.identity_map.get(key)
    if isinstance(found, model):
        return found
    made: M = manager_of_class(model).new_instance()
    made.__dict__.update(values)
    make_transient_to_detached(made)
    session.add(made)
    return made


def detached(model: type[M], values: Mapping[str, Any]) -> M:
    """An object of `model` holding `values`, in no session: for read-only use in one request
    (the vote path's user and round). Like `attach_loaded` without the session, whose
    bookkeeping is the larger part of its cost. Columns not in `values` read as None."""
    made: M = manager_of_class(model).new_instance()
    made.__dict__.update(values)
    return made


# --- Statements on the DB-API connection ---------------------------------------------------


Processor = Callable[[Any], Any]
# In a compiled SELECT (SQLAlchemy writes keywords in capitals): a data-modifying CTE, FOR
# UPDATE / FOR SHARE, an advisory lock or a sequence. Erring towards "writes" costs nothing.
_NOT_ONLY_READS = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|SHARE)\b|advisory|nextval|setval")
_REQUIRED = object()  # a parameter the caller must give


@dataclass(frozen=True)
class Prepared:
    """A Core or text statement compiled once for a dialect, run on the DB-API cursor.

    For the vote path, the hottest of a campaign: around a statement that SQLite runs in a few
    microseconds, SQLAlchemy's execution context, result objects and session cost several
    times as much. Parameters and result columns still go through the types' own processors
    (UTC datetimes, JSON, enums), exactly as SQLAlchemy would apply them.
    """

    sql: str
    # The parameters in the order the SQL names them (positional drivers), or by name: each
    # with the caller's key for it, its literal value when the statement holds one
    # (`votes_left - 1`), and the type's processor.
    binds: tuple[tuple[str, str, Any, Processor | None], ...]
    positional: bool
    # The result columns that have a processor, with it.
    results: tuple[tuple[int, Processor], ...]
    # Only reads: a Core SELECT with no data-modifying CTE, row lock or advisory lock, which
    # may run outside a transaction (`DriverTransaction`). Text statements count as writes.
    reads: bool = False
    # psycopg: the SQL with PostgreSQL's `$n` placeholders and the parameters' names in that
    # order, for `pg_batch` (`DriverTransaction`).
    dollar: tuple[bytes, tuple[str, ...]] | None = None

    @classmethod
    def compile(cls, statement: Any, dialect: Dialect) -> Prepared:
        compiled = statement.compile(dialect=dialect)
        by_name = {
            name: (
                name,
                bind.key,
                _REQUIRED if bind.required else bind.effective_value,
                bind.type.dialect_impl(dialect).bind_processor(dialect),
            )
            for bind, name in compiled.bind_names.items()
        }
        names = compiled.positiontup if compiled.positional else list(by_name)
        columns = getattr(statement, "exported_columns", None) or ()
        processors = (
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        return cls(
            compiled.string,
            tuple(by_name[name] for name in names),
            bool(compiled.positional),
            tuple((n, process) for n, process in enumerate(processors) if process is not None),
            isinstance(statement, Select) and _NOT_ONLY_READS.search(compiled.string) is None,
            pg_batch.dollar_form(compiled.string) if dialect.driver == "psycopg" else None,
        )

    def _parameters(self, values: Mapping[str, Any]) -> Any:
        processed = []
        for _name, key, literal, process in self.binds:
            value = values[key] if literal is _REQUIRED else values.get(key, literal)
            processed.append(value if process is None or value is None else process(value))
        if self.positional:
            return processed
        return {bind[0]: value for bind, value in zip(self.binds, processed, strict=True)}

    def in_dollar_form(self, values: Mapping[str, Any]) -> tuple[bytes, list[Any]]:
        """The SQL with `$n` placeholders, and the parameters (processed) in their order."""
        assert self.dollar is not None, "compiled for psycopg"
        sql, names = self.dollar
        parameters = self._parameters(values)
        return sql, [parameters[name] for name in names]

    def _row(self, row: Sequence[Any]) -> tuple[Any, ...]:
        if not self.results:
            return tuple(row)
        values = list(row)
        for n, process in self.results:
            values[n] = process(values[n])
        return tuple(values)

    def first(self, cursor: Any, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row (processed), or None; the rest of the rows are read and dropped."""
        self.execute(cursor, values)
        return self.fetch_first(cursor)

    def execute(self, cursor: Any, values: Mapping[str, Any]) -> None:
        cursor.execute(self.sql, self._parameters(values))

    def fetch_first(self, cursor: Any) -> tuple[Any, ...] | None:
        rows = cursor.fetchall()
        return self._row(rows[0]) if rows else None


class Transaction(Protocol):
    """One transaction on which the vote path runs `Prepared` statements: a session's, or a
    connection of the pool used without a session (`DriverTransaction`)."""

    dialect: Dialect
    # Rows the work on this transaction read, kept to be used again instead of read again:
    # only rows that work does not write, valid while the transaction lasts (on SQLite a
    # batch's, which is the writer: nothing else changes the database meanwhile, see
    # `GroupCommit`; on PostgreSQL a vote's own, so nothing is used again).
    memo: dict[Any, Any]

    def first(self, statement: Any, values: Mapping[str, Any]) -> tuple[Any, ...] | None: ...

    def first_each(
        self, statements: Sequence[tuple[Any, Mapping[str, Any]]]
    ) -> list[tuple[Any, ...] | None]:
        """`first` of each statement, in order: on PostgreSQL sent together (one round trip)."""
        ...

    def first_then_commit(
        self, statement: Any, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        """`first`, then commit: on PostgreSQL sent together (one round trip). If the statement
        fails, its error is raised and nothing is committed."""
        ...

    def begin_write(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


_PREPARED: dict[tuple[int, str, str], tuple[Any, Prepared]] = {}
_PG_NAMES = "cocreate.prepared"  # a pooled connection's `info` key: its `pg_batch.Names`


def prepared(statement: Any, dialect: Dialect) -> Prepared:
    """`statement` compiled for `dialect`, once per statement and kind of database. (Keyed
    by identity: the statements of the vote path are built once. The entry keeps the
    statement, so its id cannot be reused by another.)"""
    key = (id(statement), dialect.name, dialect.driver)
    found = _PREPARED.get(key)
    if found is None:
        found = _PREPARED[key] = (statement, Prepared.compile(statement, dialect))
    return found[1]


class SessionTransaction:
    """The session's transaction, with `Prepared` statements run on its DB-API connection."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect
        self.memo: dict[Any, Any] = {}

    def first(self, statement: Any, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        connection = self.session.connection().connection.dbapi_connection
        assert connection is not None
        cursor = connection.cursor()
        try:
            return _first(prepared(statement, self.dialect), cursor, values, self.dialect)
        finally:
            cursor.close()

    def first_each(
        self, statements: Sequence[tuple[Any, Mapping[str, Any]]]
    ) -> list[tuple[Any, ...] | None]:
        return [self.first(statement, values) for statement, values in statements]

    def first_then_commit(
        self, statement: Any, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        row = self.first(statement, values)
        self.commit()
        return row

    def begin_write(self) -> None:
        begin_write(self.session)

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


class DriverTransaction:
    """A connection from the engine's pool, used without a session or SQLAlchemy connection.
    SQLite: begins as the writer (BEGIN IMMEDIATE) at once; PostgreSQL: the driver begins on
    the first statement. Close it in `finally`: an open transaction is rolled back and the
    connection goes back to the pool.

    `pinged=False`: taken without the pool's pre-ping (`unpinged`). If the connection then
    turns out dead on the first round trip, `dead_on_first_round_trip` is set: the server, if
    it got anything, kept nothing of it (that round trip held no COMMIT and no write outside a
    transaction), so the caller may run its work again on another connection. A dead
    connection is invalidated, never given back.

    `reads_alone` (PostgreSQL): a read (`Prepared.reads`) that no write precedes runs outside
    any transaction, each statement alone, as READ COMMITTED would run it inside one (every
    statement its own snapshot); any other statement begins a transaction, sent in the same
    round trip, which `commit` or `rollback` ends, so what was written is kept only at
    COMMIT, as without it. `first_then_commit` outside a transaction is the statement alone:
    one statement commits itself. The vote's BEGIN and COMMIT, and their handling in the
    driver, cost a fifth of its CPU in the worker (benchmarks/README.md).

    On PostgreSQL each round trip's messages go out in one write (`pg_batch`), with the
    statements prepared once per connection.
    """

    def __init__(self, engine: Engine, *, pinged: bool = True, reads_alone: bool = False) -> None:
        self.dialect = engine.dialect
        self.memo: dict[Any, Any] = {}
        self.dead_on_first_round_trip = False
        self._sent = False  # a round trip went out
        self._lost = False
        self._reads_alone = reads_alone and self.dialect.name == "postgresql"
        self._error: Any = self.dialect.loaded_dbapi.Error  # the driver's base exception
        self._connection = engine.raw_connection() if pinged else unpinged(engine)
        self._driver: Any = self._connection.driver_connection
        self._dbapi_cursor: Any = None  # PostgreSQL's statements go through `pg_batch`
        try:
            if self.dialect.name == "sqlite":
                self._round_trip("BEGIN IMMEDIATE", self._cursor().execute, "BEGIN IMMEDIATE")
        except BaseException:
            if not self._lost:  # back to the pool (a locked database: busy_timeout ran out)
                self._connection.close()
            raise

    def _cursor(self) -> Any:
        if self._dbapi_cursor is None:
            self._dbapi_cursor = self._connection.cursor()
        return self._dbapi_cursor

    def _round_trip(
        self, sql: str, work: Callable[..., T], *arguments: Any, commits: bool = False
    ) -> T:
        """`work(*arguments)`, one round trip to the database, with the driver's errors raised
        as SQLAlchemy's (`_driver_errors`, without a context manager's cost on the vote's
        path); a connection found lost is invalidated. `commits`: what it ran may be kept."""
        first, self._sent = not self._sent, True
        try:
            return work(*arguments)
        except self._error as error:
            if self.dialect.is_disconnect(error, self._driver, None):
                self._lost = True
                self.dead_on_first_round_trip = first and not commits
                self._connection.invalidate(error)
            raise DBAPIError.instance(sql, None, error, self._error) from error

    def _idle(self) -> bool:
        """PostgreSQL: no transaction is open on the connection."""
        return pg_batch.outside_transaction(self._driver)

    def first(self, statement: Any, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        if self.dialect.name == "postgresql":
            return self.first_each([(statement, values)])[0]
        compiled = prepared(statement, self.dialect)
        return self._round_trip(compiled.sql, compiled.first, self._cursor(), values)

    def first_each(
        self, statements: Sequence[tuple[Any, Mapping[str, Any]]]
    ) -> list[tuple[Any, ...] | None]:
        if self.dialect.name != "postgresql":
            return [self.first(statement, values) for statement, values in statements]
        compiled = [(prepared(statement, self.dialect), values) for statement, values in statements]
        # Outside a transaction, the first statement begins one, in the same round trip,
        # unless they all only read and may run alone.
        alone = self._reads_alone and all(statement.reads for statement, _values in compiled)
        return self._together(compiled, begin=self._idle() and not alone, commit=False)

    def first_then_commit(
        self, statement: Any, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        if self.dialect.name != "postgresql":
            row = self.first(statement, values)
            self.commit()
            return row
        # Outside a transaction the statement is sent alone: one statement commits itself.
        compiled = [(prepared(statement, self.dialect), values)]
        return self._together(compiled, begin=False, commit=not self._idle(), commits=True)[0]

    def _together(
        self,
        compiled: Sequence[tuple[Prepared, Mapping[str, Any]]],
        *,
        begin: bool,
        commit: bool,
        commits: bool = False,
    ) -> list[tuple[Any, ...] | None]:
        """PostgreSQL: the statements in one round trip (`pg_batch`), after BEGIN and before
        COMMIT when asked; `commits`: what the round trip ran may have been kept."""
        batch = [statement.in_dollar_form(values) for statement, values in compiled]
        info = self._connection.info
        names = info.get(_PG_NAMES) or info.setdefault(_PG_NAMES, pg_batch.Names())
        rows = self._round_trip(
            compiled[0][0].sql,
            pg_batch.run_together,
            self._driver,
            names,
            batch,
            begin,
            commit,
            commits=commits,
        )
        return [
            None if row is None else statement._row(row)
            for (statement, _values), row in zip(compiled, rows, strict=True)
        ]

    def begin_write(self) -> None:
        """Already the writer (SQLite) or nothing to do (PostgreSQL: a write begins its
        transaction)."""

    def execute_plain(self, sql: str) -> None:
        """A statement without parameters or rows (SAVEPOINT, RELEASE...)."""
        self._round_trip(sql, self._cursor().execute, sql)

    def commit(self) -> None:
        self._round_trip("COMMIT", self._connection.commit, commits=True)

    def rollback(self) -> None:
        self._connection.rollback()

    def close(self) -> None:
        if self._lost:
            return  # invalidated: closed, and the pool makes a new one in its place
        try:
            if self._dbapi_cursor is not None:
                self._dbapi_cursor.close()
            self.rollback()
        except BaseException:
            self._connection.invalidate()  # in a state nobody should inherit
            raise
        self._connection.close()


class Savepoint:
    """One piece of work's part of a `GroupCommit` transaction, as a `Transaction`: its
    `commit` keeps the work when the piece ends (the shared COMMIT makes it durable), its
    `rollback` undoes everything the piece did (ROLLBACK TO its savepoint). Statements after
    `commit` are kept too: the vote path only reads there."""

    def __init__(self, shared: DriverTransaction) -> None:
        self.dialect = shared.dialect
        self.memo = shared.memo  # the batch's: its pieces read the same database
        self._shared = shared
        self._keep = False
        shared.execute_plain("SAVEPOINT work")

    def first(self, statement: Any, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        return self._shared.first(statement, values)

    def first_each(
        self, statements: Sequence[tuple[Any, Mapping[str, Any]]]
    ) -> list[tuple[Any, ...] | None]:
        return self._shared.first_each(statements)

    def first_then_commit(
        self, statement: Any, values: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        row = self.first(statement, values)
        self.commit()
        return row

    def begin_write(self) -> None:
        """The shared transaction is the writer already."""

    def commit(self) -> None:
        self._keep = True

    def rollback(self) -> None:
        self._shared.execute_plain("ROLLBACK TO work")
        self._keep = False

    def end(self, *, undo: bool = False) -> None:
        """Undo the piece unless it committed (or if `undo`); then leave its savepoint."""
        if undo or not self._keep:
            self._shared.execute_plain("ROLLBACK TO work")
        self._shared.execute_plain("RELEASE work")


Work = Callable[[Transaction], T]
_Piece = tuple[Work[Any], "asyncio.Future[Any]", contextvars.Context]
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


class _Batching:
    """One event loop's pieces waiting for the next batch, and whether a batch is running."""

    def __init__(self) -> None:
        self.pieces: list[_Piece] = []
        self.draining = False


class GroupCommit:
    """SQLite: the vote path's writes, committed together (group commit).

    Under load a SQLite vote spent most of its database time on what every transaction pays
    once: BEGIN IMMEDIATE, the COMMIT, and the pages it dirtied (the tally, the ballot and
    the indexes' pages, written again to the WAL by each commit, and checkpointed back).
    `run` queues a piece of work (a function of a `Transaction`) and waits. One batch at a
    time runs in a request thread: every piece queued by then, in one transaction, each in a
    savepoint of its own (one piece's rollback undoes only its own work), committed once;
    only then is each piece handed its result: no answer is sent before its vote is
    committed. If the COMMIT fails, every piece gets the error: nothing of any was stored.
    Pieces queued while a batch runs make the next batch. A piece of work is plain
    synchronous code; a piece whose request went away before its batch began is dropped.

    PostgreSQL: the pieces queued by then run one after the other in one request thread,
    each alone (`_run_alone`: its reads outside a transaction, its writes in a transaction of
    their own, committed before the next piece begins). Its writers lock rows, not the
    database, so several workers' shared transactions could deadlock on each other's rows;
    batches kept apart by an advisory lock measured slower than a transaction per vote. One
    thread hop per batch rather than per vote: with a hop and a thread each, up to 32 threads
    per worker fought for the GIL and the vote fell to 41 % of its ceiling, p99 258 ms; with
    a batch per hop it holds 65 %, p99 71 ms (benchmarks/README.md).
    """

    def __init__(self, engine: Engine, threads: RequestThreads) -> None:
        self.engine = engine
        self.threads = threads
        self.batched = engine.dialect.name == "sqlite"
        self._queues: dict[asyncio.AbstractEventLoop, _Batching] = {}
        self.batches = 0  # committed batches, and the pieces they held: for tests and tuning
        self.pieces = 0

    async def run(self, work: Work[T]) -> T:
        """`work` run on a transaction, once that transaction committed; its exception, if
        it raised (its own writes then undone) or if the commit failed. On PostgreSQL `work`
        may be run twice, if its first round trip finds the connection dead (`_run_alone`):
        before that round trip it must change nothing but the transaction."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        queue = self._queues.get(loop)
        if queue is None:  # one per event loop: tests run several
            queue = self._queues[loop] = _Batching()
        queue.pieces.append((work, future, contextvars.copy_context()))
        if not queue.draining:
            queue.draining = True
            loop.create_task(self._drain(queue))
        return await future

    def _run_alone(self, work: Work[T]) -> T:
        """PostgreSQL: `work` on a connection of its own, its reads outside a transaction and
        its writes in one (`DriverTransaction`'s `reads_alone`), taken from the pool without
        the pre-ping's round trip (one of a vote's three). A connection found dead on the
        work's first round trip (the server restarted, an idle timeout) kept nothing of it,
        and nothing of the work has run but that round trip (the vote's: the signed-in check
        and the open round): the connection is dropped and the work runs again, once, on one
        the pool checks. The same protection as the pre-ping, paid only when it is needed."""
        tx = DriverTransaction(self.engine, pinged=False, reads_alone=True)
        try:
            return work(tx)
        except DBAPIError:
            if not tx.dead_on_first_round_trip:
                raise
        finally:
            tx.close()
        tx = DriverTransaction(self.engine, reads_alone=True)
        try:
            return work(tx)
        finally:
            tx.close()

    async def _drain(self, queue: _Batching) -> None:
        try:
            while queue.pieces:
                batch = [piece for piece in queue.pieces if not piece[1].cancelled()]
                queue.pieces = []
                if not batch:
                    continue
                run = self._run_batch if self.batched else self._run_each
                try:
                    outcomes = await self.threads.run(functools.partial(run, batch))
                except BaseException as exc:  # nothing of the batch was stored
                    for _work, future, _context in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                self.batches += 1
                self.pieces += len(batch)
                for future, result, error in outcomes:
                    if future.done():  # cancelled while the batch ran: its work was done
                        continue
                    if error is not None:
                        future.set_exception(error)
                    else:
                        future.set_result(result)
        finally:
            queue.draining = False

    def _run_each(self, batch: list[_Piece]) -> list[_Outcome]:
        """PostgreSQL: the batch's pieces one after the other in this thread, each alone
        (`_run_alone`: a transaction of its own, committed before the next begins)."""
        outcomes: list[_Outcome] = []
        for work, future, context in batch:
            try:
                result = context.run(self._run_alone, work)
            except Exception as exc:
                outcomes.append((future, None, exc))
            else:
                outcomes.append((future, result, None))
        return outcomes

    def _run_batch(self, batch: list[_Piece]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        tx = DriverTransaction(self.engine)
        try:
            for work, future, context in batch:
                piece = Savepoint(tx)
                try:
                    result = context.run(work, piece)
                except Exception as exc:
                    piece.end(undo=True)
                    outcomes.append((future, None, exc))
                else:
                    piece.end()
                    outcomes.append((future, result, None))
            tx.commit()
        finally:
            tx.close()
        return outcomes


def _first(
    statement: Prepared, cursor: Any, values: Mapping[str, Any], dialect: Dialect
) -> tuple[Any, ...] | None:
    with _driver_errors(dialect, statement.sql):
        return statement.first(cursor, values)


@contextmanager
def _driver_errors(dialect: Dialect, sql: str) -> Iterator[None]:
    """The driver's errors as SQLAlchemy raises them (IntegrityError, OperationalError...):
    the callers and the app's error handlers know those."""
    try:
        yield
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error) from exc


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
