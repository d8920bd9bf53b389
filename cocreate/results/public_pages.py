"""Public results pages: a round's results, the winners, and the CSV exports.

The pages only read `round_results` (certified) or `idea_tallies` (live), so a page costs the
same with ten votes or ten million. Exports stream from a session of their own: the request's
session is closed as soon as the handler returns, before the body is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cocreate.brands.models import Brand, Role
from cocreate.campaigns import service as campaigns
from cocreate.campaigns.display import local_time
from cocreate.campaigns.models import Campaign
from cocreate.campaigns.page_helpers import now_of
from cocreate.integers import int_param
from cocreate.markdown import render_markdown
from cocreate.results import digest, exports
from cocreate.results.advancement import public_winners, winners
from cocreate.results.announcement import announcement_of
from cocreate.results.funnel import funnel
from cocreate.results.models import RoundCertification
from cocreate.results.rounds import RoundInfo, campaign_rounds, find_round
from cocreate.results.rules import rule_sentences
from cocreate.results.standings import Showing, certified_results, live_results, what_to_show
from cocreate.results.winner_stories import winner_stories
from cocreate.results.winners_card import winners_card_path
from cocreate.security.access import current_user, db
from cocreate.security.permissions import has_brand_role
from cocreate.voting.methods import method_of
from cocreate.voting.models import Round
from cocreate.web import render

STAFF = (Role.OWNER, Role.MARKETER, Role.MODERATOR)  # see live counts before certification


def _int_param(request: Request, name: str) -> int | None:
    """A whole number from the query string; None when absent; 400 when malformed."""
    return int_param(request.query_params.get(name), minimum=0)


def _public_campaign(request: Request) -> tuple[Campaign, Brand]:
    found = campaigns.get_public_campaign(session=db(request), slug=request.path_params["slug"])
    if found is None:
        raise HTTPException(404)
    return found


def _rounds(request: Request, campaign: Campaign) -> list[RoundInfo]:
    return campaign_rounds(session=db(request), campaign_id=campaign.id or 0)


def _is_staff(request: Request, brand: Brand) -> bool:
    return has_brand_role(session=db(request), user=current_user(request), brand=brand, roles=STAFF)


def results_page(request: Request) -> Response:
    campaign, brand = _public_campaign(request)
    session = db(request)
    now = now_of(request)
    rounds = _rounds(request, campaign)
    info = find_round(rounds, _int_param(request, "round"), now)
    if info is None and request.query_params.get("round"):
        raise HTTPException(404)
    context: dict[str, Any] = {
        "campaign": campaign,
        "brand": brand,
        "rounds": rounds,
        "info": info,
        "funnel": funnel(session=session, campaign_id=campaign.id or 0),
    }
    if info is not None:
        staff = _is_staff(request, brand)
        showing = what_to_show(info.round, info.stage, now, staff=staff)
        page_number = _int_param(request, "page") or 1
        page = None
        if showing == Showing.CERTIFIED:
            page = certified_results(session=session, round_=info.round, page=page_number)
        elif showing in (Showing.LIVE, Showing.RANKS):
            page = live_results(session=session, round_=info.round, page=page_number)
        certification = (
            session.get(RoundCertification, info.round.id) if info.round.certified_at else None
        )
        method = method_of(info.round)
        if page is not None:  # what the method shows beyond the standings
            context.update(method.results_extras(session, info.round, str(showing)))
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
                "rules": rule_sentences(session=session, round_=info.round, stage=info.stage),
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
    info = find_round(rounds, _int_param(request, "round") or 1, now_of(request))
    if info is None or info.round.certified_at is None:
        raise HTTPException(404)  # exports exist once the results are certified
    return campaign, info


def results_csv(request: Request) -> Response:
    campaign, info = _certified_round(request)
    name = f"{campaign.slug}-round-{info.number}-results.csv"
    return _csv_response(request, info.round, name, exports.results_csv)


def votes_csv(request: Request) -> Response:
    campaign, info = _certified_round(request)
    name = f"{campaign.slug}-round-{info.number}-votes.csv"
    return _csv_response(request, info.round, name, digest.vote_log_csv)


def winners_page(request: Request) -> Response:
    campaign, brand = _public_campaign(request)
    session = db(request)
    found = public_winners(session=session, campaign_id=campaign.id or 0, now=now_of(request))
    preview = False
    if found.announce_at is not None and _is_staff(request, brand):
        # The brand sees its winners before it announces them, marked as a preview.
        decided = winners(session=session, campaign_id=campaign.id or 0)
        if decided.ready:
            found, preview = replace(decided, announce_at=found.announce_at), True
    announcement = announcement_of(session=session, campaign_id=campaign.id or 0)
    card = winners_card_path(session, campaign, brand, found) if found.ideas else None
    base_url = request.app.state.settings.base_url
    return render(
        request,
        "voting/winners.html",
        {
            "campaign": campaign,
            "brand": brand,
            "winners": found,
            "stories": winner_stories(request, found),
            "card_url": f"{base_url}{card}" if found.ready and card and not preview else None,
            "preview": preview,
            "announce_when": local_time(found.announce_at, campaign.timezone)
            if found.announce_at
            else None,
            "canonical_url": f"{base_url}/c/{campaign.slug}/winners",
            "announcement": render_markdown(announcement.body)
            if announcement and announcement.body and found.ready
            else None,
        },
    )
