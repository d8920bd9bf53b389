"""Campaign rules: the marketer's console (details, status, timeline) and the public lists.

Every change is checked here, not in the pages: a timeline that is saved is always valid
(ordered, no overlap, voting after submission), stages of a published campaign that have
opened are only changed by closing early or extending (each with a reason, audited), and
archived campaigns do not change at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.audit.models import AuditEvent
from cocreate.audit.service import record
from cocreate.brands.models import Brand, Role
from cocreate.campaigns.forms import CampaignInput, StageInput
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage
from cocreate.campaigns.timeline import (
    Phase,
    TimelineProblem,
    TimelineState,
    phase,
    swap_slots,
    timeline_issues,
    timeline_state,
)
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.security.permissions import has_brand_role
from cocreate.storage import Audience

TIMELINE_ACTIONS = (
    "stage.added",
    "stage.changed",
    "stage.removed",
    "stage.moved",
    "stage.closed_early",
    "stage.extended",
)


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


# --- Reading ---------------------------------------------------------------------------


def get_brand(*, session: Session, slug: str) -> Brand | None:
    return session.exec(select(Brand).where(Brand.slug == slug)).first()


def brand_campaigns(*, session: Session, brand_id: int) -> list[Campaign]:
    """Every campaign of a brand, drafts included, newest first."""
    return list(
        session.exec(
            select(Campaign)
            .where(Campaign.brand_id == brand_id)
            .order_by(col(Campaign.created_at).desc(), col(Campaign.id).desc())
        ).all()
    )


def get_brand_campaign(*, session: Session, brand_id: int, slug: str) -> Campaign | None:
    return session.exec(
        select(Campaign).where(Campaign.brand_id == brand_id, Campaign.slug == slug)
    ).first()


def get_public_campaign(*, session: Session, slug: str) -> tuple[Campaign, Brand] | None:
    """A published campaign and its brand; drafts and archived campaigns are not public."""
    row = session.exec(
        select(Campaign, Brand)
        .join(Brand, Brand.id == Campaign.brand_id)  # type: ignore[arg-type]
        .where(Campaign.slug == slug, Campaign.status == CampaignStatus.PUBLISHED)
    ).first()
    return (row[0], row[1]) if row else None


def cover_audience(
    *, session: Session, cover_key: str, user: Callable[[], User | None]
) -> Audience:
    """Who may fetch a campaign's cover: anyone once the campaign is published; while it is a
    draft or archived, only the brand's members and admins (as they see it in the console).
    A cover no campaign names (replaced, removed) is nobody's."""
    row = session.exec(
        select(Campaign, Brand)
        .join(Brand, Brand.id == Campaign.brand_id)  # type: ignore[arg-type]
        .where(Campaign.cover_image == cover_key)
    ).first()
    if row is None:
        return Audience.NOBODY
    campaign, brand = row
    if campaign.status == CampaignStatus.PUBLISHED:
        return Audience.PUBLIC
    if has_brand_role(session=session, user=user(), brand=brand, roles=tuple(Role)):
        return Audience.PRIVATE
    return Audience.NOBODY


def stages_of(*, session: Session, campaign_id: int) -> list[Stage]:
    return list(
        session.exec(
            select(Stage).where(Stage.campaign_id == campaign_id).order_by(col(Stage.position))
        ).all()
    )


def timeline_history(
    *, session: Session, campaign_id: int, limit: int = 50
) -> list[tuple[AuditEvent, str | None]]:
    """The audited timeline changes of a campaign with who made them, newest first."""
    rows = session.exec(
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)  # type: ignore[arg-type]
        .where(
            AuditEvent.subject_type == "campaign",
            AuditEvent.subject_id == campaign_id,
            col(AuditEvent.action).in_(TIMELINE_ACTIONS),
        )
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(limit)
    ).all()
    return [(event, name) for event, name in rows]


@dataclass(frozen=True)
class CampaignCard:
    campaign: Campaign
    brand: Brand
    state: TimelineState
    phase: Phase


