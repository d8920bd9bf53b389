"""Ideas: who may edit or withdraw an idea, the author's list, submitting and withdrawing.

Keyword-only functions taking a session; no HTTP here. Errors the author should read are
`IdeaRefused` with a message already in their language. Next door: who sees an idea
(`visibility.py`), the word index and look-alikes (`search.py`), the gallery (`gallery.py`),
and what features built on ideas plug in (`hooks.py`: moderation screens every submission).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.campaigns.timeline import is_open
from cocreate.clock import FrozenClock
from cocreate.i18n import gettext as _
from cocreate.ideas import hooks
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.ideas.search import reindex_terms
from cocreate.ideas.similarity import fold
from cocreate.images import delete_image
from cocreate.storage import Storage

TITLE_MAX = 120
DESCRIPTION_MAX = 5000
# Ideas that use one of the author's places in a campaign. Drafts and withdrawn ideas do not,
# nor rejected ones: the rejection mail invites the author to submit another.
COUNTED_STATUSES = (IdeaStatus.PENDING, IdeaStatus.APPROVED, IdeaStatus.MERGED)
# Whatever became of them (rejected, withdrawn), nobody sends a campaign's moderators more
# than this many times its limit: a freed place must not become a way to flood the queue.
SUBMITTED_CEILING = 3
EDITABLE_STATUSES = (IdeaStatus.DRAFT, IdeaStatus.PENDING)
# Drafts cost nothing against the limit; this only stops a script from filling the table.
MAX_DRAFTS = 20
RANDOM_KEY_LIMIT = 2**31  # an idea's random_key, and the seed of the gallery's random order


class IdeaRefused(Exception):
    """A rule said no; `message` is for the author, in their language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class IdeaContent:
    title: str
    description: str
    category: str | None
    image_key: str | None


def _id(value: int | None) -> int:
    assert value is not None, "saved rows have ids"
    return value


# --- who may do what ---------------------------------------------------------------------


def campaign_stages(*, session: Session, campaign: Campaign) -> list[Stage]:
    return list(session.exec(select(Stage).where(Stage.campaign_id == campaign.id)).all())


def submission_open(*, session: Session, campaign: Campaign, now: datetime) -> bool:
    stages = campaign_stages(session=session, campaign=campaign)
    return is_open(stages, StageKind.SUBMISSION, now) is not None


def can_edit(idea: Idea, user: User | None) -> bool:
    return user is not None and user.id == idea.author_id and idea.status in EDITABLE_STATUSES


def can_withdraw(idea: Idea, user: User | None, *, submission_is_open: bool) -> bool:
    """Drafts and ideas waiting for moderation any time; approved ones until submission ends."""
    if user is None or user.id != idea.author_id:
        return False
    if idea.status in EDITABLE_STATUSES:
        return True
    return idea.status == IdeaStatus.APPROVED and submission_is_open


# --- reading -------------------------------------------------------------------------------


def get_idea(*, session: Session, campaign: Campaign, idea_id: int) -> Idea | None:
    return session.exec(
        select(Idea).where(Idea.id == idea_id, Idea.campaign_id == campaign.id)
    ).first()


def author_of(*, session: Session, idea: Idea) -> User | None:
    return session.get(User, idea.author_id)


@dataclass(frozen=True)
class Places:
    """The author's places in a campaign: `used` by ideas that count against the limit, and
    `submitted` ever (rejected and withdrawn ones too), against the ceiling."""

    limit: int
    used: int
    submitted: int

    @property
    def ceiling(self) -> int:
        return self.limit * SUBMITTED_CEILING

    @property
    def at_ceiling(self) -> bool:
        return self.submitted >= self.ceiling

    @property
    def left(self) -> int:
        return max(0, min(self.limit - self.used, self.ceiling - self.submitted))


def places(
    *, session: Session, campaign: Campaign, author_id: int, exclude: int | None = None
) -> Places:
    """The author's places in the campaign; `exclude` (an idea being submitted) is not counted."""
    counted = col(Idea.status).in_(COUNTED_STATUSES)
    ever_submitted = col(Idea.submitted_at).is_not(None)
    query = select(
        func.count().filter(counted),
        func.count().filter(ever_submitted),
    ).where(Idea.campaign_id == campaign.id, Idea.author_id == author_id)
    if exclude is not None:
        query = query.where(Idea.id != exclude)
    used, submitted = session.exec(query).one()
    return Places(limit=campaign.submission_limit, used=used, submitted=submitted)


