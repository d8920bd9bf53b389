"""Reading the moderation queue: a page of items, the count of each view, and the next (or
previous) item no one else is reviewing.

Paging and "next item" use keyset conditions on (waiting since, id), so that item 90,000
costs what item 1 costs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, literal, not_, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign
from cocreate.ideas.models import Idea
from cocreate.integers import id_or_none
from cocreate.moderation.models import (
    FlagKind,
    ModerationClaim,
    ModerationFlag,
    Report,
    ReportStatus,
)
from cocreate.moderation.queue_filters import (
    VIEWS,
    QueueFilter,
    open_flag,
    queue_conditions,
    waiting_since,
)
from cocreate.types import UTCDateTime

PAGE_SIZE = 50
COUNT_CAP = 1000  # the queue page says "1,000+" rather than count 100,000 rows each time


def _capped_count(session: Session, conditions: list[Any]) -> int:
    """How many rows match, counting no further than COUNT_CAP + 1 (shown as "1,000+")."""
    matching = select(col(Idea.id)).where(*conditions).limit(COUNT_CAP + 1).subquery()
    return session.exec(select(func.count()).select_from(matching)).one()


def brand_campaigns(*, session: Session, brand: Brand) -> list[Campaign]:
    return list(
        session.exec(
            select(Campaign).where(Campaign.brand_id == brand.id).order_by(col(Campaign.title))
        ).all()
    )


def _campaign_ids(campaigns: list[Campaign], filters: QueueFilter) -> list[int]:
    return [
        c.id
        for c in campaigns
        if c.id is not None and (not filters.campaign or c.slug == filters.campaign)
    ]


@dataclass
class QueueRow:
    idea: Idea
    campaign: Campaign
    author_name: str
    waiting_since: datetime | None
    flags: list[str] = field(default_factory=list)
    open_reports: int = 0
    claimed_by: str | None = None
    claimed_by_me: bool = False


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    counts: dict[str, int]
    campaigns: list[Campaign]
    next_cursor: str | None  # "<iso waiting since>|<id>" of the last row, when more follow


def _position(cursor: str | None) -> tuple[datetime, int] | None:
    if not cursor or "|" not in cursor:
        return None
    since, _, idea_id = cursor.partition("|")
    wanted = id_or_none(idea_id)
    if wanted is None:
        return None
    try:
        return datetime.fromisoformat(since), wanted
    except ValueError:
        return None


def _after(waiting: Any, position: tuple[datetime, int]) -> ColumnElement[bool]:
    # A row-value comparison, which both databases answer from the (status, submitted_at,
    # id) index; the equivalent OR of two conditions is not.
    since, idea_id = position
    return tuple_(waiting, col(Idea.id)) > tuple_(literal(since, UTCDateTime()), idea_id)


def _before(waiting: Any, position: tuple[datetime, int]) -> ColumnElement[bool]:
    since, idea_id = position
    return tuple_(waiting, col(Idea.id)) < tuple_(literal(since, UTCDateTime()), idea_id)


def list_queue(
    *,
    session: Session,
    brand: Brand,
    filters: QueueFilter,
    now: datetime,
    viewer_id: int,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> QueuePage:
    campaigns = brand_campaigns(session=session, brand=brand)
    ids = _campaign_ids(campaigns, filters)
    conditions = queue_conditions(brand=brand, filters=filters, campaign_ids=ids, now=now)
    waiting = waiting_since(filters.view).label("waiting_since")
    # One round trip for the rows with their author, open reports and claim holder.
    holder = aliased(User)
    open_reports = (
        select(func.count())
        .where(col(Report.idea_id) == col(Idea.id), col(Report.status) == ReportStatus.OPEN)
        .correlate(Idea)
        .scalar_subquery()
    )
    query = (
        sa_select(  # sqlmodel's select() types at most four columns
            Idea,
            waiting,
            col(User.display_name),
            open_reports,
            col(ModerationClaim.moderator_id),
            col(holder.display_name),
        )
        .join(User, col(User.id) == col(Idea.author_id))
        .outerjoin(
            ModerationClaim,
            and_(
                col(ModerationClaim.idea_id) == col(Idea.id),
                col(ModerationClaim.expires_at) > now,
            ),
        )
        .outerjoin(holder, col(holder.id) == col(ModerationClaim.moderator_id))
        .where(*conditions)
        .order_by(waiting, col(Idea.id))
        .limit(limit + 1)
    )
    position = _position(cursor)
    if position is not None:
        query = query.where(_after(waiting_since(filters.view), position))
    found = list(session.execute(query).all())
    more = len(found) > limit
    found = found[:limit]
    by_campaign = {c.id: c for c in campaigns}
    idea_ids = [row[0].id for row in found if row[0].id is not None]
    flags: dict[int, list[str]] = defaultdict(list)
    if idea_ids:
        for idea_id, kind in session.exec(
            select(ModerationFlag.idea_id, ModerationFlag.kind).where(
                col(ModerationFlag.idea_id).in_(idea_ids),
                col(ModerationFlag.resolved_by_id).is_(None),
            )
        ):
            if kind not in flags[idea_id]:
                flags[idea_id].append(kind)
    rows = []
    for idea, since, author_name, reports, holder_id, holder_name in found:
        assert idea.id is not None
        rows.append(
            QueueRow(
                idea=idea,
                campaign=by_campaign[idea.campaign_id],
                author_name=author_name,
                waiting_since=since,
                flags=flags.get(idea.id, []),
                open_reports=reports or 0,
                claimed_by=holder_name,
                claimed_by_me=holder_id is not None and holder_id == viewer_id,
            )
        )
    next_cursor = None
    if more and found:
        last_idea, last_since = found[-1][0], found[-1][1]
        if last_since is not None:
            next_cursor = f"{last_since.isoformat()}|{last_idea.id}"
    counts = queue_counts(session=session, brand=brand, campaigns=campaigns, now=now)
    if filters.campaign or filters.flag or filters.age:
        narrowed = queue_conditions(brand=brand, filters=filters, campaign_ids=ids, now=now)
        total = _capped_count(session, narrowed)
    else:
        total = counts[filters.view]
    return QueuePage(
        rows=rows, total=total, counts=counts, campaigns=campaigns, next_cursor=next_cursor
    )


def queue_counts(
    *, session: Session, brand: Brand, campaigns: list[Campaign], now: datetime
) -> dict[str, int]:
    """How many items wait in each view of the brand's queue (all campaigns)."""
    ids = [c.id for c in campaigns if c.id is not None]
    # The four counts in one statement: one round trip instead of four.
    counts = [
        select(func.count())
        .select_from(
            select(col(Idea.id))
            .where(
                *queue_conditions(
                    brand=brand, filters=QueueFilter(view=view), campaign_ids=ids, now=now
                )
            )
            .limit(COUNT_CAP + 1)
            .subquery()
        )
        .scalar_subquery()
        for view in VIEWS
    ]
    row = session.exec(select(*counts)).one()
    return dict(zip(VIEWS, (int(n) for n in row), strict=True))


