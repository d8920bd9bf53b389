"""What a moderator asks the queue for (one of its views: pending, reported, escalated,
automatic rejections; a campaign, a flag, an age), and that as SQL conditions on ideas.

The queue is a view over ideas, not a table of its own: pending ideas, ideas with open
reports, escalated ideas and automatic rejections of one brand, oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, not_
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from cocreate.brands.models import Brand
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation.models import (
    SPAM_KINDS,
    Action,
    FlagKind,
    ModerationDecision,
    ModerationFlag,
    Report,
    ReportStatus,
)

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


def open_flag(*kinds: str) -> ColumnElement[bool]:
    """Ideas with an open flag (of one of `kinds`). Written as `id IN (...)` so that the
    database can start from the few flagged ideas rather than test every pending one."""
    flagged = select(ModerationFlag.idea_id).where(col(ModerationFlag.resolved_by_id).is_(None))
    if kinds:
        flagged = flagged.where(col(ModerationFlag.kind).in_(kinds))
    return col(Idea.id).in_(flagged)


def open_reports() -> ColumnElement[bool]:
    return col(Idea.id).in_(select(Report.idea_id).where(Report.status == ReportStatus.OPEN))


def first_open_report() -> Any:
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


def waiting_since(view: str) -> Any:
    """The column the view is sorted by, oldest first."""
    return first_open_report() if view == "reported" else col(Idea.submitted_at)


def _selective(filters: QueueFilter) -> bool:
    """Whether the view starts from a short list (reports, flags, automatic decisions)."""
    return filters.view != "pending" or filters.flag not in ("", "none")


def _by_id_only(column: Any) -> Any:
    # An expression on the column rather than the column: neither database will walk an
    # index of ideas by campaign or status (100,000 pending rows) when the short list of
    # reported or flagged ideas is the better start; they fetch those few by primary key.
    return func.coalesce(column, column)


def queue_conditions(
    *, brand: Brand, filters: QueueFilter, campaign_ids: list[int], now: datetime
) -> list[Any]:
    selective = _selective(filters)
    campaign = _by_id_only(col(Idea.campaign_id)) if selective else col(Idea.campaign_id)
    status = _by_id_only(col(Idea.status)) if selective else col(Idea.status)
    conditions: list[Any] = [campaign.in_(campaign_ids)]
    if filters.view == "pending":
        conditions.append(status == IdeaStatus.PENDING)
    elif filters.view == "reported":
        conditions.append(open_reports())
    elif filters.view == "escalated":
        conditions.append(open_flag(FlagKind.ESCALATED))
        conditions.append(status.in_([IdeaStatus.PENDING, IdeaStatus.APPROVED]))
    else:
        conditions.append(status == IdeaStatus.REJECTED)
        conditions.append(_rejected_automatically(brand))
    if filters.flag == "any":
        conditions.append(open_flag())
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
        conditions.append(open_flag(*SPAM_KINDS))
    elif filters.flag:
        conditions.append(open_flag(filters.flag))
    if filters.age:
        conditions.append(waiting_since(filters.view) <= now - AGES[filters.age])
    return conditions
