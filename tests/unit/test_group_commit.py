"""db.GroupCommit, both databases: on SQLite the pieces of work queued before a batch starts
(in a request thread) share one transaction and one COMMIT, each undone alone when it fails or
rolls back, and none is answered before the COMMIT; on PostgreSQL the pieces of a batch run
one after the other in one request thread, each a transaction of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, bindparam, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from cocreate.concurrency import RequestThreads
from cocreate.db import GroupCommit, Transaction
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


def insert(key: int, *, commit: bool = True) -> Callable[[Transaction], int]:
    def work(tx: Transaction) -> int:
        row = tx.first(INSERT, {"id": key})
        assert row is not None
        if commit:
            tx.commit()
        return int(row[0])

    return work


async def run_all(group: GroupCommit, works: list[Callable[[Transaction], Any]]) -> list[Any]:
    return await asyncio.gather(*(group.run(work) for work in works), return_exceptions=True)


def test_pieces_of_one_turn_share_one_commit(table: Engine) -> None:
    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    answers = run_async(run_all(group, [insert(key) for key in range(1, 21)]))
    assert answers == list(range(1, 21))
    assert stored(table) == list(range(1, 21))
    # One thread hop for the 20 (PostgreSQL too: there each piece commits on its own).
    assert (group.batches, group.pieces) == (1, 20)


def test_postgresql_commits_each_piece_before_the_next(table: Engine) -> None:
    if table.dialect.name != "postgresql":
        pytest.skip("SQLite commits the batch once")
    seen_by_others: list[int] = []

    def looks_from_another_connection(tx: Transaction) -> int:
        with table.connect() as conn:
            seen_by_others.append(int(conn.execute(COUNT).scalar_one()))
        return 0

    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    answers = run_async(run_all(group, [insert(1), insert(2), looks_from_another_connection]))
    assert answers == [1, 2, 0]
    assert group.batches == 1
    # A transaction each: batches of several workers could deadlock on each other's rows.
    assert seen_by_others == [2]


def test_later_turns_make_later_batches(table: Engine) -> None:
    group = GroupCommit(table, RequestThreads(size=8, wait=5))

    async def one_after_another() -> list[int]:
        return [await group.run(insert(key)) for key in (1, 2, 3)]

    assert run_async(one_after_another()) == [1, 2, 3]
    assert stored(table) == [1, 2, 3]
    assert group.batches == 3


def test_a_failing_piece_is_undone_alone(table: Engine) -> None:
    def fails_after_writing(tx: Transaction) -> None:
        tx.first(INSERT, {"id": 50})
        raise RuntimeError("the handler broke")

    def duplicate(tx: Transaction) -> int:  # the key piece 1 took: IntegrityError
        tx.first(INSERT, {"id": 51})
        tx.first(INSERT, {"id": 1})
        return 0

    def rolls_back(tx: Transaction) -> str:
        tx.first(INSERT, {"id": 60})
        tx.rollback()
        tx.first(INSERT, {"id": 61})
        tx.commit()
        return "kept 61"

    def never_commits(tx: Transaction) -> str:
        tx.first(INSERT, {"id": 70})
        return "answered without committing"

    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    answers = run_async(
        run_all(
            group,
            [insert(1), fails_after_writing, duplicate, rolls_back, never_commits, insert(2)],
        )
    )
    assert answers[0] == 1 and answers[5] == 2
    assert isinstance(answers[1], RuntimeError)
    assert isinstance(answers[2], IntegrityError)
    assert answers[3] == "kept 61"
    assert answers[4] == "answered without committing"
    # As with a transaction each: what a piece did not commit, or undid, is not stored.
    assert stored(table) == [1, 2, 61]


def test_no_answer_before_the_commit_and_none_if_it_fails(table: Engine) -> None:
    if table.dialect.name != "sqlite":
        pytest.skip("PostgreSQL runs each piece in its own transaction")
    seen_by_others: list[int] = []

    def looks_from_another_connection(tx: Transaction) -> int:
        # Another connection (a reader) sees nothing of the batch until its COMMIT.
        with table.connect() as conn:
            seen_by_others.append(int(conn.execute(COUNT).scalar_one()))
        return 0

    def breaks_the_commit(tx: Transaction) -> int:
        # A deferred foreign key is checked only at COMMIT: this one fails there.
        tx.first(text("PRAGMA defer_foreign_keys = ON"), {})
        tx.first(INSERT.values(parent_id=999), {"id": 9})
        tx.commit()
        return 9

    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    answers = run_async(run_all(group, [insert(1), looks_from_another_connection]))
    assert answers == [1, 0] and seen_by_others == [0]
    answers = run_async(run_all(group, [insert(2), breaks_the_commit, insert(3)]))
    assert all(isinstance(answer, IntegrityError) for answer in answers)
    assert stored(table) == [1]  # nothing of the failed batch


def test_a_piece_whose_request_went_away_does_not_run(table: Engine) -> None:
    group = GroupCommit(table, RequestThreads(size=8, wait=5))

    async def cancel_one() -> list[Any]:
        kept = asyncio.ensure_future(group.run(insert(1)))
        gone = asyncio.ensure_future(group.run(insert(2)))
        await asyncio.sleep(0)  # both queued (or, on PostgreSQL, both done)
        gone.cancel()
        return await asyncio.gather(kept, gone, return_exceptions=True)

    kept, gone = run_async(cancel_one())
    assert kept == 1
    assert isinstance(gone, asyncio.CancelledError)
    if table.dialect.name == "sqlite":
        assert stored(table) == [1]
    else:  # not run if its thread had not started; a started one cannot be stopped midway
        assert stored(table) in ([1], [1, 2])


def test_the_pool_stays_whole(table: Engine) -> None:
    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    for start in range(0, 200, 40):
        run_async(run_all(group, [insert(key) for key in range(start, start + 40)]))
    assert len(stored(table)) == 200
    assert table.pool.checkedout() == 0  # type: ignore[attr-defined]


def counted(calls: list[int], work: Callable[[Transaction], int]) -> Callable[[Transaction], int]:
    def each_run(tx: Transaction) -> int:
        calls.append(1)
        return work(tx)

    return each_run


def test_a_connection_found_dead_at_the_first_round_trip_is_replaced(table: Engine) -> None:
    """PostgreSQL: a piece takes its connection without the pre-ping's round trip. A dead one
    fails the piece's first round trip, which commits nothing: the piece runs again, once,
    on a connection the pool checked."""
    if table.dialect.name != "postgresql":
        pytest.skip("SQLite's connections are not pinged")
    group = GroupCommit(table, RequestThreads(size=8, wait=5))
    assert run_async(group.run(insert(1))) == 1  # its connection went back to the pool
    close_every_connection(table)
    calls: list[int] = []
    assert run_async(group.run(counted(calls, insert(2)))) == 2
    assert len(calls) == 2 and stored(table) == [1, 2]
    assert table.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_connection_lost_after_the_first_round_trip_is_not_tried_again(table: Engine) -> None:
    """Once a round trip has gone through, the work has acted on what it read (and a COMMIT
    may have been sent): the error is the piece's, and it is not run again."""
    if table.dialect.name != "postgresql":
        pytest.skip("SQLite's connections are not pinged")
    group = GroupCommit(table, RequestThreads(size=8, wait=5))

    def reads_then_loses_the_server(tx: Transaction) -> int:
        tx.first(COUNT, {})
        close_every_connection(table)
        return insert(3)(tx)

    calls: list[int] = []
    with pytest.raises(DBAPIError):
        run_async(group.run(counted(calls, reads_then_loses_the_server)))
    assert len(calls) == 1 and stored(table) == []
    assert table.pool.checkedout() == 0  # type: ignore[attr-defined]
