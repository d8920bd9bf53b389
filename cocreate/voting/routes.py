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

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.brands.models import Brand, Role
from cocreate.campaigns import service as campaigns
from cocreate.campaigns.display import timeline_rows
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import gettext as _
from cocreate.integers import int_or_none
from cocreate.security.access import (
    PUBLIC,
    SIGNED_IN,
    Account,
    admit,
    brand_role,
    claimed_account_id,
    current_user,
    db,
    route,
)
from cocreate.voting import answers, ballots, cast, display, methods, rounds
from cocreate.voting.ballot_page import ballot, find_or_404, no_open_round
from cocreate.voting.forms import (
    FRAUD_FIELDS,
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
from cocreate.voting.models import Round
from cocreate.voting.open_round import VoteContext, read_for_vote
from cocreate.voting.signals import vote_signals
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
            "method": methods.method_of(round_),
            "method_choices": [(m.name, m.choice()) for m in methods.registry],
            "max_votes_hint": " ".join(
                filter(None, (m.max_votes_hint() for m in methods.registry))
            ),
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


def ballot_page(request: Request) -> Response:
    found = find_or_404(request)
    if found.open is None:
        return no_open_round(request, found.campaign)
    return ballot(request, found.open)


# --- Vote and unvote ---------------------------------------------------------------------------


def points_given(form: FormData) -> int | None:
    """The points given with a vote; None when not a whole number from 1 up."""
    raw = form.get("points")
    return int_or_none(raw.strip(), minimum=1, maximum=999_999) if isinstance(raw, str) else None


def _read(request: Request, *, mailbox: bool) -> tuple[VoteContext, Response | None]:
    """Who votes and the open round, in one query; then the access check (`admit`: the vote
    routes are batched, their endpoints check the account they read)."""
    context = read_for_vote(
        session=db(request),
        slug=request.path_params["slug"],
        now=_now(request),
        voter_id=claimed_account_id(request),
        with_mailbox=mailbox,
    )
    return context, admit(request, context.account)


def _attempt(request: Request, voter: Account) -> cast.Attempt:
    form = form_read(request)
    solution = form.get("altcha")
    return cast.Attempt(
        slug=request.path_params["slug"],
        idea_id=request.path_params["idea_id"],
        voter=voter,
        now=_now(request),
        points=points_given(form),
        solution=solution if isinstance(solution, str) and solution else None,
        signals=functools.partial(vote_signals, request),
    )


def vote(request: Request) -> Response:
    context, refused = _read(request, mailbox=True)  # the voter's mailbox: the fraud screen's
    if refused is not None:
        return refused
    assert context.account is not None
    outcome = cast.cast(
        session=db(request),
        attempt=_attempt(request, context.account),
        guard=answers.guard_of(request),
        found=context.found,
    )
    return answers.answer(request, outcome)


def unvote(request: Request) -> Response:
    context, refused = _read(request, mailbox=False)
    if refused is not None:
        return refused
    assert context.account is not None
    attempt = _attempt(request, context.account)
    return answers.answer(
        request, cast.withdraw(session=db(request), attempt=attempt, found=context.found)
    )


# --- The ranked ballot and the declared country ------------------------------------------------


def country(request: Request) -> Response:
    found = find_or_404(request)
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
        return ballot(request, found.open, errors=errors, status_code=400)
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
    *methods.routes(),  # a ranked ballot's submission, ...
    route("/c/{slug}/country", country, access=SIGNED_IN, methods=["POST"]),
]
