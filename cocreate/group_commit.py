"""Group commit: the requests of a batched route (the vote) run a batch at a time.

A request thread hop and a transaction per vote cost more than the vote's own statements: on
SQLite most of a vote's database time went to BEGIN IMMEDIATE, the COMMIT and the pages every
commit writes again (the tally's, the ballot's, the indexes' last pages); on PostgreSQL up to
32 threads per worker, one per vote, fought for the GIL (benchmarks/README.md).

`GroupCommit.run(work)` queues a piece of work (a function of a `Connection`) and waits. The
first piece queued on an event loop starts a batch in a request thread, which runs every
piece queued by then, one after the other, on one pooled connection; pieces queued while a
batch runs make the next batch. A piece makes its own `Session` on that connection
(`session_on`).

- SQLite: the batch is one transaction, begun as the writer (BEGIN IMMEDIATE); each piece
  runs in a savepoint of its own, taken on the driver's connection (`SAVEPOINT piece`, ~1 µs,
  where a Session's savepoint cost ~90 µs and SQLAlchemy's `begin_nested` ~60): an exception
  undoes only that piece's work, and what a piece wrote is kept when it returns, committed or
  not (as on PostgreSQL). A piece's session may not roll back: its rollback is the shared
  transaction's, so the whole batch then fails with `BatchRolledBack` and nothing of it is
  stored (the vote store undoes its own steps with a savepoint instead). One COMMIT at the
  end, and only then is each piece handed its result: no answer is sent before its vote is
  committed. If the COMMIT fails, every piece gets the error, and nothing of any was stored.
  Pieces of a batch see each other's writes as if run one after another, so the ballot's
  allowance, the unique live vote and the tallies hold as before.
- PostgreSQL: no shared transaction (several workers' batches would lock each other's
  rows): the connection is in autocommit, every statement commits as it runs. The vote's
  writes are single statements there (`voting.store`), each all or nothing; a piece that
  writes several statements must make them one.

A piece whose request went away before its batch began is dropped unrun. Pieces of one batch
share a memo (`batch_memo()`): what every piece would read the same, read once per batch
(the vote's open round, `voting.open_round`).
`tests/unit/test_group_commit.py` checks all of this on both databases.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from cocreate.concurrency import RequestThreads

T = TypeVar("T")
WRITER = "cocreate.writer"  # a session's `info` key: its transaction is the writer already

Work = Callable[[Connection], T]
_Piece = tuple[Work[Any], "asyncio.Future[Any]", contextvars.Context]
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


_MEMO: contextvars.ContextVar[dict[Any, Any] | None] = contextvars.ContextVar(
    "cocreate_batch_memo", default=None
)


class BatchRolledBack(RuntimeError):
    """A piece rolled back the shared transaction (SQLite): nothing of its batch was kept."""


def batch_memo() -> dict[Any, Any] | None:
    """The running batch's memo, shared by its pieces (None outside a batch): a piece may
    keep there what the next pieces would read again, for the batch's lifetime only."""
    return _MEMO.get()


def session_on(connection: Connection) -> Session:
    """A piece's session on the batch's connection. Its commit commits nothing (the batch
    does, on SQLite; every statement does, on PostgreSQL's autocommit); its rollback would
    end the shared transaction, failing the batch on SQLite (`BatchRolledBack`)."""
    return Session(
        bind=connection,
        expire_on_commit=False,
        join_transaction_mode="rollback_only",
        info={WRITER: True},
    )


_IN_BATCH = "cocreate.in_batch"  # a connection's `info` key: it runs a SQLite batch


def _no_second_begin(connection: Connection) -> None:
    """A transaction begun on a batch's connection while its batch runs: a piece rolled back
    the shared transaction and goes on writing. Refused, so nothing it writes is kept."""
    if connection.info.get(_IN_BATCH):
        raise BatchRolledBack("a piece rolled back the batch's transaction")


