"""The steps every decision on an idea shares, in the order each use case runs them.

Two moderators may act on the same idea at the same moment (several workers, several
hosts). What keeps them apart is the database, not Python: a decision changes the idea with
`UPDATE ideas ... WHERE status = <the status the moderator saw>` (`guard`) before it writes
anything else; when the update changes nothing, someone else decided first and the whole
transaction is rolled back. Exactly one decision.

A decision commits its own transaction and opens it with `cocreate.db.begin_write` (on SQLite
a transaction that has read an older snapshot cannot start writing once someone else
committed: it ends the caller's read-only one and takes the write lock first; on PostgreSQL
READ COMMITTED re-checks the guard's WHERE clauses after any lock wait).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign
from cocreate.db import begin_write
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.moderation.mails import mail_author
from cocreate.moderation.models import (
    Action,
    FlagKind,
    ModerationClaim,
    ModerationDecision,
    ModerationFlag,
    ModerationSettings,
    Report,
    ReportStatus,
)
from cocreate.moderation.rules import SETTLING, UNDO_SECONDS, ItemState, Refused, refusal


@dataclass(frozen=True)
class Decided:
    decision: ModerationDecision
    idea: Idea


@dataclass(frozen=True)
class Case:
    """One decision in the making: who decides what, and what was read to check it."""

    brand: Brand
    actor: User
    idea: Idea
    campaign: Campaign
    author: User | None
    settings: ModerationSettings
    now: datetime
    status_before: str  # as the moderator saw it: the guard's condition
    hidden_before: datetime | None  # when reports hid it (a settling decision shows it again)

    @property
    def send_at(self) -> datetime:
        """When its mails may leave: once the undo window has passed."""
        return self.now + timedelta(seconds=UNDO_SECONDS)


def _context(
    session: Session, *, brand: Brand, idea_id: int, actor: User, now: datetime
) -> tuple[Idea, Campaign, User | None, tuple[int, str] | None, ItemState, bool, Any] | None:
    """Everything a decision checks, in one round trip: the idea, its campaign and author,
    who holds its claim, its reports, escalation and last decision, the actor's role, the
    brand's settings."""
    author = aliased(User)
    holder = aliased(User)
    latest = aliased(ModerationDecision)
    reported = exists().where(
        col(Report.idea_id) == col(Idea.id), col(Report.status) == ReportStatus.OPEN
    )
    escalated = exists().where(
        col(ModerationFlag.idea_id) == col(Idea.id),
        col(ModerationFlag.kind) == FlagKind.ESCALATED,
        col(ModerationFlag.resolved_by_id).is_(None),
    )
    last_automatic = (
        sa_select(col(latest.automatic))
        .where(col(latest.idea_id) == col(Idea.id))
        .order_by(col(latest.id).desc())
        .limit(1)
        .correlate(Idea)
        .scalar_subquery()
    )
    row = session.execute(
        sa_select(
            Idea,
            Campaign,
            author,
            col(ModerationClaim.moderator_id),
            col(holder.display_name),
            reported,
            escalated,
            last_automatic,
            col(Membership.role),
            ModerationSettings,
        )
        .join(Campaign, col(Campaign.id) == col(Idea.campaign_id))
        .outerjoin(author, col(author.id) == col(Idea.author_id))
        .outerjoin(
            ModerationClaim,
            and_(
                col(ModerationClaim.idea_id) == col(Idea.id), col(ModerationClaim.expires_at) > now
            ),
        )
        .outerjoin(holder, col(holder.id) == col(ModerationClaim.moderator_id))
        .outerjoin(
            Membership,
            and_(col(Membership.brand_id) == brand.id, col(Membership.user_id) == actor.id),
        )
        .outerjoin(ModerationSettings, col(ModerationSettings.brand_id) == brand.id)
        .where(col(Idea.id) == idea_id, col(Campaign.brand_id) == brand.id)
    ).first()
    if row is None:
        return None
    idea, campaign, author_user, holder_id, holder_name, has_reports, has_escalation = row[:7]
    automatic, role, settings = row[7:]
    state = ItemState(
        status=idea.status,
        open_reports=bool(has_reports),
        last_decision_automatic=bool(automatic),
        escalated=bool(has_escalation),
    )
    owner = actor.is_admin or role == Role.OWNER
    claim = (int(holder_id), holder_name) if holder_id is not None else None
    brand_settings = (
        settings if settings is not None else ModerationSettings(brand_id=brand.id or 0)
    )
    return idea, campaign, author_user, claim, state, owner, brand_settings


def open_case(
    session: Session, *, brand: Brand, idea_id: int, actor: User, action: Action, now: datetime
) -> Case:
    """Read what the decision checks; raise Refused when the idea is not in this brand's
    queue, its state does not allow `action` by this person, or another moderator holds it."""
    assert brand.id is not None and actor.id is not None
    found = _context(session, brand=brand, idea_id=idea_id, actor=actor, now=now)
    if found is None:
        raise Refused(_("There is no such idea in this brand's queue."), 404)
    idea, campaign, author, holder, state, owner, settings = found
    refused = refusal(state, action, actor_is_owner=owner)
    if refused is not None:
        raise refused
    if holder is not None and holder[0] != actor.id:
        raise Refused(_("%(name)s is reviewing this idea.") % {"name": holder[1]})
    return Case(brand, actor, idea, campaign, author, settings, now, idea.status, idea.hidden_at)