def ideas_of_author(*, session: Session, author_id: int) -> list[tuple[Idea, Campaign]]:
    """Every idea of the author, newest first, with its campaign (withdrawn ones too)."""
    rows = session.exec(
        select(Idea, Campaign)
        .join(Campaign, Campaign.id == Idea.campaign_id)  # type: ignore[arg-type]
        .where(Idea.author_id == author_id)
        .order_by(col(Idea.updated_at).desc(), col(Idea.id).desc())
    ).all()
    return [(idea, campaign) for idea, campaign in rows]


# --- writing -------------------------------------------------------------------------------


def _check_content(campaign: Campaign, content: IdeaContent) -> None:
    if not content.title or len(content.title) > TITLE_MAX:
        raise ValueError("title must be 1 to 120 characters; the form checks this first")
    if len(content.description) > DESCRIPTION_MAX:
        raise ValueError("description too long; the form checks this first")
    if campaign.categories and content.category not in campaign.categories:
        raise ValueError("category not offered by the campaign; the form checks this first")


def _require_submission_open(session: Session, campaign: Campaign, now: datetime) -> None:
    if not submission_open(session=session, campaign=campaign, now=now):
        raise IdeaRefused(_("This campaign is not taking ideas at the moment."))


def _serialise_author(session: Session, author_id: int) -> None:
    """Make concurrent submissions by one author in one campaign run one after the other.

    Without this, two parallel submits could each count one free place and both take it.
    PostgreSQL: lock the author's row (NO KEY UPDATE, so rows pointing at the user can still
    be inserted by others). SQLite: writers are serialised database-wide once a transaction
    has written; a no-op UPDATE as the first statement takes that lock before we count (a
    read first would pin an old snapshot and fail to upgrade instead of waiting).
    """
    session.commit()  # end any read snapshot the request has open
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.exec(select(User.id).where(User.id == author_id).with_for_update(key_share=True))
    else:
        session.exec(
            update(User)
            .where(col(User.id) == author_id)
            .values(session_version=User.session_version)
        )


def _check_limits(
    session: Session, campaign: Campaign, author_id: int, *, submitting: bool, exclude: int | None
) -> None:
    if submitting:
        found = places(session=session, campaign=campaign, author_id=author_id, exclude=exclude)
        if found.at_ceiling:
            raise IdeaRefused(
                _(
                    "You have sent %(n)d ideas to this campaign, rejected and withdrawn ones "
                    "included: that is the most it takes from one person."
                )
                % {"n": found.submitted}
            )
        if found.left == 0:
            raise IdeaRefused(
                _(
                    "You have already submitted %(n)d ideas to this campaign, the most it "
                    "allows. Withdraw one to submit another."
                )
                % {"n": campaign.submission_limit}
            )
        return
    base = (
        select(func.count())
        .select_from(Idea)
        .where(
            Idea.campaign_id == campaign.id,
            Idea.author_id == author_id,
            Idea.status == IdeaStatus.DRAFT,
        )
    )
    if exclude is not None:
        base = base.where(Idea.id != exclude)
    drafts = session.exec(base).one()
    if drafts >= MAX_DRAFTS:
        raise IdeaRefused(
            _("You have %(n)d drafts in this campaign. Submit or withdraw one first.")
            % {"n": drafts}
        )