def _in_memo(memo: dict[Any, Any], work: Work[T], connection: Connection) -> T:
    _MEMO.set(memo)
    return work(connection)


class _Queue:
    """One event loop's pieces waiting for the next batch, and whether a batch is running."""

    def __init__(self) -> None:
        self.pieces: list[_Piece] = []
        self.draining = False


class GroupCommit:
    def __init__(self, engine: Engine, threads: RequestThreads) -> None:
        self.engine = engine
        self.threads = threads
        self._queues: dict[asyncio.AbstractEventLoop, _Queue] = {}
        if engine.dialect.name == "sqlite" and not event.contains(
            engine, "begin", _no_second_begin
        ):
            event.listen(engine, "begin", _no_second_begin, insert=True)
        self.batches = 0  # batches run, and the pieces they held: for tests and tuning
        self.pieces = 0

    async def run(self, work: Work[T]) -> T:
        """`work`'s result once its batch is over (committed, on SQLite); its exception if it
        raised (its own writes then undone) or, on SQLite, if the COMMIT failed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        queue = self._queues.get(loop)
        if queue is None:  # one per event loop: tests run several
            queue = self._queues[loop] = _Queue()
        queue.pieces.append((work, future, contextvars.copy_context()))
        if not queue.draining:
            queue.draining = True
            loop.create_task(self._drain(queue))
        return await future

    async def _drain(self, queue: _Queue) -> None:
        try:
            while queue.pieces:
                batch = [piece for piece in queue.pieces if not piece[1].cancelled()]
                queue.pieces = []
                if not batch:
                    continue
                try:
                    outcomes = await self.threads.run(functools.partial(self._run, batch))
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

    def _run(self, batch: list[_Piece]) -> list[_Outcome]:
        with self.engine.connect() as connection:
            if connection.dialect.name != "sqlite":
                connection.execution_options(isolation_level="AUTOCOMMIT")
                memo: dict[Any, Any] = {}
                return [_outcome(piece, memo, connection) for piece in batch]
            transaction = connection.execution_options(sqlite_immediate=True).begin()
            connection.info[_IN_BATCH] = True
            try:
                outcomes = _in_savepoints(batch, connection)
            finally:
                connection.info.pop(_IN_BATCH, None)
            try:
                transaction.commit()
            except BaseException:
                # SQLite keeps a transaction whose COMMIT failed (a deferred foreign key)
                # open: the connection is dropped, not handed to the next request.
                connection.invalidate()
                raise
        return outcomes


def _outcome(piece: _Piece, memo: dict[Any, Any], connection: Connection) -> _Outcome:
    work, future, context = piece
    try:
        return future, context.run(_in_memo, memo, work, connection), None
    except Exception as exc:
        return future, None, exc


def _in_savepoints(batch: list[_Piece], connection: Connection) -> list[_Outcome]:
    """SQLite: each piece in a savepoint of the shared transaction, undone if it raised."""
    transaction = connection.get_transaction()
    assert transaction is not None
    sql = driver_sql(connection)
    memo: dict[Any, Any] = {}
    outcomes: list[_Outcome] = []
    for piece in batch:
        sql("SAVEPOINT piece")
        outcome = _outcome(piece, memo, connection)
        if not transaction.is_active:  # the piece's session rolled the batch back
            raise BatchRolledBack("a piece rolled back the batch's transaction")
        if outcome[2] is not None:
            sql("ROLLBACK TO piece")
        sql("RELEASE piece")
        outcomes.append(outcome)
    return outcomes


def driver_sql(connection: Connection) -> Callable[[str], Any]:
    """Run a statement of no result (a savepoint's) on the driver's own connection: ~1 µs on
    sqlite3, where `Connection.exec_driver_sql` costs ~10 (its events, its result object)."""
    driver = connection.connection.driver_connection
    assert driver is not None
    execute: Callable[[str], Any] = driver.execute
    return execute
