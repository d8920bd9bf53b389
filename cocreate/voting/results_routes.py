"""Results pages: public results and winners, CSV exports, and the brand's results console.

The public pages only read `round_results` (certified) or `idea_tallies` (live), so a page
costs the same with ten votes or ten million. Exports stream from a session of their own:
the request's session is closed as soon as the handler returns, before the body is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.campaigns import service as campaigns
from cocreate.campaigns.display import local_time
from cocreate.campaigns.models import Campaign
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.fraud.held import held_count
from cocreate.i18n import gettext as _
from cocreate.integers import id_or_none, int_param
from cocreate.jobs import store as jobs
from cocreate.jobs.models import JobStatus
from cocreate.markdown import render_markdown
from cocreate.security.access import PUBLIC, brand_role, current_user, db, route
from cocreate.security.permissions import has_brand_role
from cocreate.voting import results
from cocreate.voting.certify_job import CERTIFY
from cocreate.voting.methods import method_of
from cocreate.voting.models import Round
from cocreate.voting.results import RoundInfo, Showing
from cocreate.voting.results_models import RoundCertification
from cocreate.voting.winners_card import winners_card_image, winners_card_path
from cocreate.web import redirect, render

RUN_CAMPAIGNS = brand_role(Role.OWNER, Role.MARKETER)
STAFF = (Role.OWNER, Role.MARKETER, Role.MODERATOR)  # see live counts before certification
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _int_param(request: Request, name: str) -> int | None:
    """A whole number from the query string; None when absent; 400 when malformed."""
    return int_param(request.query_params.get(name), minimum=0)


def _public_campaign(request: Request) -> tuple[Campaign, Brand]:
    found = campaigns.get_public_campaign(session=db(request), slug=request.path_params["slug"])
    if found is None:
        raise HTTPException(404)
    return found


def _brand_campaign(request: Request) -> tuple[Campaign, Brand]:
    session = db(request)
    brand = campaigns.get_brand(session=session, slug=request.path_params["brand"])
    if brand is None:
        raise HTTPException(404)
    campaign = campaigns.get_brand_campaign(
        session=session, brand_id=brand.id or 0, slug=request.path_params["slug"]
    )
    if campaign is None:
        raise HTTPException(404)
    return campaign, brand


def _rounds(request: Request, campaign: Campaign) -> list[RoundInfo]:
    return results.campaign_rounds(session=db(request), campaign_id=campaign.id or 0)


def _is_staff(request: Request, brand: Brand) -> bool:
    return has_brand_role(session=db(request), user=current_user(request), brand=brand, roles=STAFF)


# --- Public results ------------------------------------------------------------------------


def results_page(request: Request) -> Response:
    campaign, brand = _public_campaign(request)
    session = db(request)
    now = _now(request)
    rounds = _rounds(request, campaign)
    info = results.find_round(rounds, _int_param(request, "round"), now)
    if info is None and request.query_params.get("round"):
        raise HTTPException(404)
    context: dict[str, Any] = {
        "campaign": campaign,
        "brand": brand,
        "rounds": rounds,
        "info": info,
        "funnel": results.funnel(session=session, campaign_id=campaign.id or 0),
    }
    if info is not None:
        staff = _is_staff(request, brand)
        showing = results.what_to_show(info.round, info.stage, now, staff=staff)
        page_number = _int_param(request, "page") or 1
        page = None
        if showing == Showing.CERTIFIED:
            page = results.certified_results(session=session, round_=info.round, page=page_number)
        elif showing in (Showing.LIVE, Showing.RANKS):
            page = results.live_results(session=session, round_=info.round, page=page_number)
        certification = (
            session.get(RoundCertification, info.round.id) if info.round.certified_at else None
        )
        method = method_of(info.round)
        if showing == Showing.CERTIFIED:  # what the method shows beyond the standings
            context.update(method.results_extras(session, info.round))
        context.update(
            {
                "showing": showing,
                "staff": staff,
                "public_showing": info.round.visibility,
                "page": page,
                "columns": method.results_columns(str(showing)),
                "total_text": method.total_text(page.total_votes, page.total_points)
                if page is not None
                else "",
                "rules": results.rule_sentences(
                    session=session, round_=info.round, stage=info.stage
                ),
                "closed": now >= info.stage.closes_at,
                "opens": local_time(info.stage.opens_at, campaign.timezone),
                "closes": local_time(info.stage.closes_at, campaign.timezone),
                "certified_at": local_time(info.round.certified_at, campaign.timezone)
                if info.round.certified_at
                else None,
                "certification": certification,
            }
        )
    return render(request, "voting/results.html", context)


def _csv_response(
    request: Request,
    round_: Round,
    filename: str,
    produce: Callable[..., Iterator[str]],
) -> Response:
    engine = request.app.state.db.engine
    round_id = round_.id

    def chunks() -> Iterator[bytes]:
        with Session(engine) as session:
            fresh = session.get(Round, round_id)
            assert fresh is not None
            for text in produce(session=session, round_=fresh):
                yield text.encode()

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _certified_round(request: Request) -> tuple[Campaign, RoundInfo]:
    campaign, _brand = _public_campaign(request)
    rounds = _rounds(request, campaign)
    info = results.find_round(rounds, _int_param(request, "round") or 1, _now(request))
    if info is None or info.round.certified_at is None:
        raise HTTPException(404)  # exports exist once the results are certified
    return campaign, info


def results_csv(request: Request) -> Response:
    campaign, info = _certified_round(request)
    name = f"{campaign.slug}-round-{info.number}-results.csv"
    return _csv_response(request, info.round, name, results.results_csv)


def votes_csv(request: Request) -> Response:
    campaign, info = _certified_round(request)
    name = f"{campaign.slug}-round-{info.number}-votes.csv"
    return _csv_response(request, info.round, name, results.vote_log_csv)


def winners_page(request: Request) -> Response:
    campaign, brand = _public_campaign(request)
    session = db(request)
    found = results.winners(session=session, campaign_id=campaign.id or 0)
    announcement = results.announcement_of(session=session, campaign_id=campaign.id or 0)
    card = winners_card_path(session, campaign, brand, found) if found.ideas else None
    base_url = request.app.state.settings.base_url
    return render(
        request,
        "voting/winners.html",
        {
            "campaign": campaign,
            "brand": brand,
            "winners": found,
            "card_url": f"{base_url}{card}" if found.ready and card else None,
            "canonical_url": f"{base_url}/c/{campaign.slug}/winners",
            "announcement": render_markdown(announcement.body)
            if announcement and announcement.body and found.ready
            else None,
        },
    )


# --- Console: certification ------------------------------------------------------------------


def _console_page(
    request: Request,
    campaign: Campaign,
    brand: Brand,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    now = _now(request)
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
            results.certification_problems(
                session=session, round_=info.round, stage=info.stage, now=now
            )
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
            "funnel": results.funnel(session=session, campaign_id=campaign.id or 0),
            "pending": results.pending_decisions(session=session, campaign_id=campaign.id or 0),
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
    """Start the round's certification as a job (`voting.certify_job`): the console shows
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
    problems = results.certification_problems(
        session=session, round_=info.round, stage=info.stage, now=_now(request)
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
        found = results.announcement_of(session=session, campaign_id=campaign.id or 0)
        body = found.body if found else ""
    else:
        form = Form(form_read(request))
        body = form.text(
            "body", max_length=results.ANNOUNCEMENT_MAX, required=False, multiline=True
        )
        try:
            form.check()
            user = current_user(request)
            results.save_announcement(
                session=session,
                campaign=campaign,
                body=body,
                actor_id=user.id if user else None,
                now=_now(request),
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
    winners = results.winners(session=session, campaign_id=campaign.id or 0)
    return render(
        request,
        "voting/announcement.html",
        {"campaign": campaign, "brand": brand, "body": body, "errors": errors, "winners": winners},
        status_code=400 if errors else 200,
    )


CONSOLE = "/brands/{brand}/campaigns/{slug}"

routes = [
    route("/c/{slug}/results", results_page, access=PUBLIC),
    route("/c/{slug}/results.csv", results_csv, access=PUBLIC),
    route("/c/{slug}/votes.csv", votes_csv, access=PUBLIC),
    route("/c/{slug}/winners", winners_page, access=PUBLIC),
    route("/c/{slug}/winners/card.png", winners_card_image, access=PUBLIC),
    route(CONSOLE + "/results", console_results, access=RUN_CAMPAIGNS),
    route(CONSOLE + "/results/certify", console_certify, access=RUN_CAMPAIGNS, methods=["POST"]),
    route(
        CONSOLE + "/announcement",
        console_announcement,
        access=RUN_CAMPAIGNS,
        methods=["GET", "POST"],
    ),
]
