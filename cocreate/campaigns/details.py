"""A campaign's details and status: create a draft, change its details, publish, archive or
move it back to draft. Each change is audited; the address (slug) is unique, and fixed once
the campaign is published (shared links would break)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cocreate.audit.service import record
from cocreate.brands.models import Brand
from cocreate.campaigns.forms import CampaignInput
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage
from cocreate.campaigns.service import is_editable, stages_of
from cocreate.campaigns.timeline import timeline_issues
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


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
