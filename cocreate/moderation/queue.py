"""Reading the moderation queue: lists, filters, next and previous, history, queue health.

The queue is a view over ideas, not a table of its own: pending ideas, ideas with open
reports, escalated ideas and automatic rejections of one brand, oldest first. Paging and
"next item" use keyset conditions on (waiting since, id), so that item 90,000 costs what
item 1 costs.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, literal, not_, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.integers import id_or_none
from cocreate.moderation.models import (
    SPAM_KINDS,
    Action,
    FlagKind,
    ModerationClaim,
    ModerationDecision,
    ModerationFlag,
    Report,
    ReportStatus,
)
from cocreate.types import UTCDateTime

PAGE_SIZE = 50
COUNT_CAP = 1000  # the queue page says "1,000+" rather than count 100,000 rows each time
VIEWS = ("pending", "reported", "escalated", "automatic")
FLAG_FILTERS = (
    "any",
    "none",
    "blocklist",
    "spam",
    "duplicate",
    "too_short",
    "all_caps",
)
AGES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "3d": timedelta(days=3)}
AGES["7d"] = timedelta(days=7)
HEALTH_DAYS = 14
DECISION_TIME_DAYS = 30


def view_label(view: str) -> str:
    return {
        "pending": _("Pending"),
        "reported": _("Reported"),
        "escalated": _("Escalated"),
        "automatic": _("Automatic rejections"),
    }.get(view, view)


def flag_filter_label(value: str) -> str:
    return {
        "any": _("Any flag"),
        "none": _("No flag"),
        "blocklist": _("Blocklisted word"),
        "spam": _("Spam (link, phone, email)"),
        "duplicate": _("Looks like another idea"),
        "too_short": _("Very short"),
        "all_caps": _("All in capitals"),
    }.get(value, value)


def age_label(value: str) -> str:
    return {
        "1h": _("Waiting over an hour"),
        "1d": _("Waiting over a day"),
        "3d": _("Waiting over 3 days"),
        "7d": _("Waiting over a week"),
    }.get(value, value)


@dataclass(frozen=True)
class QueueFilter:
    """What the moderator asked to see; unknown values fall back to "everything"."""

    view: str = "pending"
    campaign: str = ""  # a campaign slug
    flag: str = ""
    age: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> QueueFilter:
        view = params.get("view", "pending")
        flag = params.get("flag", "")
        age = params.get("age", "")
        return cls(
            view=view if view in VIEWS else "pending",
            campaign=params.get("campaign", "")[:80],
            flag=flag if flag in FLAG_FILTERS else "",
            age=age if age in AGES else "",
        )

    def query(self, **extra: str) -> str:
        """The filter as a query string (keeps the moderator's place across pages)."""
        from urllib.parse import urlencode

        values = {"view": self.view, "campaign": self.campaign, "flag": self.flag}
        values |= {"age": self.age, **extra}
        kept = {k: v for k, v in values.items() if v and not (k == "view" and v == "pending")}
        return ("?" + urlencode(kept)) if kept else ""


def _open_flag(*kinds: str) -> ColumnElement[bool]:
    """Ideas with an open flag (of one of `kinds`). Written as `id IN (...)` so that the
    database can start from the few flagged ideas rather than test every pending one."""
    flagged = select(ModerationFlag.idea_id).where(col(ModerationFlag.resolved_by_id).is_(None))
    if kinds:
        flagged = flagged.where(col(ModerationFlag.kind).in_(kinds))
    return col(Idea.id).in_(flagged)


def _open_reports() -> ColumnElement[bool]:
    return col(Idea.id).in_(select(Report.idea_id).where(Report.status == ReportStatus.OPEN))


def _first_open_report() -> Any:
    return (
        select(func.min(Report.created_at))
        .where(col(Report.idea_id) == col(Idea.id), col(Report.status) == ReportStatus.OPEN)
        .correlate(Idea)
        .scalar_subquery()
    )


def _rejected_automatically(brand: Brand) -> ColumnElement[bool]:
    """Ideas whose last decision is an automatic rejection (the pre-screen's spam rule)."""
    later = aliased(ModerationDecision)
    automatic = select(ModerationDecision.idea_id).where(
        ModerationDecision.brand_id == brand.id,
        col(ModerationDecision.automatic).is_(True),
        ModerationDecision.action == Action.REJECT,
        not_(
            exists().where(
                col(later.idea_id) == ModerationDecision.idea_id,
                col(later.id) > ModerationDecision.id,
            )
        ),
    )
    return col(Idea.id).in_(automatic)


def _waiting_since(view: str) -> Any:
    """The column the view is sorted by, oldest first."""
    return _first_open_report() if view == "reported" else col(Idea.submitted_at)


def _selective(filters: QueueFilter) -> bool:
    """Whether the view starts from a short list (reports, flags, automatic decisions)."""
    return filters.view != "pending" or filters.flag not in ("", "none")


def _by_id_only(column: Any) -> Any:
    # An expression on the column rather than the column: neither database will walk an
    # index of ideas by campaign or status (100,000 pending rows) when the short list of
    # reported or flagged ideas is the better start; they fetch those few by primary key.
    return func.coalesce(column, column)


def _conditions(
    *, brand: Brand, filters: QueueFilter, campaign_ids: list[int], now: datetime
) -> list[Any]:
    selective = _selective(filters)
    campaign = _by_id_only(col(Idea.campaign_id)) if selective else col(Idea.campaign_id)
    status = _by_id_only(col(Idea.status)) if selective else col(Idea.status)
    conditions: list[Any] = [campaign.in_(campaign_ids)]
    if filters.view == "pending":
        conditions.append(status == IdeaStatus.PENDING)
    elif filters.view == "reported":
        conditions.append(_open_reports())
    elif filters.view == "escalated":
        conditions.append(_open_flag(FlagKind.ESCALATED))
        conditions.append(status.in_([IdeaStatus.PENDING, IdeaStatus.APPROVED]))
    else:
        conditions.append(status == IdeaStatus.REJECTED)
        conditions.append(_rejected_automatically(brand))
    if filters.flag == "any":
        conditions.append(_open_flag())
    elif filters.flag == "none":
        conditions.append(
            not_(
                exists().where(
                    col(ModerationFlag.idea_id) == col(Idea.id),
                    col(ModerationFlag.resolved_by_id).is_(None),
                )
            )
        )
    elif filters.flag == "spam":
        conditions.append(_open_flag(*SPAM_KINDS))
    elif filters.flag:
        conditions.append(_open_flag(filters.flag))
    if filters.age:
        conditions.append(_waiting_since(filters.view) <= now - AGES[filters.age])
    return conditions


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
    conditions = _conditions(brand=brand, filters=filters, campaign_ids=ids, now=now)
    waiting = _waiting_since(filters.view).label("waiting_since")
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
        query = query.where(_after(_waiting_since(filters.view), position))
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
        narrowed = _conditions(brand=brand, filters=filters, campaign_ids=ids, now=now)
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
                *_conditions(brand=brand, filters=QueueFilter(view=view), campaign_ids=ids, now=now)
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
    waiting = _waiting_since(filters.view)
    conditions = _conditions(brand=brand, filters=filters, campaign_ids=ids, now=now)
    taken = exists().where(
        col(ModerationClaim.idea_id) == col(Idea.id),
        col(ModerationClaim.expires_at) > now,
        col(ModerationClaim.moderator_id) != moderator_id,
    )
    conditions.append(not_(taken))
    if skip_escalated:  # waiting for an owner: a moderator cannot decide them
        conditions.append(not_(_open_flag(FlagKind.ESCALATED)))
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


# ---------------------------------------------------------------------------------------
# One item, its history


@dataclass
class HistoryRow:
    decision: ModerationDecision
    actor_name: str | None  # None: automatic
    undone: bool


def history(*, session: Session, idea_id: int) -> list[HistoryRow]:
    """Every decision on an idea, oldest first, with who made it."""
    decisions = session.exec(
        select(ModerationDecision, User.display_name)
        .join(User, col(User.id) == col(ModerationDecision.actor_id), isouter=True)
        .where(ModerationDecision.idea_id == idea_id)
        .order_by(col(ModerationDecision.id))
    ).all()
    undone = {d.undoes_id for d, _name in decisions if d.undoes_id is not None}
    return [
        HistoryRow(
            decision=d, actor_name=None if d.automatic else (name or ""), undone=d.id in undone
        )
        for d, name in decisions
    ]


@dataclass(frozen=True)
class MergeTarget:
    id: int
    title: str


@dataclass(frozen=True)
class ItemDetails:
    flags: list[ModerationFlag]
    reports: list[tuple[Report, str]]  # (report, reporter name)
    merge_targets: list[MergeTarget]
    author: User | None


def item_details(*, session: Session, idea: Idea, merge_candidates: int = 20) -> ItemDetails:
    flags = list(
        session.exec(
            select(ModerationFlag)
            .where(ModerationFlag.idea_id == idea.id, col(ModerationFlag.resolved_by_id).is_(None))
            .order_by(col(ModerationFlag.id))
        ).all()
    )
    reports = [
        (report, name)
        for report, name in session.exec(
            select(Report, User.display_name)
            .join(User, col(User.id) == col(Report.reporter_id))
            .where(Report.idea_id == idea.id, Report.status == ReportStatus.OPEN)
            .order_by(col(Report.id))
        ).all()
    ]
    return ItemDetails(
        flags=flags,
        reports=reports,
        merge_targets=merge_targets(
            session=session, idea=idea, flags=flags, limit=merge_candidates
        ),
        author=session.get(User, idea.author_id),
    )


def merge_targets(
    *, session: Session, idea: Idea, flags: list[ModerationFlag], limit: int = 20
) -> list[MergeTarget]:
    """Approved ideas of the campaign to merge into: the pre-screen's look-alike, then the
    ideas feature's similar titles, then the most recent approved ideas."""
    from cocreate.ideas.service import similar_ideas

    chosen: dict[int, str] = {}
    suggested = [f.similar_idea_id for f in flags if f.similar_idea_id is not None]
    if suggested:
        for other_id, title in session.exec(
            select(Idea.id, Idea.title).where(
                col(Idea.id).in_(suggested), Idea.status == IdeaStatus.APPROVED
            )
        ):
            if other_id is not None:
                chosen[other_id] = title
    for other in similar_ideas(
        session=session, campaign_id=idea.campaign_id, title=idea.title, limit=10, exclude=idea.id
    ):
        if other.id is not None:
            chosen.setdefault(other.id, other.title)
    if len(chosen) < limit:
        for other_id, title in session.exec(
            select(Idea.id, Idea.title)
            .where(
                Idea.campaign_id == idea.campaign_id,
                Idea.status == IdeaStatus.APPROVED,
                col(Idea.id) != idea.id,
            )
            .order_by(col(Idea.id).desc())
            .limit(limit)
        ):
            if other_id is not None:
                chosen.setdefault(other_id, title)
    return [MergeTarget(id=i, title=t) for i, t in list(chosen.items())[:limit]]


# ---------------------------------------------------------------------------------------
# Queue health


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
        conditions = _conditions(
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


def duration_text(delta: timedelta | None) -> str:
    """A short, rounded duration for people: "45 s", "12 min", "5 h", "3 d"."""
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return _("%(n)d s") % {"n": seconds}
    if seconds < 3600:
        return _("%(n)d min") % {"n": seconds // 60}
    if seconds < 2 * 86400:
        return _("%(n)d h") % {"n": seconds // 3600}
    return _("%(n)d d") % {"n": seconds // 86400}


def waiting_for(since: datetime | None, now: datetime) -> str:
    return duration_text(now - since if since else None)


def count_text(n: int) -> str:
    """A queue count as shown: exact up to COUNT_CAP, then "1,000+" (in the reader's digits)."""
    from babel.numbers import format_decimal

    from cocreate.i18n import current_locale

    shown = min(n, COUNT_CAP)
    return format_decimal(shown, locale=current_locale()) + ("+" if n > COUNT_CAP else "")
