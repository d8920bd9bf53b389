"""What a member's share links brought: visits (sharing) and the votes those visitors cast.

Voting owns votes, so it counts them: a vote counts for a share when its voter arrived
through the sharer's link before casting it, for the shared idea (or, for a link to the
campaign, any idea of it), and it is counted and not withdrawn. Shown to an idea's author on
the idea's page (a part registered in `cocreate.ideas.hooks`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import distinct, func
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, Stage
from cocreate.ideas.models import Idea
from cocreate.ideas.visibility import is_publicly_visible
from cocreate.sharing.arrivals import visits
from cocreate.sharing.models import ShareArrival
from cocreate.voting.models import Round, Vote, VoteStatus


@dataclass(frozen=True)
class ShareStats:
    visits: int
    votes: int


def votes_brought(
    *, session: Session, sharer_id: int, campaign_id: int, idea_id: int | None
) -> int:
    arrival = ShareArrival
    query = (
        select(func.count(distinct(col(Vote.id))))
        .select_from(Vote)
        .join(arrival, col(arrival.user_id) == Vote.voter_id)
        .join(Round, col(Round.id) == Vote.round_id)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .where(
            arrival.sharer_id == sharer_id,
            arrival.campaign_id == campaign_id,
            Stage.campaign_id == campaign_id,
            Vote.status == VoteStatus.COUNTED,
            col(Vote.withdrawn_at).is_(None),
            col(Vote.cast_at) >= arrival.arrived_at,
        )
    )
    if idea_id is None:
        query = query.where(col(arrival.idea_id).is_(None))
    else:
        query = query.where(arrival.idea_id == idea_id, Vote.idea_id == idea_id)
    return int(session.exec(query).one())


def share_stats(
    *, session: Session, sharer_id: int, campaign_id: int, idea_id: int | None
) -> ShareStats:
    return ShareStats(
        visits(session=session, sharer_id=sharer_id, campaign_id=campaign_id, idea_id=idea_id),
        votes_brought(
            session=session, sharer_id=sharer_id, campaign_id=campaign_id, idea_id=idea_id
        ),
    )


def idea_page_part(
    *, session: Session, idea: Idea, campaign: Campaign, brand: Brand, user: User | None
) -> Mapping[str, Any]:
    """The author of a public idea sees what their share links to it brought."""
    if user is None or user.id != idea.author_id or not is_publicly_visible(idea, campaign):
        return {}
    stats = share_stats(
        session=session, sharer_id=user.id or 0, campaign_id=campaign.id or 0, idea_id=idea.id
    )
    return {"share_stats": stats}
