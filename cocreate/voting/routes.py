"""Voting pages: a round's settings in the campaign console, the ballot, and the vote endpoints.

The vote and unvote endpoints are the hottest path of a campaign: each reads the click, calls
one use case (`cast.cast`, `cast.withdraw`) and turns its outcome into an answer
(`answers.answer`). They are batched routes: the votes that arrive together share a thread
hop and, on SQLite, one transaction (`cocreate.group_commit`). Without JavaScript the same
forms post and redirect back to the ballot.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.campaigns import service as campaigns
from cocreate.campaigns.display import local_time, timeline_rows
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.campaigns.timeline import stage_name
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import gettext as _
from cocreate.integers import int_or_none
from cocreate.security.access import (
    PUBLIC,
    SIGNED_IN,
    brand_role,
    current_account,
    current_user,
    db,
    route,
)
from cocreate.voting import answers, ballots, cast, display, rounds
from cocreate.voting.ballots import BallotState, EntrantView
from cocreate.voting.forms import (
    FRAUD_FIELDS,
    RANKED_MAX,
    country_choices,
    country_codes,
    form_values,
    input_values,
    middle_choices,
    read_policy,
    read_round,
    read_visibility,
    round_values,
    visibility_choices,
)
from cocreate.voting.models import Method, Round, Visibility
from cocreate.voting.open_round import CampaignRef, CampaignRound, OpenRound, find_open_round
from cocreate.voting.service import Outcome, Signals, VoteResult
from cocreate.voting.signals import device_id, remember_device, vote_signals
from cocreate.web import redirect, render

RUN_CAMPAIGNS = brand_role(Role.OWNER, Role.MARKETER)


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


# --- Console: the settings of a voting round ---------------------------------------------------


def _console_stage(request: Request) -> tuple[Brand, Campaign, Stage]:
    """The brand, campaign and voting stage named by the address; 404 for anything else."""
    session = db(request)
    brand = campaigns.get_brand(session=session, slug=request.path_params["brand"])
    if brand is None or brand.id is None:
        raise HTTPException(404)
    campaign = campaigns.get_brand_campaign(
        session=session, brand_id=brand.id, slug=request.path_params["slug"]
    )
    if campaign is None:
        raise HTTPException(404)
    stage = session.get(Stage, request.path_params["stage_id"])
    if stage is None or stage.campaign_id != campaign.id or stage.kind != StageKind.VOTING:
        raise HTTPException(404)
    return brand, campaign, stage


def _round_url(brand: Brand, campaign: Campaign, stage: Stage) -> str:
    return f"/brands/{brand.slug}/campaigns/{campaign.slug}/stages/{stage.id}/round"


def _round_page(
    request: Request,
    brand: Brand,
    campaign: Campaign,
    stage: Stage,
    round_: Round,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    now = _now(request)
    return render(
        request,
        "voting/round.html",
        {
            "brand": brand,
            "campaign": campaign,
            "stage": stage,
            "round": round_,
            "row": timeline_rows([stage], now, campaign.timezone)[0],
            "opened": rounds.has_opened(stage, now),
            "values": values,
            "errors": errors,
            "visibility_choices": visibility_choices(),
            "middle_choices": middle_choices(),
            "ranked_max": RANKED_MAX,
            "countries_text": display.countries_text(round_.countries),
        },
        status_code=status_code,
    )


def round_settings(request: Request) -> Response:
    brand, campaign, stage = _console_stage(request)
    session = db(request)
    round_ = rounds.round_for_stage(session=session, stage=stage)
    if request.method == "GET":
        values = input_values(round_values(round_))
        return _round_page(request, brand, campaign, stage, round_, values, {})
    form = Form(form_read(request))
    whole_form = "method" in form.data  # a round that has opened shows only the visibility
    user = current_user(request)
    try:
        if whole_form:
            data = read_round(form, round_values(round_))
            form.check()
            changed = rounds.save_round(
                session=session,
                campaign=campaign,
                stage=stage,
                round_=round_,
                data=data,
                actor_id=user.id if user else None,
                now=_now(request),
            )
        else:
            visibility = read_visibility(form)
            policy = read_policy(form, round_values(round_))
            form.check()
            changed = rounds.set_visibility(
                session=session,
                campaign=campaign,
                stage=stage,
                round_=round_,
                visibility=visibility,
                actor_id=user.id if user else None,
                now=_now(request),
                policy=dict(policy),
            )
    except ValidationFailed as exc:
        session.rollback()
        values = input_values(round_values(round_))
        if whole_form:
            values.update(form_values(form))
        else:
            values.update({k: form.raw(k)[:200] for k in ("visibility", *FRAUD_FIELDS)})
        return _round_page(request, brand, campaign, stage, round_, values, exc.errors, 400)
    message = _("Voting settings saved.") if changed else _("Nothing changed.")
    return redirect(_round_url(brand, campaign, stage), flash=message, request=request)


# --- The ballot page ---------------------------------------------------------------------------


def _find(request: Request, voter: User | None = None) -> CampaignRound:
    found = find_open_round(
        session=db(request), slug=request.path_params["slug"], now=_now(request), voter=voter
    )
    if found is None:
        raise HTTPException(404)
    return found


def _no_open_round(request: Request, campaign: CampaignRef) -> Response:
    assert campaign.id is not None
    now = _now(request)
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


def _ballot_page(
    request: Request,
    opened: OpenRound,
    *,
    errors: dict[str, str] | None = None,
    ranking: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    now = _now(request)
    user = current_user(request)
    round_, campaign = opened.round, opened.campaign
    assert round_.id is not None
    ideas = ballots.entrants(session=session, round_=round_, first_round=opened.first_round)
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
    views = [
        EntrantView(
            idea_id=idea.id or 0,
            title=idea.title,
            description=idea.description,
            my_weight=state.my_votes.get(idea.id or 0) if state else None,
            count=ballots.shown_count(round_, tally, idea.id or 0),
            rank=rank,
        )
        for idea, rank in ordered
    ]
    if ranking is None and state is not None and round_.method == Method.RANKED:
        by_rank = sorted(state.my_votes.items(), key=lambda pair: pair[1])
        ranking = [str(idea_id) for idea_id, _weight in by_rank]
    context: dict[str, Any] = {
        "campaign": campaign,
        "stage": opened.stage,
        "stage_name": stage_name(opened.stage.as_stage()),
        "closes": local_time(opened.stage.closes_at, campaign.timezone),
        "round": round_,
        "entrants": views,
        "ideas_by_title": sorted(ideas, key=lambda i: i.title.casefold()),
        "state": state,
        "counter": display.counter_text(round_, state) if state else "",
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
        "ranking": (ranking or []) + [""] * (round_.max_votes - len(ranking or [])),
        "errors": errors or {},
        "login_url": "/login?next=" + answers.ballot_url(campaign.slug),
    }
    response = render(request, "voting/ballot.html", context, status_code=status_code)
    return remember_device(request, response)


def ballot_page(request: Request) -> Response:
    found = _find(request)
    if found.open is None:
        return _no_open_round(request, found.campaign)
    return _ballot_page(request, found.open)


# --- Vote and unvote ---------------------------------------------------------------------------


def points_given(form: FormData) -> int | None:
    """The points given with a vote; None when not a whole number from 1 up."""
    raw = form.get("points")
    return int_or_none(raw.strip(), minimum=1, maximum=999_999) if isinstance(raw, str) else None


def _attempt(request: Request) -> cast.Attempt:
    user = current_account(request)  # a batched route: the account read with Core
    assert user is not None  # SIGNED_IN
    form = form_read(request)
    solution = form.get("altcha")
    return cast.Attempt(
        slug=request.path_params["slug"],
        idea_id=request.path_params["idea_id"],
        voter=user,
        now=_now(request),
        points=points_given(form),
        solution=solution if isinstance(solution, str) and solution else None,
        signals=functools.partial(vote_signals, request),
    )


def _guard(request: Request) -> cast.Guard:
    settings = request.app.state.settings
    return cast.Guard(
        limiter=request.app.state.rate_limiter,
        secret_key=settings.secret_key,
        pow_max_number=settings.pow_max_number,
    )


def vote(request: Request) -> Response:
    outcome = cast.cast(session=db(request), attempt=_attempt(request), guard=_guard(request))
    return answers.answer(request, outcome)


def unvote(request: Request) -> Response:
    return answers.answer(request, cast.withdraw(session=db(request), attempt=_attempt(request)))


# --- The ranked ballot and the declared country ------------------------------------------------


def ranking(request: Request) -> Response:
    found = _find(request)
    slug = found.campaign.slug
    opened = found.open
    if opened is None:
        return answers.reload(request, slug, answers.not_open_message())
    round_ = opened.round
    if round_.method != Method.RANKED:
        return answers.reload(request, slug, _("This round is not a ranked vote."))
    user = current_user(request)
    assert user is not None and user.id is not None
    session = db(request)
    form = Form(form_read(request))
    values = [form.raw(f"rank-{n}")[:12] for n in range(1, round_.max_votes + 1)]
    country = None
    if round_.countries:
        country = ballots.declared_country(
            session=session, campaign_id=round_.campaign_id, voter_id=user.id
        )
    screened = cast.screen(
        session=session,
        opened=opened,
        attempt=_attempt_of_ranking(request, user),
        guard=_guard(request),
        idea_id=cast.RANKING,
    )
    if isinstance(screened, cast.Refused):
        return answers.refused(request, slug, cast.RANKING)
    assert isinstance(screened, Signals)  # a ranked ballot is held, never challenged
    try:
        idea_ids = ballots.read_ranking(values, max_positions=round_.max_votes)
        result = ballots.submit_ranking(
            session=session,
            open_round=opened,
            voter=user,
            idea_ids=idea_ids,
            now=_now(request),
            country=country,
            signals=screened,
        )
    except ValidationFailed as exc:
        session.rollback()
        return _ballot_page(request, opened, errors=exc.errors, ranking=values, status_code=400)
    messages = {
        Outcome.COUNTED: _("Your ranking is saved."),
        Outcome.ALREADY: _("Your ranking is saved. It has not changed."),
        Outcome.WITHDRAWN: _("Your ranking is cleared."),
        Outcome.HELD: _("Your ranking is recorded. It will be checked before it counts."),
    }
    if result.reason == "country" and country is None:
        result = VoteResult(Outcome.INELIGIBLE, reason="no_country")
    message = messages.get(result.outcome) or display.outcome_message(round_, result, "")
    response = redirect(answers.ballot_url(slug), flash=message, request=request)
    return remember_device(request, response)


def _attempt_of_ranking(request: Request, user: User) -> cast.Attempt:
    solution = form_read(request).get("altcha")
    return cast.Attempt(
        slug=request.path_params["slug"],
        idea_id=cast.RANKING,
        voter=user,
        now=_now(request),
        solution=solution if isinstance(solution, str) and solution else None,
        signals=functools.partial(vote_signals, request),
    )


def country(request: Request) -> Response:
    found = _find(request)
    campaign = found.campaign
    assert campaign.id is not None
    user = current_user(request)
    assert user is not None and user.id is not None
    form = Form(form_read(request))
    code = form.choice("country", sorted(country_codes()))
    try:
        form.check()
    except ValidationFailed:
        errors = {"country": _("Choose the country you live in from the list.")}
        if found.open is None:
            return answers.reload(request, campaign.slug, errors["country"])
        return _ballot_page(request, found.open, errors=errors, status_code=400)
    kept = ballots.declare_country(
        session=db(request),
        campaign_id=campaign.id,
        voter_id=user.id,
        country=code,
        now=_now(request),
    )
    if kept != code:
        message = _(
            "You already told us you live in %(country)s. It stays the same for this campaign."
        ) % {"country": display.country_name(kept)}
    else:
        message = _("Thank you. You live in %(country)s.") % {"country": display.country_name(kept)}
    return redirect(answers.ballot_url(campaign.slug), flash=message, request=request)


CONSOLE_STAGE = "/brands/{brand}/campaigns/{slug}/stages/{stage_id:id}"

routes = [
    route(CONSOLE_STAGE + "/round", round_settings, access=RUN_CAMPAIGNS, methods=["GET", "POST"]),
    route("/c/{slug}/vote", ballot_page, access=PUBLIC),
    # Signed in, not "verified email": each round says whether it needs a verified email,
    # and an unverified voter gets the ballot's own explanation of what to do.
    route("/c/{slug}/vote/{idea_id:id}", vote, access=SIGNED_IN, methods=["POST"], batched=True),
    route(
        "/c/{slug}/unvote/{idea_id:id}", unvote, access=SIGNED_IN, methods=["POST"], batched=True
    ),
    route("/c/{slug}/ranking", ranking, access=SIGNED_IN, methods=["POST"]),
    route("/c/{slug}/country", country, access=SIGNED_IN, methods=["POST"]),
]
