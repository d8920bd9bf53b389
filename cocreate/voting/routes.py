"""Voting pages: a round's settings in the campaign console, the ballot, and the vote endpoints.

The vote and unvote endpoints are the hottest path of a campaign. The usual vote takes the
fast path (`_fast`, below): on one pooled connection without a session, the signed-in check
and the open round are read together, `cast_vote` writes in one short transaction, and an
htmx request gets a small fragment rendered without the page's navigation. Everything else
goes to `_vote`, the usual path on the request's session. Without JavaScript the same forms
post and redirect back to the ballot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.campaigns import service as campaigns
from cocreate.campaigns.display import local_time, timeline_rows
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.campaigns.timeline import stage_name
from cocreate.db import Transaction
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.fraud import challenge
from cocreate.fraud.policy import Decision
from cocreate.fraud.screen import Screening, apply, log_refusal, screen_vote
from cocreate.i18n import gettext as _
from cocreate.integers import int_or_none
from cocreate.security.access import (
    PUBLIC,
    SIGNED_IN,
    FastPath,
    brand_role,
    current_user,
    db,
    route,
)
from cocreate.security.csrf import csrf_token
from cocreate.voting import ballots, display, rounds
from cocreate.voting.ballots import BallotState, EntrantView, OpenRound
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
from cocreate.voting.service import Outcome, Signals, VoteResult, cast_vote, withdraw_vote
from cocreate.voting.signals import device_id, remember_device, vote_signals
from cocreate.web import is_htmx_fragment_request, redirect, render

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


def _ballot_url(slug: str) -> str:
    return f"/c/{slug}/vote"


def _find(request: Request, voter: User | None = None) -> ballots.CampaignRound:
    found = ballots.find_open_round(
        session=db(request), slug=request.path_params["slug"], now=_now(request), voter=voter
    )
    if found is None:
        raise HTTPException(404)
    return found


def _no_open_round(request: Request, campaign: Campaign) -> Response:
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
        "stage_name": stage_name(opened.stage),
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
        "login_url": "/login?next=" + _ballot_url(campaign.slug),
    }
    response = render(request, "voting/ballot.html", context, status_code=status_code)
    return remember_device(request, response)


def ballot_page(request: Request) -> Response:
    found = _find(request)
    if found.open is None:
        return _no_open_round(request, found.campaign)
    return _ballot_page(request, found.open)


def not_open_message() -> str:
    return _("This voting round is not open, so votes are not accepted.")


# --- Vote and unvote ---------------------------------------------------------------------------


def _fragment(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """A piece of the ballot for htmx, rendered without the page's context (navigation,
    flashes): the fragment uses none of it, and the navigation would cost a query."""
    page = request.app.state.templates.get_template(template)
    body = page.render({**context, "csrf_token": lambda: csrf_token(request)})
    return HTMLResponse(body, headers={"Vary": "HX-Request"})


def _reload(request: Request, slug: str, message: str) -> Response:
    """The ballot changed under the voter (the round closed, the idea left it): show it anew,
    with the reason, whether the request came from htmx or a plain form."""
    if is_htmx_fragment_request(request):
        from cocreate.web import add_flash

        add_flash(request, message)
        return Response(
            status_code=200, headers={"HX-Redirect": _ballot_url(slug), "Vary": "HX-Request"}
        )
    response = redirect(_ballot_url(slug), flash=message, request=request)
    response.headers["Vary"] = "HX-Request"
    return response


def points_given(form: FormData) -> int | None:
    """The points given with a vote; None when not a whole number from 1 up."""
    raw = form.get("points")
    return int_or_none(raw.strip(), minimum=1, maximum=999_999) if isinstance(raw, str) else None


def _vote(request: Request, *, cast: bool) -> Response:
    session = db(request)
    user = current_user(request)
    assert user is not None and user.id is not None  # SIGNED_IN
    now = _now(request)
    slug = request.path_params["slug"]
    idea_id: int = request.path_params["idea_id"]
    # A vote also reads the voter's mailbox siblings with the round, for the fraud screen.
    opened = _find(request, user if cast else None).open
    if opened is None:
        return _reload(request, slug, not_open_message())
    round_ = opened.round
    if round_.method == Method.RANKED:
        return _reload(request, slug, _("This round is a ranked vote: order the ideas below."))
    weight: int | None = 1
    if cast and round_.method == Method.POINTS:
        weight = points_given(form_read(request))
    if weight is None:
        result = VoteResult(Outcome.NO_VOTES_LEFT)
    elif cast:
        country = None
        if round_.countries:
            country = ballots.declared_country(
                session=session, campaign_id=round_.campaign_id, voter_id=user.id
            )
        screened = _screen(request, opened, idea_id=idea_id, weight=weight)
        if isinstance(screened, Response):
            return screened
        result = _cast(session, opened, user, idea_id, now, weight, screened, country)
        if result.reason == "country" and country is None:
            result = VoteResult(Outcome.INELIGIBLE, reason="no_country")
    else:
        result = _withdraw(session, opened, user, idea_id, now)
    if result.outcome in (Outcome.CLOSED, Outcome.NOT_ENTRANT):
        return _reload(request, slug, display.outcome_message(round_, result, ""))
    title = result.idea_title or ballots.idea_title(session=session, round_=round_, idea_id=idea_id)
    if title is None:
        return _reload(request, slug, _("This idea is not part of this voting round."))
    if weight is None:
        message = _("Enter a number of points from 1 to %(n)d.") % {"n": round_.points_budget}
    else:
        message = display.outcome_message(round_, result, title)
    if not is_htmx_fragment_request(request):
        return _moved_to_ballot(request, slug, idea_id, message)
    my_weight = _my_weight(round_, result, weight)
    if my_weight is None and result.outcome in (Outcome.ALREADY, Outcome.NO_VOTES_LEFT):
        # Refused or repeated: show the vote the voter has for it, if any.
        my_weight = ballots.my_weight(
            session=session, open_round=opened, voter_id=user.id, idea_id=idea_id, now=now
        )
    state = ballots.state_after(round_, result)
    if result.votes_left is None:  # refused before reading the ballot: read it now
        state = ballots.ballot_state(session=session, open_round=opened, voter_id=user.id, now=now)
    if result.tally is not None:  # counted by this very request: no query
        count = ballots.shown_count(round_, {idea_id: result.tally}, idea_id)
    else:
        count = ballots.idea_count(session=session, round_=round_, idea_id=idea_id)
    entrant = ballots.EntrantView(
        idea_id=idea_id, title=title, description="", my_weight=my_weight, count=count, rank=None
    )
    return _vote_fragment(request, opened, entrant, result, state, message)


def _cast(
    session: Session | Transaction,
    opened: OpenRound,
    voter: User,
    idea_id: int,
    now: datetime,
    weight: int,
    signals: Signals,
    country: str | None,
) -> VoteResult:
    return cast_vote(
        session=session,
        round_=opened.round,
        campaign=opened.campaign,
        stage=opened.stage,
        voter=voter,
        idea_id=idea_id,
        now=now,
        weight=weight,
        country=country,
        signals=signals,
        first_round=opened.first_round,
    )


def _withdraw(
    session: Session | Transaction, opened: OpenRound, voter: User, idea_id: int, now: datetime
) -> VoteResult:
    return withdraw_vote(
        session=session,
        round_=opened.round,
        campaign=opened.campaign,
        stage=opened.stage,
        voter=voter,
        idea_id=idea_id,
        now=now,
    )


def _moved_to_ballot(request: Request, slug: str, idea_id: int, message: str) -> Response:
    """A vote without JavaScript: back to the ballot, at the idea, with what happened."""
    moved = redirect(f"{_ballot_url(slug)}#idea-{idea_id}", flash=message, request=request)
    moved.headers["Vary"] = "HX-Request"
    return remember_device(request, moved)


def _vote_fragment(
    request: Request,
    opened: OpenRound,
    entrant: EntrantView,
    result: VoteResult,
    state: BallotState,
    message: str,
) -> Response:
    """An htmx vote's answer: the idea's vote block, and the counter out of band."""
    response = _fragment(
        request,
        "voting/_vote_response.html",
        {
            "campaign": opened.campaign,
            "round": opened.round,
            "entrant": entrant,
            "state": state,
            "counter": display.counter_text(opened.round, state),
            "can_vote": True,
            "message": message,
            "refused": result.outcome not in (Outcome.COUNTED, Outcome.HELD, Outcome.WITHDRAWN),
        },
    )
    return remember_device(request, response)


# --- The fast path of vote and unvote --------------------------------------------------------
#
# The usual vote, and the usual unvote, answered on one pooled connection without a session
# or ORM: the signed-in check, the open round (with the voter's mailbox siblings), the fraud
# screen and the vote's statements (`cast_vote`; on SQLite in a savepoint of a transaction
# shared by the votes of one event-loop turn: `db.GroupCommit`). Whatever is not the usual
# case (no open round or no round row yet, a ranked or country-limited round, a challenge to
# verify, points to refuse, any outcome but counted, held, withdrawn or a repeated vote that
# is not a number of points) returns None having stored nothing, and `_vote` answers it. A
# screening already made is handed over in `request.state.screening`, so the attempt is
# counted once in the windows.


def _read_open_round(
    request: Request, voter_id: int, tx: Transaction
) -> tuple[Any, Mapping[str, Any]]:
    slug = request.path_params["slug"]
    return ballots.open_round_read(slug=slug, now=_now(request), voter_id=voter_id, memo=tx.memo)


def _fast_vote(
    request: Request, user: User, found: tuple[Any, ...] | None, tx: Transaction
) -> Response | None:
    return _fast(request, user, _open_round_found(request, found, tx), tx, cast=True)


def _fast_unvote(
    request: Request, user: User, found: tuple[Any, ...] | None, tx: Transaction
) -> Response | None:
    return _fast(request, user, _open_round_found(request, found, tx), tx, cast=False)


def _open_round_found(
    request: Request, found: tuple[Any, ...] | None, tx: Transaction
) -> OpenRound | None:
    return ballots.open_round_found(found, slug=request.path_params["slug"], memo=tx.memo)


def _fast(
    request: Request, user: User, opened: OpenRound | None, tx: Transaction, *, cast: bool
) -> Response | None:
    now = _now(request)
    idea_id: int = request.path_params["idea_id"]
    if opened is None:
        return None
    round_ = opened.round
    if round_.method == Method.RANKED or round_.countries or round_.certified_at is not None:
        return None
    weight: int | None = 1
    if not cast:
        result = _withdraw(tx, opened, user, idea_id, now)
    else:
        form = form_read(request)
        if round_.method == Method.POINTS:
            weight = points_given(form)
        if weight is None or form.get("altcha"):
            return None
        signals = vote_signals(request, round_.campaign_id)
        screening = _screening(request, opened, user, signals, solved=False)
        if screening.decision not in (Decision.COUNT, Decision.HOLD):
            request.state.screening = screening
            return None
        counted_or_held = apply(signals, screening, solved=False)
        result = _cast(tx, opened, user, idea_id, now, weight, counted_or_held, None)
        request.state.screening = screening
    done = result.outcome in (Outcome.COUNTED, Outcome.HELD, Outcome.WITHDRAWN)
    if not (done or _repeated(round_, result)):
        return None  # rolled back: `_vote` finds the same and explains it
    slug = opened.campaign.slug
    title = result.idea_title
    if title is None:  # an unvote: the title is read only now
        title = ballots.idea_title(session=tx, round_=round_, idea_id=idea_id)
    message = display.outcome_message(round_, result, title or "")
    if not is_htmx_fragment_request(request):
        return _moved_to_ballot(request, slug, idea_id, message)
    if result.tally is not None:
        count = ballots.shown_count(round_, {idea_id: result.tally}, idea_id)
    else:  # held, or a held vote taken back: the tally did not change, read it
        count = ballots.idea_count(session=tx, round_=round_, idea_id=idea_id)
    entrant = ballots.EntrantView(
        idea_id=idea_id,
        title=title or "",
        description="",
        my_weight=_my_weight(round_, result, weight),
        count=count,
        rank=None,
    )
    state = ballots.state_after(round_, result)
    return _vote_fragment(request, opened, entrant, result, state, message)


def _repeated(round_: Round, result: VoteResult) -> bool:
    """A vote repeated (a double click, a retry) that the fast path answers as `_vote` would:
    the idea's title and the ballot came with the outcome, and the voter's vote for the idea
    is the one vote (not a number of points, which `_vote` reads)."""
    return (
        result.outcome == Outcome.ALREADY
        and round_.method != Method.POINTS
        and result.idea_title is not None
        and result.votes_left is not None
    )


def refused_message() -> str:
    return _(
        "We could not accept this vote: it looks automated or comes from an account or network "
        "that has sent too many votes. If you are a person voting for yourself, try again later "
        "from your usual device, or contact the organisers."
    )


def challenge_failed_message(check: challenge.Check) -> str:
    if check == challenge.Check.EXPIRED:
        return _("The check took too long. Your browser is solving a new one.")
    return _("That check was not valid or was already used. Your browser is solving a new one.")


def _screen(
    request: Request, opened: OpenRound, *, idea_id: int, weight: int | None = None
) -> Signals | Response:
    """The fraud policy of layer 1: the signals to cast the vote with (counted or held), or
    the response that replaces the vote (a challenge to solve first, or a refusal)."""
    user = current_user(request)
    assert user is not None and user.id is not None
    round_ = opened.round
    assert round_.id is not None
    now = _now(request)
    settings = request.app.state.settings
    limiter = request.app.state.rate_limiter
    binding = challenge.Binding(round_id=round_.id, voter_id=user.id, idea_id=idea_id)
    payload = form_read(request).get("altcha")
    check: challenge.Check | None = None
    if isinstance(payload, str) and payload:
        check = challenge.verify(
            payload, secret_key=settings.secret_key, binding=binding, now=now, store=limiter
        )
    solved = check == challenge.Check.SOLVED
    signals = vote_signals(request, round_.campaign_id)
    screening = getattr(request.state, "screening", None)  # made by the fast path: counted
    if screening is None:
        screening = _screening(request, opened, user, signals, solved=solved)
    if screening.decision == Decision.REFUSE:
        log_refusal(round_=round_, voter=user, screening=screening)
        return _refused(request, opened, idea_id)
    if screening.decision == Decision.CHALLENGE:
        if idea_id == RANKING:  # a ranked ballot is held instead: see docs/fraud.md
            screening = Screening(screening.risk, Decision.HOLD, screening.policy)
        else:
            message = challenge_failed_message(check) if check is not None else None
            return _challenge(request, opened, idea_id, weight, binding, message)
    return apply(signals, screening, solved=solved)


def _screening(
    request: Request, opened: OpenRound, voter: User, signals: Signals, *, solved: bool
) -> Screening:
    """The fraud screen of one vote attempt. The fast path's round comes with the voter's
    mailbox siblings; the ranked ballot's does not, and they are read on the request's
    session."""
    return screen_vote(
        session=db(request) if opened.mailbox_siblings is None else None,
        limiter=request.app.state.rate_limiter,
        round_=opened.round,
        voter=voter,
        signals=signals,
        now=_now(request),
        solved=solved,
        count=not solved,  # the attempt was counted when the challenge was handed out
        siblings=opened.mailbox_siblings,
    )


RANKING = 0  # the "idea" a ranked ballot's challenge binding names


def _refused(request: Request, opened: OpenRound, idea_id: int) -> Response:
    slug = opened.campaign.slug
    if not is_htmx_fragment_request(request):
        anchor = "" if idea_id == RANKING else f"#idea-{idea_id}"
        moved = redirect(_ballot_url(slug) + anchor, flash=refused_message(), request=request)
        moved.headers["Vary"] = "HX-Request"
        return remember_device(request, moved)
    return remember_device(
        request,
        _fragment(
            request,
            "fraud/_refused.html",
            {"idea_id": idea_id, "message": refused_message()},
        ),
    )


def _challenge(
    request: Request,
    opened: OpenRound,
    idea_id: int,
    weight: int | None,
    binding: challenge.Binding,
    message: str | None,
) -> Response:
    """The vote waits for a proof of work: the browser solves it and posts the vote again."""
    made = challenge.create(
        secret_key=request.app.state.settings.secret_key,
        binding=binding,
        now=_now(request),
        max_number=request.app.state.settings.pow_max_number,
    )
    context: dict[str, Any] = {
        "campaign": opened.campaign,
        "round": opened.round,
        "idea_id": idea_id,
        "points": weight if opened.round.method == Method.POINTS else None,
        "challenge_json": json.dumps(made),
        "message": message,
        "ballot_url": _ballot_url(opened.campaign.slug),
    }
    if is_htmx_fragment_request(request):
        return remember_device(request, _fragment(request, "fraud/_challenge.html", context))
    return remember_device(request, render(request, "fraud/challenge.html", context))


def _my_weight(round_: Round, result: VoteResult, weight: int | None) -> int | None:
    """The voter's vote for the idea after this request, when the outcome tells it."""
    if result.outcome in (Outcome.COUNTED, Outcome.HELD):
        return weight if round_.method == Method.POINTS else 1
    if result.outcome in (Outcome.WITHDRAWN, Outcome.NOT_FOUND):
        return None
    if result.outcome == Outcome.ALREADY and round_.method != Method.POINTS:
        return 1
    return None  # refused, or ALREADY with points: look it up


