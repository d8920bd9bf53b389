"""The vote log of a round: every vote row, in id order, as the lines of the published log.

A voting method's log (`VotingMethod.vote_log`) is this for every method that records votes
in the votes table. The results feature reads it once at certification, to recount and to
digest the round, and again for the vote-log CSV and `cocreate verify-results`
(`cocreate.results.digest`); the voter's pseudonym is the only part it adds to a line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import String, and_, case, cast, func
from sqlalchemy import select as sql_select
from sqlmodel import Session

from cocreate.db import stream_rows
from cocreate.voting.models import Vote, VoteStatus

LOG_COLUMNS = (
    "vote_id",
    "voter",
    "idea_id",
    "period",
    "weight",
    "status",
    "cast_at",
    "withdrawn_at",
)
LOG_HEADER = ",".join(LOG_COLUMNS) + "\n"


def utc_text(session: Session, column: Any) -> Any:
    """A timestamp column as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC), "" when NULL.

    Spelled by the database, the same on both backends. SQLite holds SQLAlchemy's
    "YYYY-MM-DD HH:MM:SS.ffffff", already in UTC (UTCDateTime).
    """
    if session.get_bind().dialect.name == "postgresql":
        spelled: Any = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    else:
        spelled = func.replace(column, " ", "T").concat("Z")
    return func.coalesce(spelled, "")


# voter id, vote id, the rest of the log line ("idea,period,weight,status,cast_at,withdrawn_at"),
# then for the tally: the idea when the vote counts (counted, not withdrawn) else None,
# its weight and its period.
LogRow = tuple[int, int, str, int | None, int, int]


def _log_statement(session: Session, round_id: int) -> Any:
    votes = Vote.__table__.c  # type: ignore[attr-defined]
    rest: Any = cast(votes.idea_id, String)
    for part in (
        cast(votes.period, String),
        cast(votes.weight, String),
        votes.status,
        utc_text(session, votes.cast_at),
        utc_text(session, votes.withdrawn_at),
    ):
        rest = rest.concat(",").concat(part)
    counts = and_(votes.status == VoteStatus.COUNTED.value, votes.withdrawn_at.is_(None))
    return (
        sql_select(
            votes.voter_id,
            votes.id,
            rest,
            case((counts, votes.idea_id), else_=None),
            votes.weight,
            votes.period,
        )
        .where(votes.round_id == round_id)
        .order_by(votes.id)
    )


def stream_log(*, session: Session, round_id: int) -> Iterator[Sequence[LogRow]]:
    """Every vote of the round (withdrawn, held and void ones included) in id order, in
    batches, from a server-side cursor on PostgreSQL: memory stays flat however many votes.

    The database builds each line but the pseudonym, and the rows go straight from the
    DB-API cursor, in the session's transaction: over ten million votes, SQLAlchemy's
    per-row objects and Python's datetime formatting were most of the time.
    """
    yield from stream_rows(session, _log_statement(session, round_id), "vote_log")
