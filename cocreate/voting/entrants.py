"""Who may vote on what: the one rule saying which ideas take part in a round.

An idea takes part in a round when it belongs to the round's campaign, is approved, and the
round takes it: the campaign's first voting round takes every approved idea, a later round
only the ideas that went on to it (its `round_entrants`). It may be voted for while it also
stays visible: an idea hidden by reports waits for a moderator and takes no vote meanwhile,
though it still stands in the results (its votes stay counted).

Every query that asks the question (the ballot, the vote's own statement, the results, the
certification) builds its condition here, on the `ideas` table or on any selectable with its
columns (the vote statement's `keyed` CTE), so the rule is written once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, true
from sqlalchemy import select as core_select
from sqlmodel import Session

from cocreate.campaigns.models import Stage, StageKind
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.voting.models import RoundEntrant

if TYPE_CHECKING:
    from cocreate.voting.open_round import RoundLike

IDEAS = Idea.__table__  # type: ignore[attr-defined]
ENTRANTS = RoundEntrant.__table__  # type: ignore[attr-defined]
STAGES = Stage.__table__  # type: ignore[attr-defined]


def takes_part(
    ideas: Any, *, idea_id: Any, campaign_id: Any, round_id: Any, first_round: Any
) -> ColumnElement[bool]:
    """The idea (`ideas`: a selectable with the columns of `ideas`; `idea_id`: its id, as a
    column or a bound value) takes part in the round. `first_round`: a Python bool when
    known (the later rounds' test is left out of a first round's query), or a bound value."""
    listed = exists().where(ENTRANTS.c.round_id == round_id, ENTRANTS.c.idea_id == idea_id)
    of_round: Any
    if first_round is True:
        of_round = true()
    elif first_round is False:
        of_round = listed
    else:
        of_round = or_(first_round, listed)
    return and_(
        ideas.c.campaign_id == campaign_id,
        ideas.c.status == IdeaStatus.APPROVED.value,
        of_round,
    )


def votable(
    ideas: Any, *, idea_id: Any, campaign_id: Any, round_id: Any, first_round: Any
) -> ColumnElement[bool]:
    """The idea takes part in the round and may be voted for now (not hidden by reports)."""
    return and_(
        takes_part(
            ideas,
            idea_id=idea_id,
            campaign_id=campaign_id,
            round_id=round_id,
            first_round=first_round,
        ),
        ideas.c.hidden_at.is_(None),
    )


def in_round(round_: RoundLike, *, first_round: bool) -> ColumnElement[bool]:
    """`takes_part` for the rows of `ideas` in a query (results, certification)."""
    return takes_part(
        IDEAS,
        idea_id=IDEAS.c.id,
        campaign_id=round_.campaign_id,
        round_id=round_.id,
        first_round=first_round,
    )


def on_ballot(round_: RoundLike, *, first_round: bool) -> ColumnElement[bool]:
    """`votable` for the rows of `ideas` in a query (the ballot)."""
    return votable(
        IDEAS,
        idea_id=IDEAS.c.id,
        campaign_id=round_.campaign_id,
        round_id=round_.id,
        first_round=first_round,
    )


def first_round_condition(stages: Any = STAGES) -> ColumnElement[bool]:
    """The stage (`stages`, a selectable with the columns of `stages`) is its campaign's first
    voting stage: such a round takes every approved idea. Earlier voting *stages* count,
    whether or not anyone has opened their settings yet."""
    earlier = STAGES.alias("earlier")
    return ~exists().where(
        earlier.c.campaign_id == stages.c.campaign_id,
        earlier.c.kind == StageKind.VOTING.value,
        earlier.c.position < stages.c.position,
    )


def is_first_round(*, session: Session, round_: RoundLike) -> bool:
    """Whether the round is its campaign's first voting round (`first_round_condition`)."""
    found = session.execute(
        core_select(func.count())
        .select_from(STAGES)
        .where(STAGES.c.id == round_.stage_id, first_round_condition())
    ).scalar_one()
    return bool(found)