def create_idea(
    *,
    session: Session,
    campaign: Campaign,
    author: User,
    content: IdeaContent,
    submit: bool,
    now: datetime,
    base_url: str = "",
) -> Idea:
    """A new draft, or a new idea sent to moderation when `submit`; raises IdeaRefused.

    A submitted idea is pre-screened in the same transaction: its flags are in the queue as
    soon as the idea is, and flagged spam may be rejected at once (the brand's choice).
    """
    _check_content(campaign, content)
    author_id = _id(author.id)
    _require_submission_open(session, campaign, now)
    _serialise_author(session, author_id)
    try:
        _check_limits(session, campaign, author_id, submitting=submit, exclude=None)
        idea = Idea(
            campaign_id=_id(campaign.id),
            author_id=author_id,
            title=content.title,
            description=content.description,
            category=content.category,
            image_key=content.image_key,
            status=IdeaStatus.PENDING if submit else IdeaStatus.DRAFT,
            search_key=fold(content.title),
            random_key=secrets.randbelow(RANDOM_KEY_LIMIT),
            created_at=now,
            updated_at=now,
            submitted_at=now if submit else None,
        )
        session.add(idea)
        session.flush()
        reindex_terms(session=session, idea=idea)
        if submit:
            hooks.screening().screen(
                session=session, idea=idea, clock=FrozenClock(now), base_url=base_url
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return idea


def update_idea(
    *,
    session: Session,
    campaign: Campaign,
    idea: Idea,
    editor: User,
    content: IdeaContent,
    submit: bool,
    now: datetime,
    base_url: str = "",
) -> Idea:
    """The author edits a draft or pending idea; `submit` sends a draft to moderation.

    A draft a moderator sent back for changes goes back to the moderation queue (recorded in
    its history); an idea that becomes pending, or a pending one whose text changed, is
    pre-screened again.
    """
    _check_content(campaign, content)
    if editor.id != idea.author_id:
        raise PermissionError("only the author edits an idea")
    _require_submission_open(session, campaign, now)
    author_id = _id(editor.id)
    _serialise_author(session, author_id)
    try:
        session.refresh(idea)  # the status may have changed since the page was read
        if idea.status not in EDITABLE_STATUSES:
            raise IdeaRefused(_("This idea can no longer be changed."))
        becomes_pending = submit and idea.status == IdeaStatus.DRAFT
        # Sent back by a moderator: moderation moves it to pending and records the return.
        screening = hooks.screening()
        returning = becomes_pending and screening.returned_for_changes(
            session=session, idea_id=_id(idea.id)
        )
        if becomes_pending:
            _check_limits(session, campaign, author_id, submitting=True, exclude=idea.id)
        if becomes_pending and not returning:
            idea.status = IdeaStatus.PENDING
            idea.submitted_at = now
        text_changed = (idea.title, idea.description) != (content.title, content.description)
        idea.title = content.title
        idea.description = content.description
        idea.category = content.category
        idea.image_key = content.image_key
        idea.search_key = fold(content.title)
        idea.updated_at = now
        session.add(idea)
        session.flush()
        if text_changed:
            reindex_terms(session=session, idea=idea)
        if returning:
            screening.resubmit(
                session=session, idea=idea, clock=FrozenClock(now), base_url=base_url
            )
        elif becomes_pending or (text_changed and idea.status == IdeaStatus.PENDING):
            hooks.screening().screen(
                session=session, idea=idea, clock=FrozenClock(now), base_url=base_url
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return idea


def withdraw_idea(
    *,
    session: Session,
    campaign: Campaign,
    idea: Idea,
    user: User,
    now: datetime,
    storage: Storage,
) -> Idea:
    """The author takes an idea back; its place in the campaign becomes free again.

    A withdrawn idea never comes back (nobody can edit, submit or approve it), so its image
    is deleted from `storage` (the key is cleared in the same update; files go after the
    commit, so that a failed commit leaves no idea pointing at deleted files).
    """
    open_now = submission_open(session=session, campaign=campaign, now=now)
    if not can_withdraw(idea, user, submission_is_open=open_now):
        if user.id != idea.author_id:
            raise PermissionError("only the author withdraws an idea")
        raise IdeaRefused(_("This idea can no longer be withdrawn."))
    # Conditional on the status read above, so a moderator's decision in between wins.
    # (An image changed in another tab meanwhile leaves files no idea names: nobody may
    # fetch those, see image_audience.)
    image_key = idea.image_key
    result = session.exec(
        update(Idea)
        .where(col(Idea.id) == idea.id, col(Idea.status) == idea.status)
        .values(status=IdeaStatus.WITHDRAWN, image_key=None, updated_at=now)
    )
    session.commit()
    if result.rowcount != 1:
        raise IdeaRefused(_("This idea can no longer be withdrawn."))
    if image_key:
        delete_image(storage, image_key)
    session.refresh(idea)
    return idea


def random_seed() -> int:
    return secrets.randbelow(RANDOM_KEY_LIMIT)