def guard(
    session: Session,
    case: Case,
    *,
    changes: dict[str, Any],
    conditions: Sequence[ColumnElement[bool]] = (),
) -> None:
    """Start the write with the idea's change, on the condition that its status is still the
    one the moderator saw (and `conditions`); raise Refused when someone decided first."""
    begin_write(session)
    # The guard first: on SQLite a write as the first statement takes the write lock with a
    # fresh snapshot. If it changes nothing, someone else decided a moment ago.
    guarded = session.execute(
        update(Idea)
        .execution_options(synchronize_session=False)
        .where(col(Idea.id) == case.idea.id, col(Idea.status) == case.status_before, *conditions)
        .values(updated_at=case.now, **changes)
    )
    if guarded.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Refused(_("Another moderator decided this idea a moment ago."))


def conclude(
    session: Session,
    case: Case,
    *,
    action: Action,
    status_after: str,
    effects: dict[str, Any],
    reason: str = "",
    note: str = "",
    merged_into_id: int | None = None,
) -> Decided:
    """Record the decision; a settling one also settles the idea's open reports and flags.
    Release the claim, commit, and return the idea as the decision left it."""
    idea, status_before = case.idea, case.status_before
    idea_id = idea.id
    assert case.brand.id is not None and case.actor.id is not None and idea_id is not None
    decision = ModerationDecision(
        brand_id=case.brand.id,
        idea_id=idea_id,
        actor_id=case.actor.id,
        automatic=False,
        action=action,
        reason=reason[:200],
        note=note,
        status_before=status_before,
        status_after=status_after,
        merged_into_id=merged_into_id,
        effects=effects,
        at=case.now,
    )
    session.add(decision)
    session.flush()
    if action in SETTLING:
        settled = session.execute(
            update(Report)
            .execution_options(synchronize_session=False)
            .where(col(Report.idea_id) == idea_id, col(Report.status) == ReportStatus.OPEN)
            .values(
                status=ReportStatus.DISMISSED if action == Action.APPROVE else ReportStatus.UPHELD,
                resolved_by_id=decision.id,
            )
        )
        if status_before == status_after and settled.rowcount == 0:  # type: ignore[attr-defined]
            # Keeping a reported idea: the reports are what was decided, and they are gone.
            session.rollback()
            raise Refused(_("Another moderator decided this idea a moment ago."))
        session.execute(
            update(ModerationFlag)
            .execution_options(synchronize_session=False)
            .where(
                col(ModerationFlag.idea_id) == idea_id,
                col(ModerationFlag.resolved_by_id).is_(None),
            )
            .values(resolved_by_id=decision.id)
        )
    session.execute(delete(ModerationClaim).where(col(ModerationClaim.idea_id) == idea_id))
    session.commit()
    # What the caller shows, without reading back what we just wrote.
    session.expunge(idea)
    idea.status = status_after
    if action in SETTLING:
        idea.hidden_at = None
    if merged_into_id is not None:
        idea.merged_into_id = merged_into_id
    return Decided(decision=decision, idea=idea)


def settling_changes(status_after: str) -> dict[str, Any]:
    """The idea's change for a settling decision: its new status, and shown again (a report
    may have hidden it)."""
    return {"status": status_after, "hidden_at": None}


def mail_the_author(
    session: Session,
    case: Case,
    *,
    template: str,
    reason: str,
    note: str,
    base_url: str,
    target_title: str = "",
) -> list[int]:
    """Queue the mail that tells the idea's author (ids of the mails queued, for the undo)."""
    mail_id = mail_author(
        session=session,
        idea=case.idea,
        campaign=case.campaign,
        author=case.author,
        template=template,
        base_url=base_url,
        send_at=case.send_at,
        reason=reason,
        note=note,
        target_title=target_title,
    )
    return [mail_id] if mail_id is not None else []


def settle(
    session: Session,
    case: Case,
    *,
    action: Action,
    status_after: str,
    mails: list[int],
    reason: str,
    note: str,
    effects: dict[str, Any] | None = None,
    merged_into_id: int | None = None,
) -> Decided:
    """`conclude` a settling decision, keeping for its undo when reports had hidden the idea,
    the decision's own `effects` and the mails it queued."""
    hidden = case.hidden_before
    return conclude(
        session,
        case,
        action=action,
        status_after=status_after,
        effects={
            "hidden_at": hidden.isoformat() if hidden else None,
            **(effects or {}),
            "mails": mails,
        },
        reason=reason,
        note=note,
        merged_into_id=merged_into_id,
    )


def settle_and_tell(
    session: Session,
    case: Case,
    *,
    action: Action,
    status_after: str,
    reason: str,
    note: str,
    mail_template: str | None,
    base_url: str,
) -> Decided:
    """A settling decision, once checked, that changes nothing but the idea's status: the
    guarded change, the author's mail (when there is a template), the record."""
    guard(session, case, changes=settling_changes(status_after))
    mails = (
        mail_the_author(
            session, case, template=mail_template, reason=reason, note=note, base_url=base_url
        )
        if mail_template is not None
        else []
    )
    return settle(
        session,
        case,
        action=action,
        status_after=status_after,
        mails=mails,
        reason=reason,
        note=note,
    )
