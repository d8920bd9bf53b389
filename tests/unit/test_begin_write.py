"""`db.begin_write`: a read-then-write transaction on SQLite becomes a writer in place."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.db import begin_write


def _add_user(connection_or_session: Session, n: int) -> None:
    connection_or_session.connection().execute(
        insert(User).values(email=f"w{n}@example.com", display_name=f"W{n}", session_version=0)
    )


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(User)).scalar_one())


def test_a_read_then_a_write_succeeds_after_another_writer_committed(engine: Engine) -> None:
    with Session(engine) as reader:
        assert reader.connection().execute(select(func.count()).select_from(User)).scalar() == 0
        with Session(engine) as other:  # commits while the reader's snapshot is open
            _add_user(other, 1)
            other.commit()
        begin_write(reader)
        # The write starts from the latest data (on SQLite, a write from the old snapshot
        # would fail at once with "database is locked").
        seen = reader.connection().execute(select(func.count()).select_from(User)).scalar()
        assert seen == 1
        _add_user(reader, 2)
        reader.commit()
    assert _count(engine) == 2


def test_a_second_call_does_not_split_the_write_transaction(engine: Engine) -> None:
    with Session(engine) as session:
        begin_write(session)
        _add_user(session, 1)
        begin_write(session)  # e.g. a service calling another that also begins the write
        _add_user(session, 2)
        session.rollback()
    assert _count(engine) == 0  # both writes rolled back together: nothing was committed


def test_after_a_commit_the_next_transaction_is_a_writer_again(engine: Engine) -> None:
    with Session(engine) as session:
        begin_write(session)
        _add_user(session, 1)
        session.commit()
        session.connection().execute(select(func.count()).select_from(User)).scalar()
        begin_write(session)  # a new read transaction: switched to a writer in place
        _add_user(session, 2)
        session.rollback()
    assert _count(engine) == 1