def list_public_campaigns(
    *, session: Session, now: datetime, limit: int = 100
) -> list[CampaignCard]:
    """Published campaigns: open ones first, then upcoming, then finished."""
    rows = session.exec(
        select(Campaign, Brand)
        .join(Brand, Brand.id == Campaign.brand_id)  # type: ignore[arg-type]
        .where(Campaign.status == CampaignStatus.PUBLISHED)
    ).all()
    ids = [_id(campaign.id) for campaign, _brand in rows]
    by_campaign: dict[int, list[Stage]] = {i: [] for i in ids}
    if ids:
        for stage in session.exec(select(Stage).where(col(Stage.campaign_id).in_(ids))).all():
            by_campaign[stage.campaign_id].append(stage)
    cards = []
    for campaign, brand in rows:
        state = timeline_state(by_campaign[_id(campaign.id)], now)
        cards.append(CampaignCard(campaign, brand, state, phase(state)))
    cards.sort(key=_public_order)
    return cards[:limit]


def _public_order(card: CampaignCard) -> tuple[int, float]:
    state = card.state
    if card.phase == Phase.ACTIVE:
        assert state.current is not None
        return (card.phase, state.current.closes_at.timestamp())  # closing soonest first
    if card.phase == Phase.UPCOMING:
        assert state.next is not None
        return (card.phase, state.next.opens_at.timestamp())  # opening soonest first
    if card.phase == Phase.FINISHED:
        assert state.previous is not None
        return (card.phase, -state.previous.closes_at.timestamp())  # latest finished first
    return (card.phase, -card.campaign.created_at.timestamp())


# --- What may change, at a given moment ---------------------------------------------------


def is_editable(campaign: Campaign) -> bool:
    return campaign.status != CampaignStatus.ARCHIVED


def can_edit_stage(campaign: Campaign, stage: Stage, now: datetime) -> bool:
    """Drafts change freely; once published, only stages that have not opened yet."""
    if campaign.status == CampaignStatus.DRAFT:
        return True
    return campaign.status == CampaignStatus.PUBLISHED and stage.opens_at > now


def can_close_early(campaign: Campaign, stage: Stage, now: datetime) -> bool:
    return is_editable(campaign) and stage.opens_at < now < stage.closes_at


def can_extend(campaign: Campaign, stage: Stage, now: datetime) -> bool:
    return is_editable(campaign) and stage.closes_at > now


# --- Campaign details and status -------------------------------------------------------------


def _slug_taken(session: Session, slug: str, *, other_than: int | None = None) -> bool:
    query = select(Campaign.id).where(Campaign.slug == slug)
    if other_than is not None:
        query = query.where(Campaign.id != other_than)
    return session.exec(query).first() is not None


def _slug_taken_error() -> ValidationFailed:
    return ValidationFailed(
        {"slug": _("Another campaign already uses this address. Choose another one.")}
    )