def vote(request: Request) -> Response:
    return _vote(request, cast=True)


def unvote(request: Request) -> Response:
    return _vote(request, cast=False)


# --- The ranked ballot and the declared country ------------------------------------------------


def ranking(request: Request) -> Response:
    found = _find(request)
    slug = found.campaign.slug
    opened = found.open
    if opened is None:
        return _reload(request, slug, not_open_message())
    round_ = opened.round
    if round_.method != Method.RANKED:
        return _reload(request, slug, _("This round is not a ranked vote."))
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
    screened = _screen(request, opened, idea_id=RANKING)
    if isinstance(screened, Response):
        return screened
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
    response = redirect(_ballot_url(slug), flash=message, request=request)
    return remember_device(request, response)


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
            return _reload(request, campaign.slug, errors["country"])
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
    return redirect(_ballot_url(campaign.slug), flash=message, request=request)


CONSOLE_STAGE = "/brands/{brand}/campaigns/{slug}/stages/{stage_id:id}"

routes = [
    route(CONSOLE_STAGE + "/round", round_settings, access=RUN_CAMPAIGNS, methods=["GET", "POST"]),
    route("/c/{slug}/vote", ballot_page, access=PUBLIC),
    # Signed in, not "verified email": each round says whether it needs a verified email,
    # and an unverified voter gets the ballot's own explanation of what to do.
    route(
        "/c/{slug}/vote/{idea_id:id}",
        vote,
        access=SIGNED_IN,
        methods=["POST"],
        writes=True,
        fast=FastPath(_read_open_round, _fast_vote),
    ),
    route(
        "/c/{slug}/unvote/{idea_id:id}",
        unvote,
        access=SIGNED_IN,
        methods=["POST"],
        writes=True,
        fast=FastPath(_read_open_round, _fast_unvote),
    ),
    route("/c/{slug}/ranking", ranking, access=SIGNED_IN, methods=["POST"]),
    route("/c/{slug}/country", country, access=SIGNED_IN, methods=["POST"]),
]
