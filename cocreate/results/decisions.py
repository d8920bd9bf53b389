"""The jury's decision on a certified round's undecided ideas: a tie at the cut, or a round
whose advancement rule is "the jury picks". The results console lists what waits; the jury
decides on its page (`cocreate.jury`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, update
from sqlmodel import Session, col, select

from cocreate.audit.service import record
from cocreate.campaigns.models import Stage
from cocreate.db import begin_write
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.ideas.models import Idea
from cocreate.results.advancement import carry_forward
from cocreate.results.models import RoundCertification, RoundResult
from cocreate.results.rounds import RoundInfo, campaign_rounds
from cocreate.voting.models import Round


@dataclass(frozen=True)
class PendingDecision:
    info: RoundInfo
    slots: int  # how many of the undecided ideas go on
    ideas: list[tuple[int, str, int]]  # (idea id, title, score), in published order


def pending_decisions(*, session: Session, campaign_id: int) -> list[PendingDecision]:
    """Certified rounds that wait for the jury: a tie at the cut, or a jury-picked round."""
    pending = []
    for info in campaign_rounds(session=session, campaign_id=campaign_id):
        if info.round.certified_at is None:
            continue
        rows = session.exec(
            select(RoundResult, Idea.title)
            .join(Idea, col(Idea.id) == RoundResult.idea_id)
            .where(RoundResult.round_id == info.round.id, col(RoundResult.advanced).is_(None))
            .order_by(col(RoundResult.position))
            .limit(500)
        ).all()
        if not rows:
            continue
        pending.append(
            PendingDecision(
                info,
                _open_slots(session, info.round),
                [(r.idea_id, title, r.score) for r, title in rows],
            )
        )
    return pending


def _open_slots(session: Session, round_: Round) -> int:
    """Seats still free once the ideas that surely go on have taken theirs."""
    seats = session.exec(
        select(RoundCertification.seats).where(RoundCertification.round_id == round_.id)
    ).one()
    advanced = session.exec(
        select(func.count())
        .select_from(RoundResult)
        .where(RoundResult.round_id == round_.id, col(RoundResult.advanced).is_(True))
    ).one()
    return max(int(seats) - int(advanced), 0)


def decide_advancement(
    *,
    session: Session,
    round_: Round,
    chosen: Sequence[int],
    actor_id: int | None,
    now: datetime,
) -> list[int]:
    """The jury's choice among a certified round's undecided ideas. Audited."""
    begin_write(session)
    # Two jurors deciding at once: the second waits here, then finds nothing left to decide.
    session.exec(select(Round.id).where(Round.id == round_.id).with_for_update()).one()
    undecided = list(
        session.exec(
            select(RoundResult.idea_id)
            .where(RoundResult.round_id == round_.id, col(RoundResult.advanced).is_(None))
            .order_by(col(RoundResult.position))
        ).all()
    )
    if round_.certified_at is None or not undecided:
        session.rollback()
        raise ValidationFailed({"": _("There is nothing left to decide in this round.")})
    slots = _open_slots(session, round_)
    picked = list(dict.fromkeys(chosen))
    if any(idea_id not in undecided for idea_id in picked):
        session.rollback()
        raise ValidationFailed({"": _("Choose only among the ideas listed.")})
    if len(picked) != slots:
        session.rollback()
        message = ngettext(
            "Choose exactly %(num)d idea.", "Choose exactly %(num)d ideas.", slots
        ) % {"num": slots}
        raise ValidationFailed({"": message})
    undecided_rows = and_(
        col(RoundResult.round_id) == round_.id, col(RoundResult.advanced).is_(None)
    )
    if picked:
        session.execute(
            update(RoundResult)
            .where(undecided_rows, col(RoundResult.idea_id).in_(picked))
            .values(advanced=True)
        )
    session.execute(update(RoundResult).where(undecided_rows).values(advanced=False))
    stage = session.get(Stage, round_.stage_id)
    assert stage is not None
    carry_forward(session=session, stage=stage, idea_ids=picked, now=now)
    record(
        session=session,
        actor_id=actor_id,
        action="round.advancement_decided",
        subject_type="round",
        subject_id=round_.id,
        campaign_id=round_.campaign_id,
        chosen=picked,
        among=undecided,
    )
    session.commit()
    return picked
