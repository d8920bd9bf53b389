"""Campaigns: finding them (a brand's, a public one, the public list), their stages and the
audited history of their timelines, and what may change at a given moment.

Changes live next door: details and status in `details.py`, the timeline in
`timeline_changes.py`. Every change is checked there, not in the pages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.audit.models import AuditEvent
from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage
from cocreate.campaigns.timeline import Phase, TimelineState, phase, timeline_state
from cocreate.i18n import gettext as _
from cocreate.security.permissions import has_brand_role
from cocreate.storage import Audience

TIMELINE_ACTIONS = (
    "stage.added",
    "stage.changed",
    "stage.removed",
    "stage.moved",
    "stage.closed_early",
    "stage.opened_early",
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


def why_not_open_early(
    campaign: Campaign, stages: Sequence[Stage], stage: Stage, now: datetime
) -> str | None:
    """Why `stage` cannot open now instead of at its planned time (None: it can). Only the
    next stage of a published campaign, once every stage before it has closed: opening it
    then fills a gap in the timeline and overlaps nothing."""
    if not (campaign.status == CampaignStatus.PUBLISHED and stage.opens_at > now):
        return _("Only a stage of a published campaign that has not opened yet can open now.")
    before = [s for s in stages if s.position < stage.position]
    if any(s.opens_at <= now < s.closes_at for s in before):
        return _(
            "The stage before is still open: opening this one now would overlap it. "
            "Close it early first."
        )
    if any(s.opens_at > now for s in before):
        return _("A stage before this one has not opened yet: open that one first.")
    return None


def can_open_early(
    campaign: Campaign, stages: Sequence[Stage], stage: Stage, now: datetime
) -> bool:
    return why_not_open_early(campaign, stages, stage, now) is None
