"""The queue's health for a brand: what waits and since when, how long decisions take, and
who decided how much each day."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, not_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation.models import Action, ModerationDecision
from cocreate.moderation.queue import brand_campaigns
from cocreate.moderation.queue_filters import QueueFilter, queue_conditions

HEALTH_DAYS = 14
DECISION_TIME_DAYS = 30


@dataclass(frozen=True)
class ModeratorDay:
    day: date
    moderator: str
    decisions: int


@dataclass(frozen=True)
class Health:
    pending: int
    reported: int
    oldest_pending_since: datetime | None
    decided: int  # decisions counted in the percentiles below
    p50: timedelta | None
    p95: timedelta | None
    per_moderator_day: list[ModeratorDay]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def health(*, session: Session, brand: Brand, now: datetime) -> Health:
    campaigns = brand_campaigns(session=session, brand=brand)
    ids = [c.id for c in campaigns if c.id is not None]
    counts = {}
    for view in ("pending", "reported"):  # exact here, not capped as on the queue page
        conditions = queue_conditions(
            brand=brand, filters=QueueFilter(view=view), campaign_ids=ids, now=now
        )
        counts[view] = session.exec(select(func.count()).select_from(Idea).where(*conditions)).one()
    oldest = session.exec(
        select(func.min(Idea.submitted_at)).where(
            col(Idea.campaign_id).in_(ids), Idea.status == IdeaStatus.PENDING
        )
    ).one()
    undo = aliased(ModerationDecision)
    not_undone = not_(exists().where(col(undo.undoes_id) == col(ModerationDecision.id)))
    settling = [Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES, Action.MERGE]
    timings = session.exec(
        select(ModerationDecision.at, Idea.submitted_at)
        .join(Idea, col(Idea.id) == col(ModerationDecision.idea_id))
        .where(
            ModerationDecision.brand_id == brand.id,
            col(ModerationDecision.action).in_(settling),
            col(ModerationDecision.status_before) == IdeaStatus.PENDING,
            ModerationDecision.at >= now - timedelta(days=DECISION_TIME_DAYS),
            col(Idea.submitted_at).is_not(None),
            not_undone,
        )
    ).all()
    seconds = sorted(max(0.0, (at - sub).total_seconds()) for at, sub in timings if sub)
    p50 = timedelta(seconds=percentile(seconds, 50)) if seconds else None
    p95 = timedelta(seconds=percentile(seconds, 95)) if seconds else None
    by_day: dict[tuple[date, str], int] = defaultdict(int)
    for at, name in session.exec(
        select(ModerationDecision.at, User.display_name)
        .join(User, col(User.id) == col(ModerationDecision.actor_id))
        .where(
            ModerationDecision.brand_id == brand.id,
            col(ModerationDecision.automatic).is_(False),
            col(ModerationDecision.action) != Action.RESUBMIT,
            ModerationDecision.at >= now - timedelta(days=HEALTH_DAYS),
        )
    ):
        by_day[(at.date(), name)] += 1
    per_day = [
        ModeratorDay(day=day, moderator=name, decisions=n)
        for (day, name), n in sorted(
            by_day.items(), key=lambda kv: (-kv[0][0].toordinal(), kv[0][1])
        )
    ]
    return Health(
        pending=counts["pending"],
        reported=counts["reported"],
        oldest_pending_since=oldest,
        decided=len(seconds),
        p50=p50,
        p95=p95,
        per_moderator_day=per_day,
    )
