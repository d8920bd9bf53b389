"""The winners' announcement: the brand's words on the winners page (markdown, rendered then
sanitised when shown)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from cocreate.audit.service import record
from cocreate.campaigns.models import Campaign
from cocreate.results.models import Announcement


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


ANNOUNCEMENT_MAX = 20_000


def announcement_of(*, session: Session, campaign_id: int) -> Announcement | None:
    return session.get(Announcement, campaign_id)


def save_announcement(
    *, session: Session, campaign: Campaign, body: str, actor_id: int | None, now: datetime
) -> Announcement:
    """The brand's text on the winners page. Audited; saving the same text changes nothing."""
    campaign_id = _id(campaign.id)
    found = session.get(Announcement, campaign_id)
    if found is not None and found.body == body:
        return found
    announcement = found or Announcement(campaign_id=campaign_id)
    announcement.body = body
    announcement.updated_at = now
    announcement.updated_by_id = actor_id
    session.add(announcement)
    record(
        session=session,
        actor_id=actor_id,
        action="campaign.announcement_changed",
        subject_type="campaign",
        subject_id=campaign_id,
        length=len(body),
    )
    session.commit()
    return announcement
