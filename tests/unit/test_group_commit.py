"""cocreate.group_commit, both databases: the pieces of work queued before a batch starts run
in one request thread, on one connection, each on a session of its own (`session_on`). On
SQLite they share one transaction and one COMMIT, each undone alone when it fails or rolls
back, and none is answered before the COMMIT; on PostgreSQL each statement commits as it
runs (autocommit), so each piece is seen by others before the next begins."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, bindparam, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from cocreate.concurrency import RequestThreads
from cocreate.db import begin_write
from cocreate.group_commit import BatchRolledBack, GroupCommit, batch_memo, session_on
from tests.conftest import close_every_connection, run_async

metadata = MetaData()
parent = Table("group_parent", metadata, Column("id", Integer, primary_key=True))
child = Table(
    "group_child",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("parent_id", Integer, ForeignKey("group_parent.id")),
)
INSERT = child.insert().values(id=bindparam("id")).returning(child.c.id)
COUNT = select(func.count()).select_from(child)
Work = Callable[[Connection], Any]


@pytest.fixture
def table(engine: Engine) -> Iterator[Engine]:
    metadata.create_all(engine)
    try:
        yield engine
    finally:
        metadata.drop_all(engine)


def stored(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(child.c.id)).scalars())


def on_a_session(body: Callable[[Any], Any]) -> Work:
    """A piece as the route wrapper runs one: a session on the batch's connection, closed
    at the end whatever happens."""

    def work(connection: Connection) -> Any:
        session = session_on(connection)
        try:
            return body(session)
        finally:
            session.close()

    return work


def insert(key: int, *, commit: bool = True) -> Work:
    def body(session: Any) -> int:
        begin_write(session)  # does nothing here: the batch is the writer already
        found = session.execute(INSERT, {"id": key}).scalar_one()
        if commit:
            session.commit()
        return int(found)

    return on_a_session(body)


async def run_all(group: GroupCommit, works: list[Work]) -> list[Any]:
    return await asyncio.gather(*(group.run(work) for work in works), return_exceptions=True)


def test_pieces_of_one_turn_make_one_batch(table: Engine) -> None:
    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    answers = run_async(run_all(group, [insert(key) for key in range(1, 21)]))
    assert answers == list(range(1, 21))
    assert stored(table) == list(range(1, 21))
    assert (group.batches, group.pieces) == (1, 20)  # one thread hop for the twenty


def test_later_turns_make_later_batches(table: Engine) -> None:
    group = GroupCommit(table, RequestThreads(size=8, wait=5))

    async def one_after_another() -> list[int]:
        return [await group.run(insert(key)) for key in (1, 2, 3)]

    assert run_async(one_after_another()) == [1, 2, 3]
    assert stored(table) == [1, 2, 3]
    assert group.batches == 3


def test_a_failing_piece_is_undone_alone(table: Engine) -> None:
    def fails_after_writing(session: Any) -> None:
        session.execute(INSERT, {"id": 50})
        raise RuntimeError("the handler broke")

    def duplicate(session: Any) -> int:  # the key piece 1 took: IntegrityError
        session.execute(INSERT, {"id": 1})
        return 0

    def never_commits(session: Any) -> str:
        session.execute(INSERT, {"id": 70})
        return "answered without committing"

    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    pieces = [fails_after_writing, duplicate, never_commits]
    answers = run_async(run_all(group, [insert(1), *(on_a_session(p) for p in pieces), insert(2)]))
    assert answers[0] == 1 and answers[4] == 2
    assert isinstance(answers[1], RuntimeError)
    assert isinstance(answers[2], IntegrityError)
    assert answers[3] == "answered without committing"
    if table.dialect.name == "sqlite":
        # A piece that raised is undone (its savepoint); one that returned keeps its writes,
        # committed or not, as on PostgreSQL.
        assert stored(table) == [1, 2, 70]
    else:
        # Autocommit: each statement is kept as it runs. The vote path writes only single
        # statements there (voting.store), each all or nothing.
        assert stored(table) == [1, 2, 50, 70]


def test_a_piece_that_rolls_back_the_batch_fails_it_whole(table: Engine) -> None:
    """SQLite: a piece's session rollback is the shared transaction's; the batch then fails
    and nothing of it is kept (the vote store never rolls back a session there). PostgreSQL:
    a piece's rollback ends only its own (autocommit) transaction."""

    def rolls_back(session: Any) -> str:
        session.execute(INSERT, {"id": 60})
        session.rollback()
        session.execute(INSERT, {"id": 61})
        session.commit()
        return "kept 61"

    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    answers = run_async(run_all(group, [insert(1), on_a_session(rolls_back), insert(2)]))
    if table.dialect.name == "sqlite":
        assert all(isinstance(answer, BatchRolledBack) for answer in answers)
        assert stored(table) == []
        assert run_async(group.run(insert(3))) == 3  # the next batch runs as usual
        assert stored(table) == [3]
    else:
        assert answers == [1, "kept 61", 2]
        assert stored(table) == [1, 2, 60, 61]


