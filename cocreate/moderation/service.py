"""Moderation rules: claims, decisions and their undo, pre-screening, reports, settings.

Two moderators may act on the same idea at the same moment (several workers, several
hosts). What keeps them apart is the database, not Python:

- a claim is one row per idea (primary key) written by an `INSERT ... ON CONFLICT DO UPDATE
  ... WHERE the claim expired or is mine ... RETURNING`: only one request gets a row back;
- a decision changes the idea with `UPDATE ideas ... WHERE status = <the status the
  moderator saw>`, then writes its row; when the update changes nothing, someone else
  decided first and the whole transaction is rolled back. Exactly one decision;
- an undo names the decision it reverses in a unique column: at most one undo each.

Functions that decide commit their own transaction and open it with `cocreate.db.begin_write`
(on SQLite a transaction that has read an older snapshot cannot start writing once someone
else committed: it ends the caller's read-only one and takes the write lock first; on
PostgreSQL READ COMMITTED re-checks the guards' WHERE clauses after any lock wait).
Functions called from another feature's transaction (`prescreen_idea`,
`resubmit_after_changes`) leave the commit to their caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.audit.service import record
from cocreate.brands.models import Brand, Membership, Role
from cocreate.campaigns.models import Campaign, CampaignStatus
from cocreate.clock import Clock, system_clock
from cocreate.db import begin_write
from cocreate.i18n import DEFAULT_LOCALE, LOCALES, using_locale
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.ideas.similarity import rank_similar
from cocreate.images import delete_image
from cocreate.moderation import merge_votes, prescreen
from cocreate.moderation.blocklist import DEFAULT_BLOCKLIST
from cocreate.moderation.models import (
    SPAM_KINDS,
    Action,
    FlagKind,
    MergeCredit,
    ModerationClaim,
    ModerationDecision,
    ModerationFlag,
    ModerationMode,
    ModerationSettings,
    Report,
    ReportStatus,
)
from cocreate.notifications.models import OutboxEmail
from cocreate.notifications.service import queue_email
from cocreate.storage import Storage

UNDO_SECONDS = 30
MODES = tuple(m.value for m in ModerationMode)
CLAIM_MINUTES = 5
BULK_LIMIT = 200
DUPLICATE_CANDIDATES = 2000  # the campaign's most recent ideas compared with a new one
# A moderator's rejection is final once its undo window has passed (see `refusal`): the
# idea's image is deleted then, with a minute to spare for clocks that differ between hosts.
PURGE_REJECTED_AFTER = timedelta(seconds=UNDO_SECONDS + 60)
PURGE_BATCH = 100

# Which statuses each decision may start from. Approving or rejecting an approved idea is
# how a moderator settles its reports; a rejected idea can be approved when the rejection
# was automatic (overturning the pre-screen).
DECISIONS_FROM: dict[Action, tuple[str, ...]] = {
    Action.APPROVE: (IdeaStatus.PENDING, IdeaStatus.APPROVED, IdeaStatus.REJECTED),
    Action.REJECT: (IdeaStatus.PENDING, IdeaStatus.APPROVED),
    Action.REQUEST_CHANGES: (IdeaStatus.PENDING, IdeaStatus.APPROVED),
    Action.MERGE: (IdeaStatus.PENDING, IdeaStatus.APPROVED),
    Action.ESCALATE: (IdeaStatus.PENDING, IdeaStatus.APPROVED),
}
STATUS_AFTER: dict[Action, str | None] = {
    Action.APPROVE: IdeaStatus.APPROVED,
    Action.REJECT: IdeaStatus.REJECTED,
    Action.REQUEST_CHANGES: IdeaStatus.DRAFT,
    Action.MERGE: IdeaStatus.MERGED,
    Action.ESCALATE: None,  # unchanged
}
# Decisions that settle an item (its reports, its flags, its claim); escalation does not.
SETTLING = (Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES, Action.MERGE)
UNDOABLE = (*SETTLING, Action.ESCALATE)

BUILTIN_REASONS = ("off_topic", "duplicate", "offensive", "spam", "rules", "unclear", "personal")
REPORT_REASONS = ("spam", "offensive", "off_topic", "copyright", "personal", "other")


def builtin_reason_label(code: str) -> str:
    labels = {
        "off_topic": _("Not about this campaign"),
        "duplicate": _("Already proposed by someone else"),
        "offensive": _("Offensive or hateful content"),
        "spam": _("Advertising or spam"),
        "rules": _("Breaks the campaign rules"),
        "unclear": _("Too unclear to understand"),
        "personal": _("Contains personal information"),
    }
    return labels.get(code, code)


def reason_label(code: str) -> str:
    """The text of a rejection reason in the current language (a brand's own reasons as written)."""
    return builtin_reason_label(code) if code in BUILTIN_REASONS else code


def report_reason_label(code: str) -> str:
    labels = {
        "spam": _("Advertising or spam"),
        "offensive": _("Offensive or hateful"),
        "off_topic": _("Not about this campaign"),
        "copyright": _("Copied from someone else"),
        "personal": _("Shares personal information"),
        "other": _("Something else"),
    }
    return labels.get(code, code)


def flag_label(kind: str) -> str:
    labels: dict[str, str] = {
        FlagKind.BLOCKLIST: _("Blocklisted word"),
        FlagKind.LINK: _("Link (spam?)"),
        FlagKind.PHONE: _("Phone number (spam?)"),
        FlagKind.EMAIL: _("Email address (spam?)"),
        FlagKind.DUPLICATE: _("Looks like another idea"),
        FlagKind.TOO_SHORT: _("Very short"),
        FlagKind.ALL_CAPS: _("All in capitals"),
        FlagKind.ESCALATED: _("Escalated to the brand owner"),
    }
    return labels.get(kind, kind)


def action_label(action: str) -> str:
    labels: dict[str, str] = {
        Action.APPROVE: _("Approved"),
        Action.REJECT: _("Rejected"),
        Action.REQUEST_CHANGES: _("Changes requested"),
        Action.MERGE: _("Merged"),
        Action.ESCALATE: _("Escalated"),
        Action.UNDO: _("Undone"),
        Action.HIDE: _("Hidden after reports"),
        Action.RESUBMIT: _("Resubmitted by the author"),
    }
    return labels.get(action, action)


class Refused(Exception):
    """The action cannot be done; `message` is already in the user's language."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# ---------------------------------------------------------------------------------------
# Brands, settings and visibility


def get_brand(*, session: Session, slug: str) -> Brand | None:
    return session.exec(select(Brand).where(Brand.slug == slug)).first()


def get_settings(*, session: Session, brand_id: int) -> ModerationSettings:
    """The brand's settings, or the defaults (not saved) when it never changed them."""
    found = session.get(ModerationSettings, brand_id)
    return found if found is not None else ModerationSettings(brand_id=brand_id)


def reason_choices(settings: ModerationSettings) -> list[tuple[str, str]]:
    """(code, label) of the rejection reasons a moderator may pick, in the current language."""
    codes = [c for c in BUILTIN_REASONS if c in settings.builtin_reasons]
    return [(c, builtin_reason_label(c)) for c in codes] + [(c, c) for c in settings.custom_reasons]


def is_owner(*, session: Session, user: User, brand: Brand) -> bool:
    if user.is_admin:
        return True
    role = session.exec(
        select(Membership.role).where(
            Membership.brand_id == brand.id, Membership.user_id == user.id
        )
    ).first()
    return role == Role.OWNER


def save_settings(
    *,
    session: Session,
    brand: Brand,
    actor: User,
    auto_reject_spam: bool,
    report_threshold: int,
    blocklist: list[str],
    builtin_reasons: list[str],
    custom_reasons: list[str],
    campaign_modes: dict[int, str],
    clock: Clock = system_clock,
) -> ModerationSettings:
    """Save a brand's moderation settings and its campaigns' moderation modes; commits."""
    assert brand.id is not None
    settings = session.get(ModerationSettings, brand.id) or ModerationSettings(brand_id=brand.id)
    settings.auto_reject_spam = auto_reject_spam
    settings.report_threshold = report_threshold
    settings.blocklist = blocklist
    settings.builtin_reasons = [c for c in BUILTIN_REASONS if c in builtin_reasons]
    settings.custom_reasons = custom_reasons
    settings.updated_at = clock.now()
    session.add(settings)
    changed_modes = {}
    for campaign in session.exec(select(Campaign).where(Campaign.brand_id == brand.id)):
        mode = campaign_modes.get(campaign.id or 0)
        if mode in MODES and mode != campaign.moderation_mode:
            campaign.moderation_mode = mode
            changed_modes[campaign.slug] = mode
            session.add(campaign)
    record(
        session=session,
        actor_id=actor.id,
        action="moderation.settings",
        subject_type="brand",
        subject_id=brand.id,
        auto_reject_spam=auto_reject_spam,
        report_threshold=report_threshold,
        blocklist_size=len(blocklist),
        campaign_modes=changed_modes,
    )
    session.commit()
    return settings


def publicly_visible(mode: str | None = None) -> ColumnElement[bool]:
    """SQL condition for ideas the public may see: approved ideas, and pending ones in
    post-moderated campaigns, unless reports hid them until a moderator decides.

    Without `mode` the query must join Campaign (any campaign's ideas). With the campaign's
    moderation mode, when the query reads one campaign, the condition is on `ideas` alone
    and keeps the gallery's (campaign, status, sort key) indexes usable.
    """
    if mode is not None:
        statuses = public_statuses(mode)
        status = (
            col(Idea.status) == statuses[0]
            if len(statuses) == 1
            else col(Idea.status).in_(statuses)
        )
        return and_(col(Idea.hidden_at).is_(None), status)
    return and_(
        col(Idea.hidden_at).is_(None),
        or_(
            col(Idea.status) == IdeaStatus.APPROVED,
            and_(
                col(Idea.status) == IdeaStatus.PENDING,
                col(Campaign.moderation_mode) == ModerationMode.POST,
            ),
        ),
    )


def public_statuses(mode: str) -> tuple[str, ...]:
    """The statuses the public sees in a campaign of this moderation mode (not hidden)."""
    if mode == ModerationMode.POST:
        return (IdeaStatus.APPROVED, IdeaStatus.PENDING)
    return (IdeaStatus.APPROVED,)


def votable() -> ColumnElement[bool]:
    """SQL condition for ideas a ballot may offer: publicly visible and approved (a vote goes
    to a moderated idea only, even in a post-moderated campaign)."""
    return and_(col(Idea.hidden_at).is_(None), col(Idea.status) == IdeaStatus.APPROVED)


def is_publicly_visible(idea: Idea, campaign: Campaign) -> bool:
    """The same rule as `publicly_visible`, for one idea already loaded."""
    if idea.hidden_at is not None or campaign.status != CampaignStatus.PUBLISHED:
        return False
    return idea.status == IdeaStatus.APPROVED or (
        idea.status == IdeaStatus.PENDING and campaign.moderation_mode == ModerationMode.POST
    )


def idea_in_brand(*, session: Session, brand: Brand, idea_id: int) -> tuple[Idea, Campaign] | None:
    row = session.exec(
        select(Idea, Campaign)
        .join(Campaign, col(Campaign.id) == col(Idea.campaign_id))
        .where(Idea.id == idea_id, Campaign.brand_id == brand.id)
    ).first()
    return (row[0], row[1]) if row else None


# ---------------------------------------------------------------------------------------
# Claims


def claim(*, session: Session, idea_id: int, moderator_id: int, now: datetime) -> bool:
    """Take (or renew) the claim on an idea; False when another moderator holds it. Commits.

    A moderator holds one claim at a time: taking one gives back the others.
    """
    begin_write(session)
    table = ModerationClaim.__table__  # type: ignore[attr-defined]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {
        "idea_id": idea_id,
        "moderator_id": moderator_id,
        "claimed_at": now,
        "expires_at": now + timedelta(minutes=CLAIM_MINUTES),
    }
    statement = dialect.insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.idea_id],
        set_={k: statement.excluded[k] for k in ("moderator_id", "claimed_at", "expires_at")},
        where=or_(table.c.expires_at <= now, table.c.moderator_id == moderator_id),
    ).returning(table.c.moderator_id)
    try:
        won = session.execute(statement).first() is not None
    except IntegrityError:  # the idea was deleted meanwhile
        session.rollback()
        return False
    if won:
        session.execute(
            delete(ModerationClaim).where(
                col(ModerationClaim.moderator_id) == moderator_id,
                col(ModerationClaim.idea_id) != idea_id,
            )
        )
    session.commit()
    return won


