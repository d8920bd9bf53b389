"""Ideas: submission rules, the author's list, the public gallery and look-alike titles.

Keyword-only functions taking a session; no HTTP here. Errors the author should read are
`IdeaRefused` with a message already in their language.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    ColumnElement,
    delete,
    func,
    insert,
    intersect,
    true,
    tuple_,
    union_all,
    update,
)
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.campaigns.timeline import is_open
from cocreate.clock import FrozenClock
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea, IdeaStatus, IdeaTerm
from cocreate.ideas.similarity import fold, prefix_range, rank_similar, terms
from cocreate.images import delete_image
from cocreate.integers import id_or_none, int_or_none
from cocreate.moderation import service as moderation
from cocreate.moderation.models import ModerationMode
from cocreate.security.permissions import has_brand_role
from cocreate.storage import Audience, Storage

TITLE_MAX = 120
DESCRIPTION_MAX = 5000
# Ideas that use one of the author's places in a campaign (drafts and withdrawn ones do not).
COUNTED_STATUSES = (
    IdeaStatus.PENDING,
    IdeaStatus.APPROVED,
    IdeaStatus.REJECTED,
    IdeaStatus.MERGED,
)
EDITABLE_STATUSES = (IdeaStatus.DRAFT, IdeaStatus.PENDING)
# Drafts cost nothing against the limit; this only stops a script from filling the table.
MAX_DRAFTS = 20
STAFF_ROLES = tuple(Role)
# Who sees an idea's moderation history on its page (as moderation's history route allows).
HISTORY_ROLES = (Role.OWNER, Role.MODERATOR, Role.MARKETER)
PAGE_SIZE = 24
SORTS = ("newest", "votes", "random")
RANDOM_KEY_LIMIT = 2**31
# Similar titles: how many ideas one word may bring in, and how many reach rapidfuzz.
CANDIDATES_PER_TERM = 2000
MAX_CANDIDATES = 300
# A search matching at most this many ideas reads their ids first (see search_filter).
SEARCH_ID_LIST_MAX = 1000


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


def is_brand_staff(*, session: Session, user: User | None, brand: Brand) -> bool:
    return has_brand_role(session=session, user=user, brand=brand, roles=STAFF_ROLES)


def sees_moderation_history(*, session: Session, user: User | None, brand: Brand) -> bool:
    return has_brand_role(session=session, user=user, brand=brand, roles=HISTORY_ROLES)


def can_view(
    *, session: Session, user: User | None, idea: Idea, campaign: Campaign, brand: Brand
) -> bool:
    """Publicly visible ideas (moderation's rule) for anyone; the others, hidden ones
    included, only for their author and the brand's staff."""
    if moderation.is_publicly_visible(idea, campaign):
        return True
    if user is not None and user.id == idea.author_id:
        return True
    return is_brand_staff(session=session, user=user, brand=brand)


def image_audience(
    *, session: Session, image_key: str, user: Callable[[], User | None]
) -> Audience:
    """Who may fetch the files of an idea's image: anyone while the idea is publicly visible;
    else whoever may see the idea (`can_view`: its author, the brand's staff, admins); else,
    or when no idea has this image, nobody. `user` is called only when it matters, so a
    public image costs no look-up of the signed-in account."""
    row = session.exec(
        select(Idea, Campaign, Brand)
        .join(Campaign, col(Campaign.id) == col(Idea.campaign_id))
        .join(Brand, col(Brand.id) == col(Campaign.brand_id))
        .where(Idea.image_key == image_key)
    ).first()
    if row is None:
        return Audience.NOBODY
    idea, campaign, brand = row
    if moderation.is_publicly_visible(idea, campaign):
        return Audience.PUBLIC
    if can_view(session=session, user=user(), idea=idea, campaign=campaign, brand=brand):
        return Audience.PRIVATE
    return Audience.NOBODY


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


def ideas_used(*, session: Session, campaign: Campaign, author_id: int) -> int:
    """How many of the author's places in the campaign are taken."""
    return session.exec(
        select(func.count())
        .select_from(Idea)
        .where(
            Idea.campaign_id == campaign.id,
            Idea.author_id == author_id,
            col(Idea.status).in_(COUNTED_STATUSES),
        )
    ).one()


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
    base = (
        select(func.count())
        .select_from(Idea)
        .where(Idea.campaign_id == campaign.id, Idea.author_id == author_id)
    )
    if exclude is not None:
        base = base.where(Idea.id != exclude)
    if submitting:
        used = session.exec(base.where(col(Idea.status).in_(COUNTED_STATUSES))).one()
        if used >= campaign.submission_limit:
            raise IdeaRefused(
                _(
                    "You have already submitted %(n)d ideas to this campaign, the most it "
                    "allows. Withdraw one to submit another."
                )
                % {"n": campaign.submission_limit}
            )
    else:
        drafts = session.exec(base.where(Idea.status == IdeaStatus.DRAFT)).one()
        if drafts >= MAX_DRAFTS:
            raise IdeaRefused(
                _("You have %(n)d drafts in this campaign. Submit or withdraw one first.")
                % {"n": drafts}
            )


def reindex_terms(*, session: Session, idea: Idea) -> None:
    """Rewrite the look-up terms of an idea from its title and description."""
    idea_id = _id(idea.id)
    session.exec(delete(IdeaTerm).where(col(IdeaTerm.idea_id) == idea_id))
    rows = index_rows(idea)
    if rows:
        session.exec(insert(IdeaTerm), params=rows)


def index_rows(idea: Idea) -> list[dict[str, object]]:
    """The IdeaTerm rows of an idea (also used by the benchmark's bulk loader)."""
    title_terms = terms(idea.title)
    all_terms = dict.fromkeys(title_terms + terms(idea.description))
    title_set = set(title_terms)
    return [
        {"campaign_id": idea.campaign_id, "term": t, "idea_id": idea.id, "in_title": t in title_set}
        for t in all_terms
    ]


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
            _prescreen(session, idea, now, base_url)
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
        returning = becomes_pending and (
            moderation.changes_requested(session=session, idea_id=_id(idea.id)) is not None
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
            clock = FrozenClock(now)
            moderation.resubmit_after_changes(
                session=session, idea=idea, clock=clock, base_url=base_url
            )
        elif becomes_pending or (text_changed and idea.status == IdeaStatus.PENDING):
            _prescreen(session, idea, now, base_url)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return idea


def _prescreen(session: Session, idea: Idea, now: datetime, base_url: str) -> None:
    """Moderation's automatic screening, at the submission's own time."""
    moderation.prescreen_idea(session=session, idea=idea, clock=FrozenClock(now), base_url=base_url)


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


# --- the public gallery --------------------------------------------------------------------


@dataclass(frozen=True)
class GalleryQuery:
    campaign_id: int
    sort: str = "newest"
    category: str | None = None
    search: str = ""
    after: str | None = None  # cursor of the last idea on the previous page
    seed: int = 0  # where the "random" order starts (fixed per visitor, in the links)
    limit: int = PAGE_SIZE
    # The campaign's: post-moderated campaigns show pending ideas too.
    moderation_mode: str = ModerationMode.PRE


@dataclass(frozen=True)
class GalleryPage:
    ideas: list[Idea]
    next_cursor: str | None


def _cursor(idea: Idea, sort: str) -> str:
    if sort == "newest":
        assert idea.submitted_at is not None
        micros = int(idea.submitted_at.timestamp() * 1_000_000)
        return f"{micros}.{idea.id}"
    if sort == "votes":
        return f"{idea.vote_count}.{idea.id}"
    return f"{idea.random_key}.{idea.id}"


def parse_cursor(value: str | None, sort: str) -> tuple[int, int] | None:
    """(key, id) from a cursor; None when absent or not one of ours (then: first page)."""
    if not value:
        return None
    key, _sep, idea_id = value.partition(".")
    # Keys fit their column: a vote count or random key is an int, a time is before 10000.
    ceiling = _LATEST_MICROS if sort == "newest" else 2**63 - 1
    parsed = int_or_none(key, minimum=0, maximum=ceiling), id_or_none(idea_id)
    return (parsed[0], parsed[1]) if parsed[0] is not None and parsed[1] is not None else None


_LATEST_MICROS = int(datetime(9999, 12, 31, tzinfo=UTC).timestamp() * 1_000_000)


def _micros_to_datetime(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def _ideas_with_word(campaign_id: int, word: str) -> SelectOfScalar[int]:
    """Ids of the ideas of the campaign with a title or description word starting `word`."""
    low, high = prefix_range(word)
    return select(IdeaTerm.idea_id).where(
        IdeaTerm.campaign_id == campaign_id,
        col(IdeaTerm.in_title).in_([False, True]),  # two ranges of the primary key
        col(IdeaTerm.term).between(low, high),
    )


def search_filter(session: Session, campaign_id: int, text: str) -> list[ColumnElement[bool]]:
    """Conditions on Idea for a search: every word must start one of the idea's words.

    Few matches (the words together are rare): their ids are read first and the page is
    picked among them. Many matches: one membership test per word, and the database walks the
    gallery in order until the page is full. Left to itself, PostgreSQL's planner takes the
    first way for many matches too and scans the whole table (40 ms at 100,000 ideas).
    """
    words = terms(text, limit=6)
    if not words:
        return []
    selects = [_ideas_with_word(campaign_id, word) for word in words]
    matching = intersect(*selects).subquery() if len(selects) > 1 else selects[0].subquery()
    found = session.exec(select(matching.c.idea_id).distinct().limit(SEARCH_ID_LIST_MAX + 1)).all()
    if len(found) <= SEARCH_ID_LIST_MAX:
        return [col(Idea.id).in_(found)]
    return [col(Idea.id).in_(each) for each in selects]


def gallery_page(*, session: Session, query: GalleryQuery) -> GalleryPage:
    """One page of publicly visible ideas in the chosen order, found by keyset (fast at any
    depth).

    A post-moderated campaign shows two statuses: one ordered index walk per status, merged
    here, rather than one query the database would answer by sorting every visible idea.
    """
    conditions: list[ColumnElement[bool]] = [col(Idea.campaign_id) == query.campaign_id]
    if query.category:
        conditions.append(col(Idea.category) == query.category)
    conditions += search_filter(session, query.campaign_id, query.search)
    after = parse_cursor(query.after, query.sort)
    take = query.limit + 1  # one more tells whether there is a next page
    rows: list[Idea] = []
    for status in moderation.public_statuses(query.moderation_mode):
        base = select(Idea).where(
            *conditions,
            col(Idea.status) == status,
            moderation.publicly_visible(query.moderation_mode),
        )
        if query.sort == "random":
            rows += _random_order(session, base, query.seed, after, take)
        else:
            rows += session.exec(_sorted(base, query.sort, after).limit(take)).all()
    rows = sorted(rows, key=_order_key(query.sort, query.seed))[:take]
    ideas = rows[: query.limit]
    more = len(rows) > query.limit
    return GalleryPage(ideas, _cursor(ideas[-1], query.sort) if more and ideas else None)


def _order_key(sort: str, seed: int) -> Callable[[Idea], tuple[int, ...]]:
    """The gallery's order as a Python sort key (the same as `_sorted` and `_random_order`)."""
    if sort == "newest":
        return lambda i: (-int((i.submitted_at or _EPOCH).timestamp() * 1_000_000), -_id(i.id))
    if sort == "votes":
        return lambda i: (-i.vote_count, -_id(i.id))
    return lambda i: (int(i.random_key < seed), i.random_key, _id(i.id))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sorted(
    base: SelectOfScalar[Idea], sort: str, after: tuple[int, int] | None
) -> SelectOfScalar[Idea]:
    if sort == "votes":
        key = col(Idea.vote_count)
        if after is not None:
            base = base.where(tuple_(key, col(Idea.id)) < tuple_(after[0], after[1]))
        return base.order_by(key.desc(), col(Idea.id).desc())
    submitted = col(Idea.submitted_at)
    base = base.where(submitted.is_not(None))
    if after is not None:
        when = _micros_to_datetime(after[0])
        base = base.where(tuple_(submitted, col(Idea.id)) < tuple_(when, after[1]))
    return base.order_by(submitted.desc(), col(Idea.id).desc())


def _random_order(
    session: Session,
    base: SelectOfScalar[Idea],
    seed: int,
    after: tuple[int, int] | None,
    take: int,
) -> list[Idea]:
    """random_key order rotated to start at `seed`: [seed, max] then [0, seed). Indexable."""
    key = col(Idea.random_key)
    order = (key.asc(), col(Idea.id).asc())
    rows: list[Idea] = []
    second_lap = after is not None and after[0] < seed
    if not second_lap:
        first = base.where(key >= seed)
        if after is not None:
            first = first.where(tuple_(key, col(Idea.id)) > tuple_(after[0], after[1]))
        rows = list(session.exec(first.order_by(*order).limit(take)).all())
        after = None
    if len(rows) < take:
        second = base.where(key < seed)
        if after is not None:
            second = second.where(tuple_(key, col(Idea.id)) > tuple_(after[0], after[1]))
        rows += session.exec(second.order_by(*order).limit(take - len(rows))).all()
    return rows


def random_seed() -> int:
    return secrets.randbelow(RANDOM_KEY_LIMIT)


# --- look-alike titles ---------------------------------------------------------------------


def similar_ideas(
    *,
    session: Session,
    campaign_id: int,
    title: str,
    limit: int = 5,
    exclude: int | None = None,
    moderation_mode: str | None = None,
) -> list[Idea]:
    """Ideas of the campaign whose title looks like `title`, best first: the ones the public
    sees in a campaign of `moderation_mode`, or, without it, approved ones (moderation's
    merge candidates, hidden or not).

    Candidates come from the database in one query (ideas sharing title word prefixes with
    `title`, those sharing the most first); rapidfuzz then ranks at most MAX_CANDIDATES of
    them on their folded titles.
    """
    words = terms(title, limit=8)
    if not words:
        return []
    per_word = []
    for word in words:
        # Five letters are enough to find the word's family and forgive a typo further on.
        low, high = prefix_range(word[:5]) if len(word) >= 3 else (word, word)
        # A bare index range: joining `ideas` here for the status makes PostgreSQL's planner
        # hash the whole table; the status is checked once, on the grouped candidates.
        found = (
            select(IdeaTerm.idea_id)
            .where(
                IdeaTerm.campaign_id == campaign_id,
                col(IdeaTerm.in_title) == true(),
                col(IdeaTerm.term).between(low, high),
            )
            .limit(CANDIDATES_PER_TERM)
            .subquery()
        )
        per_word.append(select(found.c.idea_id))
    hits = union_all(*per_word).subquery()
    # The ideas sharing the most words, before the status check (most ideas are approved).
    shared = (
        select(hits.c.idea_id, func.count().label("words"))
        .group_by(hits.c.idea_id)
        .order_by(func.count().desc(), hits.c.idea_id.desc())
        .limit(MAX_CANDIDATES * 2)
        .subquery()
    )
    candidates = (
        select(Idea.id, Idea.search_key)
        .join(shared, shared.c.idea_id == Idea.id)
        .where(
            Idea.status == IdeaStatus.APPROVED
            if moderation_mode is None
            else moderation.publicly_visible(moderation_mode)
        )
        .order_by(shared.c.words.desc(), col(Idea.id).desc())
        .limit(MAX_CANDIDATES)
    )
    if exclude is not None:
        candidates = candidates.where(Idea.id != exclude)
    keys = session.exec(candidates).all()
    ranked = rank_similar(title, ((_id(i), k) for i, k in keys), limit=limit)
    if not ranked:
        return []
    by_id = {
        idea.id: idea
        for idea in session.exec(
            select(Idea).where(col(Idea.id).in_([idea_id for idea_id, _score in ranked]))
        ).all()
    }
    return [by_id[idea_id] for idea_id, _score in ranked if idea_id in by_id]