def _commit_campaign(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:  # two marketers took the same address at the same moment
        session.rollback()
        raise _slug_taken_error() from None


def _details(data: CampaignInput) -> dict[str, object]:
    return {
        "title": data.title,
        "slug": data.slug,
        "summary": data.summary,
        "brief": data.brief,
        "rules": data.rules,
        "prizes": data.prizes,
        "primary_color": data.primary_color,
        "categories": list(data.categories),
        "languages": list(data.languages),
        "submission_limit": data.submission_limit,
        "timezone": data.timezone,
    }


def create_campaign(
    *, session: Session, brand: Brand, data: CampaignInput, actor_id: int | None, now: datetime
) -> Campaign:
    """A new draft campaign of `brand`; raises ValidationFailed when the address is taken."""
    if _slug_taken(session, data.slug):
        raise _slug_taken_error()
    campaign = Campaign(brand_id=_id(brand.id), created_at=now, **_details(data))  # type: ignore[arg-type]
    session.add(campaign)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise _slug_taken_error() from None
    event = record(
        session=session,
        actor_id=actor_id,
        action="campaign.created",
        subject_type="campaign",
        subject_id=campaign.id,
        slug=campaign.slug,
        brand_id=brand.id,
    )
    event.at = now
    _commit_campaign(session)
    return campaign


def update_campaign(
    *,
    session: Session,
    campaign: Campaign,
    data: CampaignInput,
    cover_image: str | None,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Save the details; `cover_image` is the storage key of the cover to keep (or None)."""
    if not is_editable(campaign):
        raise ValidationFailed(
            {"": _("Archived campaigns cannot be changed. Move it back to draft first.")}
        )
    if data.slug != campaign.slug:
        if campaign.status != CampaignStatus.DRAFT:
            raise ValidationFailed(
                {"slug": _("The address cannot change after publishing: shared links would break.")}
            )
        if _slug_taken(session, data.slug, other_than=campaign.id):
            raise _slug_taken_error()
    details = {**_details(data), "cover_image": cover_image}
    changed = sorted(k for k, v in details.items() if getattr(campaign, k) != v)
    if not changed:
        return
    for key, value in details.items():
        setattr(campaign, key, value)
    session.add(campaign)
    event = record(
        session=session,
        actor_id=actor_id,
        action="campaign.changed",
        subject_type="campaign",
        subject_id=campaign.id,
        fields=changed,
    )
    event.at = now
    _commit_campaign(session)


def publish_problems(stages: Sequence[Stage]) -> list[str]:
    """Why a campaign with these stages cannot be published yet; empty when it can."""
    if not stages:
        return [_("Add at least one stage to the timeline before publishing.")]
    return [problem.message for problem in timeline_issues(stages)]


def change_status(
    *, session: Session, campaign: Campaign, to: CampaignStatus, actor_id: int | None, now: datetime
) -> None:
    """Publish, archive, or move back to draft; raises ValidationFailed with the reason."""
    allowed = {
        CampaignStatus.PUBLISHED: (CampaignStatus.DRAFT,),
        CampaignStatus.ARCHIVED: (CampaignStatus.DRAFT, CampaignStatus.PUBLISHED),
        CampaignStatus.DRAFT: (CampaignStatus.PUBLISHED, CampaignStatus.ARCHIVED),
    }
    if campaign.status not in allowed[to]:
        raise ValidationFailed({"": _("This campaign cannot change to that status now.")})
    if to == CampaignStatus.PUBLISHED:
        problems = publish_problems(stages_of(session=session, campaign_id=_id(campaign.id)))
        if problems:
            raise ValidationFailed({"": " ".join(problems)})
        if campaign.published_at is None:
            campaign.published_at = now
    before = campaign.status
    campaign.status = to
    session.add(campaign)
    event = record(
        session=session,
        actor_id=actor_id,
        action=f"campaign.{to.value}",
        subject_type="campaign",
        subject_id=campaign.id,
        before=before,
        after=to.value,
    )
    event.at = now
    session.commit()


# --- The timeline --------------------------------------------------------------------------


def _lock(session: Session, campaign: Campaign) -> list[Stage]:
    """Serialise timeline changes of one campaign (PostgreSQL row lock), then read its stages."""
    session.exec(
        select(Campaign)
        .where(Campaign.id == campaign.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return list(
        session.exec(
            select(Stage)
            .where(Stage.campaign_id == campaign.id)
            .order_by(col(Stage.position))
            .execution_options(populate_existing=True)
        ).all()
    )


def _copy(stage: Stage, **changes: object) -> Stage:
    """A detached stand-in to check a timeline before anything is written."""
    values = {
        "id": stage.id,
        "campaign_id": stage.campaign_id,
        "position": stage.position,
        "kind": stage.kind,
        "title": stage.title,
        "opens_at": stage.opens_at,
        "closes_at": stage.closes_at,
        **changes,
    }
    return Stage(**values)  # type: ignore[arg-type]


def _refuse_problems(problems: list[TimelineProblem], position: int | None) -> None:
    """Raise the problems as form errors: on the fields of the stage at `position` when they
    are about it, for the whole form otherwise."""
    if not problems:
        return
    errors: dict[str, str] = {}
    general: list[str] = []
    for problem in problems:
        fields = [field for pos, field in problem.about if pos == position]
        if fields:
            for field in fields:
                errors.setdefault(field, problem.message)
        else:
            general.append(problem.message)
    if general:
        errors[""] = " ".join(general)
    raise ValidationFailed(errors)


def _refuse_unless_editable(campaign: Campaign) -> None:
    if not is_editable(campaign):
        raise ValidationFailed(
            {"": _("Archived campaigns cannot be changed. Move it back to draft first.")}
        )


def _refuse_started(campaign: Campaign, stage: Stage, now: datetime) -> None:
    if not can_edit_stage(campaign, stage, now):
        raise ValidationFailed(
            {
                "": _(
                    "This stage has already opened, so its times are fixed: "
                    "close it early or extend it instead."
                )
            }
        )


def _refuse_past_opening(campaign: Campaign, opens_at: datetime, now: datetime) -> None:
    if campaign.status == CampaignStatus.PUBLISHED and opens_at <= now:
        raise ValidationFailed(
            {"opens_at": _("The campaign is published: a new or changed stage must open later.")}
        )


def _set_positions(session: Session, targets: Sequence[tuple[Stage, int]]) -> None:
    """Move stages to new positions through negative ones first: the unique (campaign,
    position) pair is checked row by row on PostgreSQL, so a direct shuffle could collide."""
    for index, (stage, _target) in enumerate(targets):
        stage.position = -1 - index
        session.add(stage)
    session.flush()
    for stage, target in targets:
        stage.position = target
    session.flush()


def _timeline_event(
    session: Session,
    *,
    campaign: Campaign,
    stage: Stage,
    action: str,
    actor_id: int | None,
    now: datetime,
    **data: object,
) -> None:
    event = record(
        session=session,
        actor_id=actor_id,
        action=action,
        subject_type="campaign",
        subject_id=campaign.id,
        stage_id=stage.id,
        position=stage.position,
        kind=stage.kind,
        **data,
    )
    event.at = now


def _times(stage: Stage) -> dict[str, str]:
    return {"opens_at": stage.opens_at.isoformat(), "closes_at": stage.closes_at.isoformat()}


def _commit_timeline(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:  # another change of the same timeline won the race
        session.rollback()
        raise ValidationFailed(
            {"": _("The timeline changed while you were editing it. Please try again.")}
        ) from None


def add_stage(
    *, session: Session, campaign: Campaign, data: StageInput, actor_id: int | None, now: datetime
) -> Stage:
    """Insert a stage in time order; the timeline must stay valid."""
    _refuse_unless_editable(campaign)
    _refuse_past_opening(campaign, data.opens_at, now)
    stages = _lock(session, campaign)
    position = sum(1 for s in stages if s.opens_at <= data.opens_at)
    new = Stage(
        campaign_id=_id(campaign.id),
        position=position,
        kind=data.kind,
        title=data.title,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
    )
    candidate = [_copy(s, position=s.position + (s.position >= position)) for s in stages]
    _refuse_problems(timeline_issues([*candidate, _copy(new)]), position)
    _set_positions(session, [(s, s.position + 1) for s in stages if s.position >= position])
    session.add(new)
    session.flush()
    _timeline_event(
        session,
        campaign=campaign,
        stage=new,
        action="stage.added",
        actor_id=actor_id,
        now=now,
        after=_times(new),
    )
    _commit_timeline(session)
    return new


def update_stage(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    data: StageInput,
    actor_id: int | None,
    now: datetime,
) -> None:
    _refuse_unless_editable(campaign)
    stages = _lock(session, campaign)
    _refuse_started(campaign, stage, now)
    _refuse_past_opening(campaign, data.opens_at, now)
    candidate = [
        _copy(s, kind=data.kind, opens_at=data.opens_at, closes_at=data.closes_at)
        if s.id == stage.id
        else _copy(s)
        for s in stages
    ]
    _refuse_problems(timeline_issues(candidate), stage.position)
    before = _times(stage)
    stage.kind, stage.title = data.kind, data.title
    stage.opens_at, stage.closes_at = data.opens_at, data.closes_at
    session.add(stage)
    _timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action="stage.changed",
        actor_id=actor_id,
        now=now,
        before=before,
        after=_times(stage),
    )
    _commit_timeline(session)


def remove_stage(
    *, session: Session, campaign: Campaign, stage: Stage, actor_id: int | None, now: datetime
) -> None:
    _refuse_unless_editable(campaign)
    stages = _lock(session, campaign)
    _refuse_started(campaign, stage, now)
    rest = [s for s in stages if s.id != stage.id]
    if campaign.status == CampaignStatus.PUBLISHED and not rest:
        raise ValidationFailed({"": _("A published campaign needs at least one stage.")})
    candidate = [_copy(s, position=index) for index, s in enumerate(rest)]
    _refuse_problems(timeline_issues(candidate), None)
    _timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action="stage.removed",
        actor_id=actor_id,
        now=now,
        before=_times(stage),
    )
    session.delete(stage)
    session.flush()
    _set_positions(session, [(s, index) for index, s in enumerate(rest)])
    _commit_timeline(session)


def move_stage(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    up: bool,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Trade places with the stage before (or after): each keeps its length, the pair keeps
    its span, so the rest of the timeline does not move."""
    _refuse_unless_editable(campaign)
    stages = _lock(session, campaign)
    index = next((i for i, s in enumerate(stages) if s.id == stage.id), None)
    if index is None:  # removed by someone else since the page was shown
        raise ValidationFailed(
            {"": _("The timeline changed while you were editing it. Please try again.")}
        )
    other_index = index - 1 if up else index + 1
    if not 0 <= other_index < len(stages):
        raise ValidationFailed({"": _("This stage cannot move further that way.")})
    first, second = sorted((stage, stages[other_index]), key=lambda s: s.position)
    _refuse_started(campaign, first, now)
    _refuse_started(campaign, second, now)
    (second_opens, second_closes), (first_opens, first_closes) = swap_slots(first, second)
    candidate = []
    for s in stages:
        if s.id == first.id:
            candidate.append(
                _copy(s, position=second.position, opens_at=first_opens, closes_at=first_closes)
            )
        elif s.id == second.id:
            candidate.append(
                _copy(s, position=first.position, opens_at=second_opens, closes_at=second_closes)
            )
        else:
            candidate.append(_copy(s))
    _refuse_problems(timeline_issues(candidate), None)
    before = _times(stage)
    first.opens_at, first.closes_at = first_opens, first_closes
    second.opens_at, second.closes_at = second_opens, second_closes
    reordered = list(stages)
    reordered[index], reordered[other_index] = reordered[other_index], reordered[index]
    _set_positions(session, [(s, index) for index, s in enumerate(reordered)])
    _timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action="stage.moved",
        actor_id=actor_id,
        now=now,
        before=before,
        after=_times(stage),
        direction="up" if up else "down",
    )
    _commit_timeline(session)


def close_stage_early(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Close an open stage now, with a reason that goes into the audit trail."""
    _refuse_unless_editable(campaign)
    _lock(session, campaign)
    if not can_close_early(campaign, stage, now):
        raise ValidationFailed({"": _("Only an open stage can be closed early.")})
    before = _times(stage)
    stage.closes_at = now
    session.add(stage)
    _timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action="stage.closed_early",
        actor_id=actor_id,
        now=now,
        reason=reason,
        before=before,
        after=_times(stage),
    )
    _commit_timeline(session)


def extend_stage(
    *,
    session: Session,
    campaign: Campaign,
    stage: Stage,
    closes_at: datetime,
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> None:
    """Move a stage's closing later, with a reason; it may not run into the next stage."""
    _refuse_unless_editable(campaign)
    stages = _lock(session, campaign)
    if not can_extend(campaign, stage, now):
        raise ValidationFailed({"": _("This stage has closed: it can no longer be extended.")})
    if closes_at <= stage.closes_at:
        raise ValidationFailed(
            {"closes_at": _("Choose a closing time later than the current one.")}
        )
    following = [s for s in stages if s.position > stage.position]
    if following and closes_at > following[0].opens_at:
        raise ValidationFailed(
            {
                "closes_at": _(
                    "This would overlap the next stage. Move or shorten the next stage first."
                )
            }
        )
    candidate = [_copy(s, closes_at=closes_at) if s.id == stage.id else _copy(s) for s in stages]
    _refuse_problems(timeline_issues(candidate), stage.position)
    before = _times(stage)
    stage.closes_at = closes_at
    session.add(stage)
    _timeline_event(
        session,
        campaign=campaign,
        stage=stage,
        action="stage.extended",
        actor_id=actor_id,
        now=now,
        reason=reason,
        before=before,
        after=_times(stage),
    )
    _commit_timeline(session)