def claim_holder(*, session: Session, idea_id: int, now: datetime) -> tuple[int, str] | None:
    """(user id, display name) of whoever holds an unexpired claim on the idea."""
    row = session.exec(
        select(User.id, User.display_name)
        .join(ModerationClaim, col(ModerationClaim.moderator_id) == col(User.id))
        .where(ModerationClaim.idea_id == idea_id, ModerationClaim.expires_at > now)
    ).first()
    return (int(row[0]), row[1]) if row and row[0] is not None else None


# ---------------------------------------------------------------------------------------
# Decisions


@dataclass(frozen=True)
class Decided:
    decision: ModerationDecision
    idea: Idea


def _author_locale(author: User | None, campaign: Campaign) -> str:
    if author is not None and author.locale in LOCALES:
        return str(author.locale)
    first = campaign.languages[0] if campaign.languages else DEFAULT_LOCALE
    return first if first in LOCALES else DEFAULT_LOCALE


def _mail_author(
    *,
    session: Session,
    idea: Idea,
    campaign: Campaign,
    author: User | None,
    template: str,
    base_url: str,
    send_at: datetime,
    reason: str = "",
    note: str = "",
    target_title: str = "",
) -> int | None:
    """Queue a mail to the idea's author in their language, held until the undo window ends."""
    if author is None or author.email is None or not author.is_active:
        return None
    locale = _author_locale(author, campaign)
    with using_locale(locale):
        reason_text = reason_label(reason) if reason else ""
    mail = queue_email(
        session=session,
        to=author.email,
        template=template,
        locale=locale,
        name=author.display_name,
        idea_title=idea.title,
        campaign_title=campaign.title,
        campaign_url=f"{base_url}/c/{campaign.slug}",
        reason=reason_text,
        note=note,
        target_title=target_title,
    )
    # The outbox sends a mail once next_attempt_at has passed: an undo within the window
    # deletes it before anyone reads it.
    mail.next_attempt_at = send_at
    session.flush()
    return mail.id


