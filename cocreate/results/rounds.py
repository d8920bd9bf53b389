"""A campaign's voting rounds and selecting stages, as the results feature reads them: which
round is which, who takes part in it, and how a tie is ordered."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from cocreate.campaigns.models import Stage, StageKind
from cocreate.campaigns.timeline import stage_name
from cocreate.ideas.models import Idea
from cocreate.voting.entrants import in_round, is_first_round
from cocreate.voting.models import Round, TieBreak


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def dialect_insert(session: Session) -> Any:
    """The database's own INSERT (it has ON CONFLICT DO NOTHING: insert or keep)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


@dataclass(frozen=True)
class RoundInfo:
    round: Round
    stage: Stage
    number: int  # 1.. among the campaign's voting rounds, in timeline order

    @property
    def name(self) -> str:
        return stage_name(self.stage)


def campaign_rounds(*, session: Session, campaign_id: int) -> list[RoundInfo]:
    rows = session.exec(
        select(Round, Stage)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .where(Round.campaign_id == campaign_id)
        .order_by(col(Stage.position))
    ).all()
    return [RoundInfo(r, s, n) for n, (r, s) in enumerate(rows, start=1)]


def find_round(rounds: Sequence[RoundInfo], number: int | None, now: datetime) -> RoundInfo | None:
    """Round `number`; when None, the round worth showing: the latest that has opened."""
    if number is not None:
        return next((info for info in rounds if info.number == number), None)
    opened = [info for info in rounds if info.stage.opens_at <= now]
    return opened[-1] if opened else (rounds[0] if rounds else None)


def decisive_stages(*, session: Session, campaign_id: int) -> list[Stage]:
    """The campaign's stages that select ideas (voting rounds and jury stages), in order."""
    stages = session.exec(
        select(Stage).where(Stage.campaign_id == campaign_id).order_by(col(Stage.position))
    ).all()
    return [s for s in stages if s.kind in (StageKind.VOTING, StageKind.JURY)]


def entrant_ids(*, session: Session, round_: Round) -> list[int]:
    first = is_first_round(session=session, round_=round_)
    ids = session.exec(
        select(Idea.id).where(in_round(round_, first_round=first)).order_by(col(Idea.id))
    ).all()
    return [_id(i) for i in ids]


def count_entrants(*, session: Session, round_: Round, first: bool | None = None) -> int:
    if first is None:
        first = is_first_round(session=session, round_=round_)
    return int(
        session.exec(
            select(func.count()).select_from(Idea).where(in_round(round_, first_round=first))
        ).one()
    )


def submission_order(*, session: Session, campaign_id: int) -> dict[int, tuple[float, int]]:
    """The tie-break key "earlier submission": when the idea was submitted, then its id."""
    rows = session.exec(
        select(Idea.id, Idea.submitted_at, Idea.created_at).where(Idea.campaign_id == campaign_id)
    ).all()
    return {
        _id(idea_id): ((submitted or created).timestamp(), _id(idea_id))
        for idea_id, submitted, created in rows
    }


def tie_break_key(
    round_: Round, order: Mapping[int, tuple[float, int]]
) -> Callable[[int], tuple[object, ...]] | None:
    """Orders ideas inside a tie. A jury tie-break orders nothing: the jury decides."""
    if round_.tie_break == TieBreak.EARLIER_SUBMISSION:
        return lambda idea_id: order.get(idea_id, (math.inf, idea_id))
    return None
