"""Migration 0018: `rounds.method` loses the CHECK that listed four methods, and nothing else.

On SQLite batch mode copies `rounds` and drops the old one: with foreign keys on, the drop
would cascade to every round's ballots, tallies and entrants (`cocreate.migrate.migrating`
turns them off). The rows must all be there after the upgrade and after a downgrade."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.migrate import downgrade, upgrade
from cocreate.voting.models import Ballot, IdeaTally, RoundEntrant
from tests.voting_support import make_voting_world

COUNTED = ("ballots", "idea_tallies", "round_entrants", "rounds")


def _migrate(engine: Engine, target: str) -> None:
    if target == "head":
        upgrade(engine, target)
    else:
        downgrade(engine, target)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in COUNTED
        }


def _set_method(engine: Engine, round_id: int, method: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE rounds SET method = :m WHERE id = :r"), {"m": method, "r": round_id}
        )


def test_the_check_goes_and_every_row_stays(
    engine: Engine, session: Session, make_user: Callable[..., User]
) -> None:
    world = make_voting_world(session, make_user("owner@example.com"))
    voter = make_user("voter@example.com")
    round_id, idea_id = world.round.id or 0, world.ideas[0].id or 0
    session.add(IdeaTally(round_id=round_id, idea_id=idea_id, votes=1, points=1))
    session.add(Ballot(round_id=round_id, voter_id=voter.id or 0, period=0, votes_left=4))
    session.add(RoundEntrant(round_id=round_id, idea_id=idea_id))
    session.commit()
    session.close()
    before = _counts(engine)
    try:
        _migrate(engine, "0017")
        assert _counts(engine) == before
        with pytest.raises(IntegrityError):
            _set_method(engine, round_id, "thumbs")  # the CHECK is back
    finally:
        _migrate(engine, "head")
    assert _counts(engine) == before
    _set_method(engine, round_id, "thumbs")  # any method the registry may hold
