"""A brand's moderation settings: spam rule, report threshold, blocklist, rejection reasons,
and its campaigns' moderation modes."""

from __future__ import annotations

from sqlmodel import Session, select

from cocreate.accounts.models import User
from cocreate.audit.service import record
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, ModerationMode
from cocreate.clock import Clock, system_clock
from cocreate.moderation.labels import BUILTIN_REASONS, builtin_reason_label
from cocreate.moderation.models import ModerationSettings

MODES = tuple(m.value for m in ModerationMode)


def get_settings(*, session: Session, brand_id: int) -> ModerationSettings:
    """The brand's settings, or the defaults (not saved) when it never changed them."""
    found = session.get(ModerationSettings, brand_id)
    return found if found is not None else ModerationSettings(brand_id=brand_id)


def reason_choices(settings: ModerationSettings) -> list[tuple[str, str]]:
    """(code, label) of the rejection reasons a moderator may pick, in the current language."""
    codes = [c for c in BUILTIN_REASONS if c in settings.builtin_reasons]
    return [(c, builtin_reason_label(c)) for c in codes] + [(c, c) for c in settings.custom_reasons]


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
