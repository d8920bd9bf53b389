"""Reports from the public: anyone signed in may report an idea they can see, once; enough
open reports hide it until a moderator decides."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.campaigns.models import Campaign
from cocreate.clock import Clock, system_clock
from cocreate.db import begin_write
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.ideas.visibility import is_publicly_visible
from cocreate.moderation.brand_settings import get_settings
from cocreate.moderation.history import record_automatic
from cocreate.moderation.labels import REPORT_REASONS
from cocreate.moderation.models import Action, Report, ReportStatus
from cocreate.moderation.rules import Refused


class AlreadyReported(Exception):
    pass


def reportable_idea(*, session: Session, idea_id: int) -> tuple[Idea, Campaign] | None:
    """The idea when the public can see it (only those can be reported)."""
    row = session.exec(
        select(Idea, Campaign)
        .join(Campaign, col(Campaign.id) == col(Idea.campaign_id))
        .where(Idea.id == idea_id)
    ).first()
    if row is None or not is_publicly_visible(row[0], row[1]):
        return None
    return row[0], row[1]


def report_idea(
    *,
    session: Session,
    idea: Idea,
    campaign: Campaign,
    reporter: User,
    reason: str,
    note: str,
    clock: Clock = system_clock,
) -> Report:
    """Record a report; hide the idea once its open reports reach the brand's threshold.

    One report per person per idea (a unique constraint): raises AlreadyReported. Commits.
    """
    now = clock.now()
    assert idea.id is not None and reporter.id is not None
    if reason not in REPORT_REASONS:
        raise Refused(_("Choose one of the options."), 400)
    if idea.author_id == reporter.id:
        raise Refused(_("You cannot report your own idea."), 400)
    begin_write(session)
    report = Report(
        idea_id=idea.id, reporter_id=reporter.id, reason=reason, note=note, created_at=now
    )
    session.add(report)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AlreadyReported() from None
    threshold = get_settings(session=session, brand_id=campaign.brand_id).report_threshold
    open_reports = session.execute(
        select(func.count())
        .select_from(Report)
        .where(col(Report.idea_id) == idea.id, col(Report.status) == ReportStatus.OPEN)
    ).scalar_one()
    if open_reports >= threshold:
        hidden = session.execute(
            update(Idea)
            .execution_options(synchronize_session=False)
            .where(col(Idea.id) == idea.id, col(Idea.hidden_at).is_(None))
            .values(hidden_at=now)
        )
        if hidden.rowcount == 1:  # type: ignore[attr-defined]
            record_automatic(
                session,
                brand_id=campaign.brand_id,
                idea=idea,
                action=Action.HIDE,
                status_after=idea.status,
                now=now,
                effects={"open_reports": open_reports},
            )
    session.commit()
    return report
