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

- SQLite: the batch is one transaction, begun as the writer (BEGIN IMMEDIATE); each piece's
  session runs in a savepoint of its own (its rollback, or an exception, undoes only its own
  work); one COMMIT at the end, and only then is each piece handed its result: no answer is
  sent before its vote is committed. If the COMMIT fails, every piece gets the error, and
  nothing of any was stored. Pieces of a batch see each other's writes as if run one after
  another, so the ballot's allowance, the unique live vote and the tallies hold as before.
- PostgreSQL: no shared transaction (several workers' batches would lock each other's
  rows): the connection is in autocommit, every statement commits as it runs. The vote's
  writes are single statements there (`voting.store`), each all or nothing; a piece that
  writes several statements must make them one.

A piece whose request went away before its batch began is dropped unrun.
`tests/unit/test_group_commit.py` checks all of this on both databases.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from cocreate.concurrency import RequestThreads

T = TypeVar("T")
JoinMode = Literal["create_savepoint", "rollback_only"]
WRITER = "cocreate.writer"  # a session's `info` key: its transaction is the writer already

Work = Callable[[Connection], T]
_Piece = tuple[Work[Any], "asyncio.Future[Any]", contextvars.Context]
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


def session_on(connection: Connection) -> Session:
    """A piece's session on the batch's connection: on SQLite in a savepoint of the shared
    transaction (its commit releases the savepoint; the batch commits); on PostgreSQL on the
    connection as it is (autocommit)."""
    mode: JoinMode = "create_savepoint" if connection.dialect.name == "sqlite" else "rollback_only"
    return Session(
        bind=connection,
        expire_on_commit=False,
        join_transaction_mode=mode,
        info={WRITER: True},
    )


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
        outcomes: list[_Outcome] = []
        with self.engine.connect() as connection:
            shared = connection.dialect.name == "sqlite"
            if shared:
                transaction = connection.execution_options(sqlite_immediate=True).begin()
            else:
                connection.execution_options(isolation_level="AUTOCOMMIT")
            for work, future, context in batch:
                try:
                    result = context.run(work, connection)
                except Exception as exc:
                    outcomes.append((future, None, exc))
                else:
                    outcomes.append((future, result, None))
            if shared:
                try:
                    transaction.commit()
                except BaseException:
                    # SQLite keeps a transaction whose COMMIT failed (a deferred foreign key)
                    # open: the connection is dropped, not handed to the next request.
                    connection.invalidate()
                    raise
        return outcomes
