"""The brand's results console: certify a closed round (as a job), follow its progress, and
write the winners' announcement."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.display import local_time
from cocreate.campaigns.models import Campaign
from cocreate.campaigns.page_helpers import load_brand, load_campaign, now_of
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.fraud.held import held_count
from cocreate.i18n import gettext as _
from cocreate.integers import id_or_none
from cocreate.jobs import store as jobs
from cocreate.jobs.models import JobStatus
from cocreate.results import advancement
from cocreate.results.announcement import ANNOUNCEMENT_MAX, announcement_of, save_announcement
from cocreate.results.certify import certification_problems
from cocreate.results.certify_job import CERTIFY
from cocreate.results.decisions import pending_decisions
from cocreate.results.funnel import funnel
from cocreate.results.models import RoundCertification
from cocreate.results.rounds import RoundInfo, campaign_rounds
from cocreate.security.access import current_user, db
from cocreate.voting.models import Round
from cocreate.web import redirect, render

UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


def _brand_campaign(request: Request) -> tuple[Campaign, Brand]:
    brand = load_brand(request)
    return load_campaign(request, brand), brand


def _rounds(request: Request, campaign: Campaign) -> list[RoundInfo]:
    return campaign_rounds(session=db(request), campaign_id=campaign.id or 0)


def _console_page(
    request: Request,
    campaign: Campaign,
    brand: Brand,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    now = now_of(request)
    rows = []
    rounds = _rounds(request, campaign)
    certifying = jobs.latest(session=session, subjects=[certify_subject(i.round) for i in rounds])
    for info in rounds:
        certification = (
            session.get(RoundCertification, info.round.id) if info.round.certified_at else None
        )
        certifier = (
            session.get(User, certification.certified_by_id)
            if certification and certification.certified_by_id
            else None
        )
        problems = (
            certification_problems(session=session, round_=info.round, stage=info.stage, now=now)
            if info.round.certified_at is None and now >= info.stage.closes_at
            else []
        )
        rows.append(
            {
                "info": info,
                "opens": local_time(info.stage.opens_at, campaign.timezone),
                "closes": local_time(info.stage.closes_at, campaign.timezone),
                "state": _round_state(info, now),
                "problems": problems,
                "held": held_count(session=session, round_id=info.round.id or 0) if problems else 0,
                "certified_at": local_time(info.round.certified_at, campaign.timezone)
                if info.round.certified_at
                else None,
                "certification": certification,
                "certifier": certifier,
                "job": certifying.get(certify_subject(info.round)),
            }
        )
    return render(
        request,
        "voting/results_console.html",
        {
            "campaign": campaign,
            "brand": brand,
            "rows": rows,
            "funnel": funnel(session=session, campaign_id=campaign.id or 0),
            "pending": pending_decisions(session=session, campaign_id=campaign.id or 0),
            "errors": errors or {},
        },
        status_code=status_code,
    )


def _round_state(info: RoundInfo, now: datetime) -> str:
    if info.round.certified_at is not None:
        return "certified"
    if now < info.stage.opens_at:
        return "upcoming"
    if now < info.stage.closes_at:
        return "open"
    return "closed"


def console_results(request: Request) -> Response:
    campaign, brand = _brand_campaign(request)
    return _console_page(request, campaign, brand)


def console_certify(request: Request) -> Response:
    """Start the round's certification as a job (`certify_job`): the console shows
    its progress, then its outcome. What can be told at once (the round is open, already
    certified, blocked by held votes or fraud cases) is refused here, with the page."""
    campaign, brand = _brand_campaign(request)
    form = Form(form_read(request))
    wanted = id_or_none(form.raw("round_id"))
    info = next((i for i in _rounds(request, campaign) if i.round.id == wanted), None)
    if info is None:
        return _console_page(
            request,
            campaign,
            brand,
            errors={"": _("This round does not exist any more: reload the page.")},
            status_code=400,
        )
    session = db(request)
    problems = certification_problems(
        session=session, round_=info.round, stage=info.stage, now=now_of(request)
    )
    if problems:
        return _console_page(
            request, campaign, brand, errors={"": " ".join(problems)}, status_code=400
        )
    subject = certify_subject(info.round)
    running = jobs.latest(session=session, subjects=[subject]).get(subject)
    if running is None or running.status not in UNFINISHED:  # one certification at a time
        user = current_user(request)
        request.app.state.jobs.enqueue(
            session=session,
            task=CERTIFY,
            args={"round_id": info.round.id, "actor_id": user.id if user else None},
            subject=subject,
            requested_by_id=user.id if user else None,
            brand_id=brand.id,
        )
    return redirect(f"/brands/{brand.slug}/campaigns/{campaign.slug}/results", request=request)


def certify_subject(round_: Round) -> str:
    return f"certify:round:{round_.id}"


# --- Console: the winners' announcement ------------------------------------------------------


def console_announcement(request: Request) -> Response:
    campaign, brand = _brand_campaign(request)
    session = db(request)
    errors: dict[str, str] = {}
    if request.method == "GET":
        found = announcement_of(session=session, campaign_id=campaign.id or 0)
        body = found.body if found else ""
    else:
        form = Form(form_read(request))
        body = form.text("body", max_length=ANNOUNCEMENT_MAX, required=False, multiline=True)
        try:
            form.check()
            user = current_user(request)
            save_announcement(
                session=session,
                campaign=campaign,
                body=body,
                actor_id=user.id if user else None,
                now=now_of(request),
            )
        except ValidationFailed as exc:
            session.rollback()
            errors = exc.errors
        else:
            return redirect(
                f"/brands/{brand.slug}/campaigns/{campaign.slug}/announcement",
                flash=_("Announcement saved."),
                request=request,
            )
    winners = advancement.winners(session=session, campaign_id=campaign.id or 0)
    return render(
        request,
        "voting/announcement.html",
        {"campaign": campaign, "brand": brand, "body": body, "errors": errors, "winners": winners},
        status_code=400 if errors else 200,
    )
