"""One item of the queue: its open flags and reports, its author, and the approved ideas it
could be merged into."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.ideas.search import similar_ideas
from cocreate.moderation.models import ModerationFlag, Report, ReportStatus


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