def _mail_owners(
    *,
    session: Session,
    brand: Brand,
    idea: Idea,
    campaign: Campaign,
    actor: User,
    note: str,
    base_url: str,
    send_at: datetime,
) -> list[int]:
    owners = session.exec(
        select(User)
        .join(Membership, col(Membership.user_id) == col(User.id))
        .where(Membership.brand_id == brand.id, Membership.role == Role.OWNER)
    ).all()
    ids = []
    for owner in owners:
        if owner.email is None or not owner.is_active:
            continue
        mail = queue_email(
            session=session,
            to=owner.email,
            template="moderation_escalated",
            locale=owner.locale,
            name=owner.display_name,
            moderator=actor.display_name,
            idea_title=idea.title,
            campaign_title=campaign.title,
            note=note,
            url=f"{base_url}/brands/{brand.slug}/moderation/ideas/{idea.id}",
        )
        mail.next_attempt_at = send_at
        session.flush()
        if mail.id is not None:
            ids.append(mail.id)
    return ids


def move_votes_and_followers_on_merge(
    *, session: Session, source: Idea, target_idea_id: int, now: datetime
) -> dict[str, list[int]]:
    """Move a merged duplicate's votes to the idea it joined (see `merge_votes`); returns
    what moved, kept in the decision's effects for the undo. There is no followers table:
    when following exists, its rows move here too."""
    assert source.id is not None
    return merge_votes.move_votes(
        session=session,
        campaign_id=source.campaign_id,
        source_id=source.id,
        target_id=target_idea_id,
        now=now,
    )


