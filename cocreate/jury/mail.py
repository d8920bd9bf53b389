"""Jurors hear that scoring has opened: once per jury stage, when it opens, every juror of
the brand gets an email with the number of ideas to score and the link to the jury page.

A periodic job (`jury.scoring_opened`, every minute, once per period across hosts) looks for
jury stages of published campaigns that have opened and not closed, and not yet announced.
The mails and the mark that they were sent (an audit event on the stage) are written in one
transaction: a stage is announced once, and a crash before the commit sends nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists
from sqlmodel import Session, col, select

from cocreate import i18n
from cocreate.audit import service as audit
from cocreate.audit.models import AuditEvent
from cocreate.brands.models import Brand
from cocreate.campaigns.display import local_time
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.jobs.registry import JobContext, periodic
from cocreate.jury.panel import candidates_of, jurors_of
from cocreate.notifications.service import queue_email

NOTICE = "jury.scoring_opened"
INTERVAL_SECONDS = 60.0


def _announced() -> object:
    return exists().where(
        and_(
            col(AuditEvent.action) == NOTICE,
            col(AuditEvent.subject_type) == "stage",
            col(AuditEvent.subject_id) == Stage.id,
        )
    )


def stages_to_announce(*, session: Session, now: datetime) -> list[tuple[Stage, Campaign, Brand]]:
    rows = session.exec(
        select(Stage, Campaign, Brand)
        .join(Campaign, col(Campaign.id) == Stage.campaign_id)
        .join(Brand, col(Brand.id) == Campaign.brand_id)
        .where(
            Stage.kind == StageKind.JURY,
            col(Stage.opens_at) <= now,
            col(Stage.closes_at) > now,
            Campaign.status == CampaignStatus.PUBLISHED,
            ~_announced(),  # type: ignore[operator]
        )
        .order_by(col(Stage.opens_at))
    ).all()
    return [(stage, campaign, brand) for stage, campaign, brand in rows]


def tell_jurors(*, session: Session, base_url: str, now: datetime) -> int:
    """Queue the mails of every jury stage that opened and was not announced; commits once
    per stage. Returns the number of mails queued."""
    sent = 0
    for stage, campaign, brand in stages_to_announce(session=session, now=now):
        ideas = len(candidates_of(session=session, stage=stage).ideas)
        jurors = [
            j for j in jurors_of(session=session, brand_id=brand.id or 0) if j.is_active and j.email
        ]
        for juror in jurors:
            with i18n.using_locale(juror.locale or i18n.current_locale()):
                closes = local_time(stage.closes_at, campaign.timezone)
            queue_email(
                session=session,
                to=str(juror.email),
                template="jury_scoring_open",
                locale=juror.locale,
                campaign=campaign.title,
                brand=brand.name,
                ideas=ideas,
                closes=closes,
                url=f"{base_url}/brands/{brand.slug}/campaigns/{campaign.slug}/jury",
            )
        audit.record(
            session=session,
            actor_id=None,
            action=NOTICE,
            subject_type="stage",
            subject_id=stage.id,
            jurors=len(jurors),
            ideas=ideas,
        )
        session.commit()
        sent += len(jurors)
    return sent


@periodic(NOTICE, every=lambda settings: INTERVAL_SECONDS)
def scoring_opened(ctx: JobContext) -> None:
    with ctx.session() as session:
        tell_jurors(session=session, base_url=ctx.settings.base_url, now=ctx.clock.now())
