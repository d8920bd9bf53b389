"""Migration 0014: a tally that changes on its idea updates the idea's row once, not twice.

Each vote changes one tally, and the triggers carry the change to `ideas.vote_count`. Under
0012 they took the old votes off and put the new ones on as two updates of the same row:
two new versions of it per vote, each with an entry in all of the ideas' indexes. The count
of rows written is read where each database keeps it for the transaction: SQLite's
`total_changes` (trigger writes included) and PostgreSQL's `pg_stat_xact_user_tables`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.migrate import downgrade, upgrade
from cocreate.voting.models import IdeaTally
from tests.voting_support import make_voting_world


def _idea_rows_written_by_a_vote(engine: Engine, round_id: int, idea_id: int) -> tuple[int, int]:
    """A tally's votes go up by one, as a vote does: the idea rows written, the new count."""
    with engine.begin() as connection:
        driver = connection.connection.dbapi_connection

        def rows_written() -> int:
            if engine.dialect.name == "sqlite":
                return int(driver.total_changes)  # type: ignore[union-attr]
            # PostgreSQL 15 may count here what earlier transactions of the same connection
            # did too (until its statistics are flushed): hence the difference.
            return int(
                connection.execute(
                    text("SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'ideas'")
                ).scalar_one()
            )

        before = rows_written()
        connection.execute(
            text("UPDATE idea_tallies SET votes = votes + 1 WHERE round_id = :r AND idea_id = :i"),
            {"r": round_id, "i": idea_id},
        )
        written = rows_written() - before - (engine.dialect.name == "sqlite")  # the tally
        count = connection.execute(
            text("SELECT vote_count FROM ideas WHERE id = :i"), {"i": idea_id}
        ).scalar_one()
    return written, count


def _migrate(engine: Engine, target: str) -> None:
    if target == "head":
        upgrade(engine, target)
    else:
        downgrade(engine, target)


def _idea_with_four_votes(session: Session, make_user: Callable[..., User]) -> tuple[int, int]:
    """An idea whose tally in an open round holds 4 votes: the round's id and the idea's."""
    world = make_voting_world(session, make_user("owner@example.com"), method="approval")
    idea_id, round_id = world.ideas[0].id or 0, world.round.id or 0
    session.add(IdeaTally(round_id=round_id, idea_id=idea_id, votes=4, points=4))
    session.commit()
    session.close()
    return round_id, idea_id


def test_a_vote_updates_its_ideas_count_once(
    engine: Engine, session: Session, make_user: Callable[..., User]
) -> None:
    round_id, idea_id = _idea_with_four_votes(session, make_user)
    assert _idea_rows_written_by_a_vote(engine, round_id, idea_id) == (1, 5)


def test_migration_0014_downgrades_and_upgrades(
    engine: Engine, session: Session, make_user: Callable[..., User]
) -> None:
    round_id, idea_id = _idea_with_four_votes(session, make_user)
    try:
        _migrate(engine, "0013")
        assert _idea_rows_written_by_a_vote(engine, round_id, idea_id) == (2, 5)
    finally:
        _migrate(engine, "head")
    assert _idea_rows_written_by_a_vote(engine, round_id, idea_id) == (1, 6)