def neighbour(
    *,
    session: Session,
    brand: Brand,
    filters: QueueFilter,
    now: datetime,
    moderator_id: int,
    from_idea: Idea | None = None,
    backwards: bool = False,
    skip_escalated: bool = False,
) -> int | None:
    """The id of the next (or previous) item in the queue that no one else is reviewing.

    From `from_idea`'s place in the queue order, or from the start. Wraps around once, so
    that "next" after the last item goes back to items skipped earlier.
    """
    campaigns = brand_campaigns(session=session, brand=brand)
    ids = _campaign_ids(campaigns, filters)
    if not ids:
        return None
    waiting = waiting_since(filters.view)
    conditions = queue_conditions(brand=brand, filters=filters, campaign_ids=ids, now=now)
    taken = exists().where(
        col(ModerationClaim.idea_id) == col(Idea.id),
        col(ModerationClaim.expires_at) > now,
        col(ModerationClaim.moderator_id) != moderator_id,
    )
    conditions.append(not_(taken))
    if skip_escalated:  # waiting for an owner: a moderator cannot decide them
        conditions.append(not_(open_flag(FlagKind.ESCALATED)))
    order = [waiting.desc(), col(Idea.id).desc()] if backwards else [waiting, col(Idea.id)]
    position = None
    if from_idea is not None and from_idea.id is not None:
        conditions.append(col(Idea.id) != from_idea.id)
        since = _waiting_since_value(session, filters.view, from_idea)
        if since is not None:
            position = (since, from_idea.id)
    if position is not None:
        side = _before if backwards else _after
        found = session.exec(
            select(Idea.id).where(*conditions, side(waiting, position)).order_by(*order).limit(1)
        ).first()
        if found is not None or backwards:
            return found
    return session.exec(select(Idea.id).where(*conditions).order_by(*order).limit(1)).first()


def _waiting_since_value(session: Session, view: str, idea: Idea) -> datetime | None:
    if view != "reported":
        return idea.submitted_at
    return session.exec(
        select(func.min(Report.created_at)).where(
            Report.idea_id == idea.id, Report.status == ReportStatus.OPEN
        )
    ).one()


def count_text(n: int) -> str:
    """A queue count as shown: exact up to COUNT_CAP, then "1,000+" (in the reader's digits)."""
    from babel.numbers import format_decimal

    from cocreate.i18n import current_locale

    shown = min(n, COUNT_CAP)
    return format_decimal(shown, locale=current_locale()) + ("+" if n > COUNT_CAP else "")