def test_the_pieces_of_a_batch_share_a_memo(table: Engine) -> None:
    seen: list[tuple[int, int]] = []

    def counts(connection: Connection) -> int:
        memo = batch_memo()
        assert memo is not None
        memo["pieces"] = memo.get("pieces", 0) + 1
        seen.append((id(memo), memo["pieces"]))
        return int(memo["pieces"])

    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    assert batch_memo() is None  # outside a batch
    assert run_async(run_all(group, [counts, counts, counts])) == [1, 2, 3]
    assert run_async(group.run(counts)) == 1  # a new batch, a new memo
    assert len({memo for memo, _ in seen[:3]}) == 1
    assert batch_memo() is None


def test_sqlite_answers_none_before_the_commit_and_none_if_it_fails(table: Engine) -> None:
    if table.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no shared transaction")
    seen_by_others: list[int] = []

    def looks_from_another_connection(connection: Connection) -> int:
        # Another connection (a reader) sees nothing of the batch until its COMMIT.
        with table.connect() as conn:
            seen_by_others.append(int(conn.execute(COUNT).scalar_one()))
        return 0

    def breaks_the_commit(session: Any) -> int:
        # A deferred foreign key is checked only at COMMIT: this one fails there.
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.execute(INSERT.values(parent_id=999), {"id": 9})
        session.commit()
        return 9

    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    answers = run_async(run_all(group, [insert(1), looks_from_another_connection]))
    assert answers == [1, 0] and seen_by_others == [0]
    answers = run_async(run_all(group, [insert(2), on_a_session(breaks_the_commit), insert(3)]))
    assert all(isinstance(answer, IntegrityError) for answer in answers)
    assert stored(table) == [1]  # nothing of the failed batch


def test_postgresql_commits_each_piece_before_the_next(table: Engine) -> None:
    if table.dialect.name != "postgresql":
        pytest.skip("SQLite commits the batch once")
    seen_by_others: list[int] = []

    def looks_from_another_connection(connection: Connection) -> int:
        with table.connect() as conn:
            seen_by_others.append(int(conn.execute(COUNT).scalar_one()))
        return 0

    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    answers = run_async(run_all(group, [insert(1), insert(2), looks_from_another_connection]))
    assert answers == [1, 2, 0]
    assert group.batches == 1
    # No shared transaction: batches of several workers could deadlock on each other's rows.
    assert seen_by_others == [2]


def test_a_piece_whose_request_went_away_does_not_run(table: Engine) -> None:
    group = GroupCommit(table, RequestThreads(size=8, wait=5))

    async def cancel_one() -> list[Any]:
        kept = asyncio.ensure_future(group.run(insert(1)))
        gone = asyncio.ensure_future(group.run(insert(2)))
        await asyncio.sleep(0)  # both queued
        gone.cancel()
        return await asyncio.gather(kept, gone, return_exceptions=True)

    kept, gone = run_async(cancel_one())
    assert kept == 1
    assert isinstance(gone, asyncio.CancelledError)
    assert stored(table) == [1]


def test_the_pool_stays_whole(table: Engine) -> None:
    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    for start in range(0, 200, 40):
        run_async(run_all(group, [insert(key) for key in range(start, start + 40)]))
    assert len(stored(table)) == 200
    assert table.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_batch_after_the_server_closed_the_connections_runs(table: Engine) -> None:
    """PostgreSQL: a batch's connection is checked as it leaves the pool (the pre-ping, once
    per batch), so a restart or an idle timeout costs no piece an error."""
    if table.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to close connections")
    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    assert run_async(group.run(insert(1))) == 1  # its connection went back to the pool
    close_every_connection(table)
    assert run_async(run_all(group, [insert(2), insert(3)])) == [2, 3]
    assert stored(table) == [1, 2, 3]
    assert table.pool.checkedout() == 0  # type: ignore[attr-defined]