def restore_votes_and_followers_after_unmerge(
    *, session: Session, source: Idea, target_idea_id: int, moved: dict[str, list[int]]
) -> None:
    """The reverse of `move_votes_and_followers_on_merge`, when a merge is undone."""
    assert source.id is not None
    merge_votes.restore_votes(
        session=session,
        campaign_id=source.campaign_id,
        source_id=source.id,
        target_id=target_idea_id,
        moved=moved,
    )


def has_open_escalation(*, session: Session, idea_id: int) -> bool:
    return (
        session.exec(
            select(ModerationFlag.id).where(
                ModerationFlag.idea_id == idea_id,
                ModerationFlag.kind == FlagKind.ESCALATED,
                col(ModerationFlag.resolved_by_id).is_(None),
            )
        ).first()
        is not None
    )


def _has_open_reports(session: Session, idea_id: int) -> bool:
    return (
        session.exec(
            select(Report.id).where(Report.idea_id == idea_id, Report.status == ReportStatus.OPEN)
        ).first()
        is not None
    )


def _last_decision(session: Session, idea_id: int) -> ModerationDecision | None:
    return session.exec(
        select(ModerationDecision)
        .where(ModerationDecision.idea_id == idea_id)
        .order_by(col(ModerationDecision.id).desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class ItemState:
    """What decides which actions an idea allows, read in one go."""

    status: str
    open_reports: bool
    last_decision_automatic: bool
    escalated: bool


def _item_state(session: Session, idea: Idea) -> ItemState:
    assert idea.id is not None
    last = _last_decision(session, idea.id) if idea.status == IdeaStatus.REJECTED else None
    return ItemState(
        status=idea.status,
        open_reports=idea.status == IdeaStatus.APPROVED and _has_open_reports(session, idea.id),
        last_decision_automatic=last is not None and last.automatic,
        escalated=has_open_escalation(session=session, idea_id=idea.id),
    )


def refusal(state: ItemState, action: Action, *, actor_is_owner: bool) -> Refused | None:
    """Why `action` cannot be done on an idea in `state` (in the user's language), or None."""
    if state.status not in DECISIONS_FROM[action]:
        return Refused(_("This idea has already been decided."))
    if state.status == IdeaStatus.APPROVED and not state.open_reports:
        # An approved idea comes back to moderators only through reports.
        return Refused(_("This idea has already been decided."))
    if state.status == IdeaStatus.REJECTED and not state.last_decision_automatic:
        return Refused(_("This idea has already been decided."))
    if action == Action.ESCALATE and state.escalated:
        return Refused(_("This idea is already escalated to the brand owner."))
    if action != Action.ESCALATE and not actor_is_owner and state.escalated:
        return Refused(_("This idea was escalated: only a brand owner can decide it."), 403)
    return None


def _decision_context(
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


def decide(
    *,
    session: Session,
    brand: Brand,
    idea_id: int,
    actor: User,
    action: Action,
    reason: str = "",
    note: str = "",
    merge_into_id: int | None = None,
    base_url: str = "",
    clock: Clock = system_clock,
) -> Decided:
    """Record one moderator's decision on one idea, or raise Refused. Commits.

    Exactly one of two moderators deciding the same idea at once succeeds: see the module
    docstring. Mails to the author wait for the undo window to pass.
    """
    now = clock.now()
    assert brand.id is not None and actor.id is not None
    found = _decision_context(session, brand=brand, idea_id=idea_id, actor=actor, now=now)
    if found is None:
        raise Refused(_("There is no such idea in this brand's queue."), 404)
    idea, campaign, author, holder, state, owner, settings = found
    refused = refusal(state, action, actor_is_owner=owner)
    if refused is not None:
        raise refused
    if holder is not None and holder[0] != actor.id:
        raise Refused(_("%(name)s is reviewing this idea.") % {"name": holder[1]})
    if action == Action.REJECT:
        allowed = {code for code, _label in reason_choices(settings)}
        if reason not in allowed:
            raise Refused(_("Choose a reason for the rejection."), 400)
    if action == Action.REQUEST_CHANGES and not note:
        raise Refused(_("Tell the author what to change."), 400)
    target: Idea | None = None
    if action == Action.MERGE:
        target = session.get(Idea, merge_into_id) if merge_into_id else None
        if (
            target is None
            or target.id == idea.id
            or target.campaign_id != idea.campaign_id
            or target.status != IdeaStatus.APPROVED
        ):
            raise Refused(_("Choose an approved idea of the same campaign to merge into."), 400)
    status_before = idea.status
    status_after = STATUS_AFTER[action] or status_before
    hidden_before = idea.hidden_at

    begin_write(session)
    # The guard first: on SQLite a write as the first statement takes the write lock with a
    # fresh snapshot. If it changes nothing, someone else decided a moment ago.
    conditions = [col(Idea.id) == idea_id, col(Idea.status) == status_before]
    changes: dict[str, Any] = {"updated_at": now}
    if action != Action.ESCALATE:
        changes |= {"status": status_after, "hidden_at": None}
    if target is not None:
        changes["merged_into_id"] = target.id
        other = Idea.__table__.alias("target")  # type: ignore[attr-defined]
        # The target must still be approved when the merge lands.
        conditions.append(
            exists().where(other.c.id == target.id, other.c.status == IdeaStatus.APPROVED)
        )
    guard = session.execute(
        update(Idea)
        .execution_options(synchronize_session=False)
        .where(*conditions)
        .values(**changes)
    )
    if guard.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Refused(_("Another moderator decided this idea a moment ago."))
    effects: dict[str, Any] = {}
    if action == Action.ESCALATE:
        escalation = ModerationFlag(
            idea_id=idea_id,
            kind=FlagKind.ESCALATED,
            detail=note[:200],
            suggested_action=Action.APPROVE,
            created_at=now,
        )
        session.add(escalation)
        try:
            session.flush()
        except IntegrityError:  # one open escalation per idea (a partial unique index)
            session.rollback()
            raise Refused(_("This idea is already escalated to the brand owner.")) from None
        effects["escalation_flag_id"] = escalation.id
    else:
        effects["hidden_at"] = hidden_before.isoformat() if hidden_before else None
    send_at = now + timedelta(seconds=UNDO_SECONDS)
    mails: list[int] = []
    template = {
        Action.REJECT: "moderation_rejected",
        Action.REQUEST_CHANGES: "moderation_changes_requested",
        Action.MERGE: "moderation_merged",
    }.get(action)
    if template is not None:
        mail_id = _mail_author(
            session=session,
            idea=idea,
            campaign=campaign,
            author=author,
            template=template,
            base_url=base_url,
            send_at=send_at,
            reason=reason,
            note=note,
            target_title=target.title if target else "",
        )
        if mail_id is not None:
            mails.append(mail_id)
    if action == Action.ESCALATE:
        mails += _mail_owners(
            session=session,
            brand=brand,
            idea=idea,
            campaign=campaign,
            actor=actor,
            note=note,
            base_url=base_url,
            send_at=send_at,
        )
    if target is not None and target.id is not None:
        if target.author_id != idea.author_id:
            credit = MergeCredit(
                target_idea_id=target.id,
                source_idea_id=idea_id,
                user_id=idea.author_id,
                created_at=now,
            )
            session.add(credit)
            session.flush()
            effects["credit_id"] = credit.id
        try:
            effects["votes"] = move_votes_and_followers_on_merge(
                session=session, source=idea, target_idea_id=target.id, now=now
            )
        except IntegrityError:  # a voter voted for the target meanwhile (PostgreSQL)
            session.rollback()
            raise Refused(_("Votes changed while merging. Please try again.")) from None
    effects["mails"] = mails
    decision = ModerationDecision(
        brand_id=brand.id,
        idea_id=idea_id,
        actor_id=actor.id,
        automatic=False,
        action=action,
        reason=reason[:200],
        note=note,
        status_before=status_before,
        status_after=status_after,
        merged_into_id=target.id if target else None,
        effects=effects,
        at=now,
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
    if action != Action.ESCALATE:
        idea.hidden_at = None
    if target is not None:
        idea.merged_into_id = target.id
    return Decided(decision=decision, idea=idea)


def undo(
    *,
    session: Session,
    brand: Brand,
    decision_id: int,
    actor: User,
    clock: Clock = system_clock,
) -> Decided:
    """Reverse a decision made less than UNDO_SECONDS ago, recording an 'undo'. Commits."""
    now = clock.now()
    assert actor.id is not None
    original = session.get(ModerationDecision, decision_id)
    if original is None or original.brand_id != brand.id:
        raise Refused(_("There is no such decision to undo."), 404)
    if original.actor_id != actor.id and not is_owner(session=session, user=actor, brand=brand):
        raise Refused(_("Only the moderator who decided, or a brand owner, can undo it."), 403)
    if original.action not in UNDOABLE or original.automatic:
        raise Refused(_("This decision cannot be undone."), 400)
    if now - original.at > timedelta(seconds=UNDO_SECONDS):
        raise Refused(_("It is too late to undo this decision."))
    last = _last_decision(session, original.idea_id)
    if last is None or last.id != original.id:
        raise Refused(_("This idea has changed since; it cannot be undone now."))
    idea = session.get(Idea, original.idea_id)
    assert idea is not None and original.id is not None
    effects = original.effects or {}

    begin_write(session)
    try:
        undo_id = session.execute(
            insert(ModerationDecision)
            .values(
                brand_id=original.brand_id,
                idea_id=original.idea_id,
                actor_id=actor.id,
                automatic=False,
                action=Action.UNDO,
                reason="",
                note="",
                status_before=original.status_after,
                status_after=original.status_before,
                undoes_id=original.id,
                effects={},
                at=now,
            )
            .returning(col(ModerationDecision.id))
        ).scalar_one()
    except IntegrityError:  # the unique undoes_id: someone undid it a moment ago
        session.rollback()
        raise Refused(_("This decision was already undone.")) from None
    if original.action == Action.ESCALATE:
        guard = session.execute(
            update(ModerationFlag)
            .execution_options(synchronize_session=False)
            .where(
                col(ModerationFlag.id) == effects.get("escalation_flag_id"),
                col(ModerationFlag.resolved_by_id).is_(None),
            )
            .values(resolved_by_id=undo_id)
        )
    else:
        hidden = effects.get("hidden_at")
        guard = session.execute(
            update(Idea)
            .execution_options(synchronize_session=False)
            .where(col(Idea.id) == original.idea_id, col(Idea.status) == original.status_after)
            .values(
                status=original.status_before,
                merged_into_id=None,
                hidden_at=datetime.fromisoformat(hidden) if hidden else None,
                updated_at=now,
            )
        )
    if guard.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Refused(_("This idea has changed since; it cannot be undone now."))
    session.execute(
        update(Report)
        .execution_options(synchronize_session=False)
        .where(col(Report.resolved_by_id) == original.id)
        .values(status=ReportStatus.OPEN, resolved_by_id=None)
    )
    session.execute(
        update(ModerationFlag)
        .execution_options(synchronize_session=False)
        .where(col(ModerationFlag.resolved_by_id) == original.id)
        .values(resolved_by_id=None)
    )
    mails = [m for m in effects.get("mails", []) if isinstance(m, int)]
    if mails:
        session.execute(
            delete(OutboxEmail).where(
                col(OutboxEmail.id).in_(mails), col(OutboxEmail.sent_at).is_(None)
            )
        )
    if isinstance(effects.get("credit_id"), int):
        session.execute(delete(MergeCredit).where(col(MergeCredit.id) == effects["credit_id"]))
    if original.action == Action.MERGE and original.merged_into_id is not None:
        try:
            restore_votes_and_followers_after_unmerge(
                session=session,
                source=idea,
                target_idea_id=original.merged_into_id,
                moved=effects.get("votes") or {},
            )
        except IntegrityError:
            session.rollback()
            raise Refused(_("This idea has changed since; it cannot be undone now.")) from None
    session.commit()
    decision = session.get(ModerationDecision, undo_id)
    assert decision is not None
    session.refresh(idea)
    return Decided(decision=decision, idea=idea)


@dataclass(frozen=True)
class BulkResult:
    decided: list[ModerationDecision]
    refused: list[tuple[int, str]]  # (idea id, why)


def bulk_decide(
    *,
    session: Session,
    brand: Brand,
    idea_ids: list[int],
    actor: User,
    action: Action,
    reason: str = "",
    base_url: str = "",
    clock: Clock = system_clock,
) -> BulkResult:
    """Approve or reject many ideas; each is its own decision (and its own transaction)."""
    if action not in (Action.APPROVE, Action.REJECT):
        raise Refused(_("Only approve and reject can be done in bulk."), 400)
    if not idea_ids:
        raise Refused(_("Select at least one idea."), 400)
    if len(idea_ids) > BULK_LIMIT:
        raise Refused(_("Select at most %(n)d ideas at a time.") % {"n": BULK_LIMIT}, 400)
    decided, refused = [], []
    for idea_id in dict.fromkeys(idea_ids):
        try:
            result = decide(
                session=session,
                brand=brand,
                idea_id=idea_id,
                actor=actor,
                action=action,
                reason=reason,
                base_url=base_url,
                clock=clock,
            )
        except Refused as exc:
            if exc.status == 400:  # the same for every idea (no reason given): say it once
                raise
            refused.append((idea_id, exc.message))
        else:
            decided.append(result.decision)
    return BulkResult(decided=decided, refused=refused)


def purge_rejected_images(
    *, session: Session, storage: Storage, clock: Clock = system_clock
) -> int:
    """Delete the image files of rejected ideas whose rejection is final (decided by a
    moderator, past its undo window); returns how many images went. Commits.

    An automatic rejection keeps its image: a moderator may still approve the idea. Until its
    files go, a rejected idea's image is served only to whoever may see the idea
    (`ideas.service.image_audience`). Safe to run on several hosts at once: each key is
    cleared by a conditional update, and only the run that cleared it deletes the files.
    """
    cutoff = clock.now() - PURGE_REJECTED_AFTER
    latest = (
        sa_select(func.max(ModerationDecision.id))
        .where(col(ModerationDecision.idea_id) == col(Idea.id))
        .correlate(Idea)
        .scalar_subquery()
    )
    rows = session.exec(
        select(Idea.id, Idea.image_key)
        .join(ModerationDecision, col(ModerationDecision.id) == latest)
        .where(
            col(Idea.image_key).is_not(None),
            Idea.status == IdeaStatus.REJECTED,
            col(ModerationDecision.automatic).is_(False),
            col(ModerationDecision.at) < cutoff,
        )
        .limit(PURGE_BATCH)
    ).all()
    session.commit()  # end the read: each clearing below is a write transaction of its own
    purged = 0
    for idea_id, image_key in rows:
        assert image_key is not None
        cleared = session.execute(
            update(Idea)
            .execution_options(synchronize_session=False)
            .where(
                col(Idea.id) == idea_id,
                col(Idea.image_key) == image_key,
                col(Idea.status) == IdeaStatus.REJECTED,
            )
            .values(image_key=None)
        )
        session.commit()
        if cleared.rowcount == 1:  # type: ignore[attr-defined]
            delete_image(storage, image_key)
            purged += 1
    return purged


# ---------------------------------------------------------------------------------------
# Automatic work: pre-screen, resubmission, reports


def _record_automatic(
    session: Session,
    *,
    brand_id: int,
    idea: Idea,
    action: Action,
    status_after: str,
    now: datetime,
    reason: str = "",
    actor_id: int | None = None,
    effects: dict[str, Any] | None = None,
) -> ModerationDecision:
    decision = ModerationDecision(
        brand_id=brand_id,
        idea_id=idea.id or 0,
        actor_id=actor_id,
        automatic=actor_id is None,
        action=action,
        reason=reason,
        status_before=idea.status,
        status_after=status_after,
        effects=effects or {},
        at=now,
    )
    session.add(decision)
    session.flush()
    return decision


def look_alike(*, session: Session, idea: Idea) -> tuple[int, str, str] | None:
    """(id, title, status) of the campaign's idea that `idea` most looks like, if any.

    With the ideas feature's similarity search: approved ideas first (they can receive a
    merge), else the most recent pending ones ranked the same way (two people sending the
    same idea at the same time).
    """
    # Imported here: the ideas feature calls this module on every submission.
    from cocreate.ideas.service import similar_ideas

    assert idea.id is not None
    approved = similar_ideas(
        session=session, campaign_id=idea.campaign_id, title=idea.title, limit=1, exclude=idea.id
    )
    if approved:
        return approved[0].id or 0, approved[0].title, approved[0].status
    pending = session.exec(
        select(Idea.id, Idea.search_key, Idea.title)
        .where(
            Idea.campaign_id == idea.campaign_id,
            Idea.status == IdeaStatus.PENDING,
            col(Idea.id) != idea.id,
        )
        .order_by(col(Idea.id).desc())
        .limit(DUPLICATE_CANDIDATES)
    ).all()
    titles = {int(i): t for i, _key, t in pending if i is not None}
    ranked = rank_similar(idea.title, ((int(i), k) for i, k, _t in pending if i is not None))
    if not ranked:
        return None
    best = ranked[0][0]
    return best, titles[best], IdeaStatus.PENDING


def prescreen_idea(
    *, session: Session, idea: Idea, clock: Clock = system_clock, base_url: str = ""
) -> list[ModerationFlag]:
    """Screen a just-submitted idea: store flags with a suggested action; reject spam
    automatically when the brand asked for it. The caller commits.

    For the ideas feature: call it on every submission, in the submission's transaction.
    """
    now = clock.now()
    assert idea.id is not None
    campaign = session.get(Campaign, idea.campaign_id)
    assert campaign is not None
    settings = get_settings(session=session, brand_id=campaign.brand_id)
    findings = prescreen.screen(
        title=idea.title,
        description=idea.description,
        blocklist=[*DEFAULT_BLOCKLIST, *settings.blocklist],
        look_alike=look_alike(session=session, idea=idea),
    )
    # A resubmitted idea is screened afresh: earlier automatic findings no longer hold.
    session.execute(
        delete(ModerationFlag).where(
            col(ModerationFlag.idea_id) == idea.id,
            col(ModerationFlag.kind) != FlagKind.ESCALATED,
            col(ModerationFlag.resolved_by_id).is_(None),
        )
    )
    flags = [
        ModerationFlag(
            idea_id=idea.id,
            kind=f.kind,
            detail=f.detail,
            suggested_action=f.suggested_action,
            similar_idea_id=f.similar_idea_id,
            created_at=now,
        )
        for f in findings
    ]
    session.add_all(flags)
    session.flush()
    is_spam = any(f.kind in SPAM_KINDS for f in findings)
    if settings.auto_reject_spam and is_spam and idea.status == IdeaStatus.PENDING:
        changed = session.execute(
            update(Idea)
            .execution_options(synchronize_session=False)
            .where(col(Idea.id) == idea.id, col(Idea.status) == IdeaStatus.PENDING)
            .values(status=IdeaStatus.REJECTED, updated_at=now)
        )
        if changed.rowcount == 1:  # type: ignore[attr-defined]
            decision = _record_automatic(
                session,
                brand_id=campaign.brand_id,
                idea=idea,
                action=Action.REJECT,
                status_after=IdeaStatus.REJECTED,
                reason="spam",
                now=now,
            )
            mail_id = _mail_author(
                session=session,
                idea=idea,
                campaign=campaign,
                author=session.get(User, idea.author_id),
                template="moderation_rejected",
                base_url=base_url,
                send_at=now,
                reason="spam",
            )
            decision.effects = {"mails": [mail_id] if mail_id else []}
            session.add(decision)
            session.refresh(idea)
    return flags


def resubmit_after_changes(
    *, session: Session, idea: Idea, clock: Clock = system_clock, base_url: str = ""
) -> bool:
    """The author sent back an idea a moderator returned for changes: back to the queue.

    For the ideas feature, when its author submits an idea `changes_requested` returns a
    decision for. Moves draft -> pending, records it in the history, screens it again.
    Returns False when the idea was not waiting for changes. The caller commits.
    """
    now = clock.now()
    if changes_requested(session=session, idea_id=idea.id or 0) is None:
        return False
    moved = session.execute(
        update(Idea)
        .execution_options(synchronize_session=False)
        .where(col(Idea.id) == idea.id, col(Idea.status) == IdeaStatus.DRAFT)
        .values(status=IdeaStatus.PENDING, updated_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    campaign = session.get(Campaign, idea.campaign_id)
    assert campaign is not None
    _record_automatic(
        session,
        brand_id=campaign.brand_id,
        idea=idea,
        action=Action.RESUBMIT,
        status_after=IdeaStatus.PENDING,
        now=now,
        actor_id=idea.author_id,
    )
    session.refresh(idea)
    prescreen_idea(session=session, idea=idea, clock=clock, base_url=base_url)
    return True


def changes_requested(*, session: Session, idea_id: int) -> ModerationDecision | None:
    """The moderator's change request an idea is waiting on (its `note` is the message)."""
    last = _last_decision(session, idea_id)
    if last is None or last.action != Action.REQUEST_CHANGES:
        return None
    idea = session.get(Idea, idea_id)
    return last if idea is not None and idea.status == IdeaStatus.DRAFT else None


def credited_authors(*, session: Session, idea_id: int) -> list[User]:
    """Authors of duplicates merged into this idea, credited alongside its own author."""
    return list(
        session.exec(
            select(User)
            .join(MergeCredit, col(MergeCredit.user_id) == col(User.id))
            .where(MergeCredit.target_idea_id == idea_id)
            .order_by(col(MergeCredit.id))
        ).all()
    )


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
            _record_automatic(
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


def is_actionable(*, session: Session, idea: Idea, by_owner: bool = True) -> bool:
    """Whether the idea waits for a decision (pending, reported, or rejected automatically)
    that this person may make (escalated ideas wait for an owner)."""
    return refusal(_item_state(session, idea), Action.APPROVE, actor_is_owner=by_owner) is None
