"""The votes the public idea gallery shows and sorts by: those of the campaign's current
round (the last voting round that has opened), never all rounds added up.

`round_votes` gives the gallery its `ideas.gallery.VoteOrder`: the counts of a page's ideas,
and "most voted" as two index walks (the ideas with votes in the round by their tally, then
the others by id), as the gallery's other orders are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, tuple_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cocreate.campaigns.models import Stage, StageKind
from cocreate.ideas.models import Idea
from cocreate.voting.models import IdeaTally, Round


@dataclass(frozen=True)
class RoundVotes:
    round_id: int

    def counts(self, session: Session, idea_ids: Sequence[int]) -> Mapping[int, int]:
        rows = session.exec(
            select(IdeaTally.idea_id, IdeaTally.votes).where(
                IdeaTally.round_id == self.round_id, col(IdeaTally.idea_id).in_(idea_ids)
            )
        ).all()
        return {idea_id: votes for idea_id, votes in rows if votes}

    def _voted(self) -> object:
        return and_(
            col(IdeaTally.round_id) == self.round_id,
            col(IdeaTally.idea_id) == Idea.id,
            col(IdeaTally.votes) > 0,
        )

    def page(
        self,
        session: Session,
        base: SelectOfScalar[Idea],
        after: tuple[int, int] | None,
        take: int,
    ) -> list[Idea]:
        rows: list[Idea] = []
        if after is None or after[0] > 0:  # the ideas with votes, most first
            voted = base.join(IdeaTally, self._voted())  # type: ignore[arg-type]
            # The tally's columns, so that its index (round, votes, idea) gives the order.
            votes, idea = col(IdeaTally.votes), col(IdeaTally.idea_id)
            if after is not None:
                voted = voted.where(tuple_(votes, idea) < tuple_(after[0], after[1]))
            order = (votes.desc(), idea.desc())
            rows = list(session.exec(voted.order_by(*order).limit(take)).all())
            after = None
        if len(rows) < take:  # then those without, newest id first
            unvoted = base.where(~exists().where(self._voted()))  # type: ignore[arg-type]
            if after is not None:
                unvoted = unvoted.where(col(Idea.id) < after[1])
            rows += session.exec(unvoted.order_by(col(Idea.id).desc()).limit(take - len(rows)))
        return rows


def current_round_id(*, session: Session, campaign_id: int, now: datetime) -> int | None:
    """The campaign's last voting round that has opened (its settings saved), if any."""
    return session.exec(
        select(Round.id)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .where(
            Stage.campaign_id == campaign_id,
            Stage.kind == StageKind.VOTING,
            col(Stage.opens_at) <= now,
        )
        .order_by(col(Stage.opens_at).desc(), col(Stage.position).desc())
        .limit(1)
    ).first()


def round_votes(*, session: Session, campaign_id: int, now: datetime) -> RoundVotes | None:
    found = current_round_id(session=session, campaign_id=campaign_id, now=now)
    return None if found is None else RoundVotes(found)
