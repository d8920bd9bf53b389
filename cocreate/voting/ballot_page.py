"""The ballot page: the campaign's open round, its ideas, the voter's ballot and what they may
do, with the round's method's own part (`VotingMethod.ballot_template`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.accounts.models import User
from cocreate.campaigns import service as campaigns
from cocreate.campaigns.display import local_time
from cocreate.campaigns.timeline import stage_name
from cocreate.images import url_of
from cocreate.markdown import summary_html
from cocreate.security.access import current_user, db
from cocreate.voting import ballots, display
from cocreate.voting.answers import ballot_url
from cocreate.voting.ballots import BallotState, EntrantView
from cocreate.voting.forms import country_choices
from cocreate.voting.methods import method_of
from cocreate.voting.models import Visibility
from cocreate.voting.open_round import CampaignRef, CampaignRound, OpenRound, find_open_round
from cocreate.voting.signals import device_id, remember_device
from cocreate.web import render


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def find_or_404(request: Request, voter: User | None = None) -> CampaignRound:
    """The published campaign named by the address and its open round; 404 for anything else."""
    found = find_open_round(
        session=db(request), slug=request.path_params["slug"], now=now_of(request), voter=voter
    )
    if found is None:
        raise HTTPException(404)
    return found


def no_open_round(request: Request, campaign: CampaignRef) -> Response:
    """No voting round is open: when the next one opens, or that voting has ended."""
    now = now_of(request)
    stages = ballots.voting_stages(
        campaigns.stages_of(session=db(request), campaign_id=campaign.id)
    )
    upcoming = next((s for s in stages if s.opens_at > now), None)
    return render(
        request,
        "voting/none_open.html",
        {
            "campaign": campaign,
            "upcoming": upcoming,
            "upcoming_name": stage_name(upcoming) if upcoming else "",
            "upcoming_opens": local_time(upcoming.opens_at, campaign.timezone) if upcoming else "",
            "ended": bool(stages) and upcoming is None,
        },
    )


def ballot(
    request: Request,
    opened: OpenRound,
    *,
    errors: dict[str, str] | None = None,
    sent: Any = None,
    status_code: int = 200,
) -> Response:
    """The ballot page; `errors` and `sent` (what the voter sent, as the method reads it)
    show a ballot sent back with its problems."""
    session = db(request)
    now = now_of(request)
    user = current_user(request)
    round_, campaign = opened.round, opened.campaign
    method = method_of(round_)
    ideas = (
        ballots.entrants(session=session, round_=round_, first_round=opened.first_round)
        if method.lists_entrants
        else []
    )
    tally = (
        ballots.tally_of(session=session, round_id=round_.id)
        if round_.visibility != Visibility.HIDDEN
        else {}
    )
    # Each voter's own order (the same on every visit) when counts are hidden.
    seed = f"{round_.id}:{user.id if user else 'anonymous'}"
    ordered = ballots.order_entrants(ideas, round_=round_, tally=tally, seed=seed)
    state: BallotState | None = None
    problem: str | None = None
    country: str | None = None
    if user is not None:
        assert user.id is not None
        state = ballots.ballot_state(session=session, open_round=opened, voter_id=user.id, now=now)
        problem, country = ballots.voter_problem(
            session=session, round_=round_, voter=user, now=now
        )
        device_id(request)  # the device cookie is set before the first vote
    storage = request.app.state.storage
    views = [
        EntrantView(
            idea_id=idea.id or 0,
            title=idea.title,
            description=idea.description,
            my_weight=state.my_votes.get(idea.id or 0) if state else None,
            count=ballots.shown_count(round_, tally, idea.id or 0),
            rank=rank,
            picture_url=url_of(storage, idea.image_key, "thumb"),
            summary_html=summary_html(idea.description),
        )
        for idea, rank in ordered
    ]
    context: dict[str, Any] = {
        "campaign": campaign,
        "stage": opened.stage,
        "stage_name": stage_name(opened.stage.as_stage()),
        "closes": local_time(opened.stage.closes_at, campaign.timezone),
        "round": round_,
        "method": method,
        "entrants": views,
        "state": state,
        "counter": display.counter_text(round_, state) if state else "",
        "out_of_votes": state is not None and display.out_of_votes(round_, state),
        "can_vote": user is not None and problem is None,
        "problem": problem,
        "country": country,
        "country_name": display.country_name(country) if country else "",
        "countries_text": display.countries_text(round_.countries),
        "country_choices": country_choices(),
        "old_enough_at": (
            local_time(ballots.old_enough_at(round_, user), campaign.timezone)
            if user is not None
            else ""
        ),
        "method_text": display.method_explained(round_),
        "frequency_text": display.frequency_explained(
            round_, state.renews_at if state else None, campaign.timezone
        ),
        "visibility_text": display.visibility_explained(round_),
        "errors": errors or {},
        "login_url": "/login?next=" + ballot_url(campaign.slug),
        **method.ballot_context(opened, ideas, state.my_votes if state else {}, sent),
        **method.ballot_extras(request, opened),
    }
    response = render(request, "voting/ballot.html", context, status_code=status_code)
    return remember_device(request, response)
