"""What a vote attempt answers: the use case's outcome (`cast.py`) as HTTP.

An htmx request gets the idea's vote block (`voting/_vote_response.html`: the ballot's own,
swapped in place) with the ballot's counter out of band; a plain form post gets a redirect
back to the ballot, at the idea, with the message. A ballot that changed under the voter
(the round closed, the idea left it) is shown anew; a proof of work to solve first is a
fragment or a page of its own; a refusal says why.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from cocreate.fraud import challenge
from cocreate.i18n import gettext as _
from cocreate.security.csrf import csrf_token
from cocreate.voting import display
from cocreate.voting.cast import (
    RANKING,
    Answer,
    Challenged,
    Counted,
    Guard,
    Held,
    Reason,
    Refused,
    VoteBlock,
    Withdrawn,
)
from cocreate.voting.methods import method_of
from cocreate.voting.open_round import OpenRound
from cocreate.voting.signals import remember_device
from cocreate.web import add_flash, is_htmx_fragment_request, redirect, render


def guard_of(request: Request) -> Guard:
    """What the fraud screen needs of the platform."""
    settings = request.app.state.settings
    return Guard(
        limiter=request.app.state.rate_limiter,
        secret_key=settings.secret_key,
        pow_max_number=settings.pow_max_number,
    )


def ballot_url(slug: str) -> str:
    return f"/c/{slug}/vote"


def not_open_message() -> str:
    return _("This voting round is not open, so votes are not accepted.")


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


def answer(request: Request, outcome: Answer) -> Response:
    """The response to a vote or an unvote."""
    slug = request.path_params["slug"]
    match outcome:
        case Counted(opened, block) | Held(opened, block) | Withdrawn(opened, block):
            return _with_block(request, opened, block, None)
        case Challenged():
            return challenge_answer(request, outcome)
        case Refused(Reason.NO_CAMPAIGN):
            raise HTTPException(404)
        case Refused(Reason.NOT_OPEN):
            return reload(request, slug, not_open_message())
        case Refused(Reason.OTHER_BALLOT, opened) if opened is not None:
            return reload(request, slug, method_of(opened.round).other_ballot_message())
        case Refused(Reason.NOT_ENTRANT):
            return reload(request, slug, _("This idea is not part of this voting round."))
        case Refused(Reason.RISK, opened):
            return refused(request, slug, request.path_params["idea_id"], opened)
        case Refused(reason, opened, block) if opened is not None and block is not None:
            return _with_block(request, opened, block, reason)
    raise AssertionError(f"no answer for {outcome}")


def _with_block(
    request: Request, opened: OpenRound, block: VoteBlock, reason: Reason | None
) -> Response:
    round_, slug = opened.round, opened.campaign.slug
    if reason == Reason.POINTS:
        message = _("Enter a number of points from 1 to %(n)d.") % {"n": round_.points_budget}
    else:
        message = display.outcome_message(round_, block.result, block.entrant.title)
    idea_id = block.entrant.idea_id
    if not is_htmx_fragment_request(request):
        return moved_to_ballot(request, slug, idea_id, message)
    response = fragment(
        request,
        "voting/_vote_response.html",
        {
            "campaign": opened.campaign,
            "round": round_,
            "entrant": block.entrant,
            "state": block.state,
            "counter": display.counter_text(round_, block.state),
            "can_vote": True,
            "message": message,
            "refused": reason is not None,
        },
    )
    # The other ideas' vote buttons go off at 0 votes left and on again after a take-back
    # (static/app.js); without JS the ballot page itself shows them so.
    out = display.out_of_votes(round_, block.state)
    response.headers["HX-Trigger-After-Swap"] = json.dumps({"ballot-votes": {"out": out}})
    return remember_device(request, response)


def fragment(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """A piece of the ballot for htmx, rendered without the page's context (navigation,
    flashes): the fragment uses none of it, and the navigation would cost a query."""
    page = request.app.state.templates.get_template(template)
    body = page.render({**context, "csrf_token": lambda: csrf_token(request)})
    return HTMLResponse(body, headers={"Vary": "HX-Request"})


def reload(request: Request, slug: str, message: str) -> Response:
    """The ballot changed under the voter (the round closed, the idea left it): show it anew,
    with the reason, whether the request came from htmx or a plain form."""
    if is_htmx_fragment_request(request):
        add_flash(request, message)
        return Response(
            status_code=200, headers={"HX-Redirect": ballot_url(slug), "Vary": "HX-Request"}
        )
    response = redirect(ballot_url(slug), flash=message, request=request)
    response.headers["Vary"] = "HX-Request"
    return response


def moved_to_ballot(request: Request, slug: str, idea_id: int, message: str) -> Response:
    """A vote without JavaScript: back to the ballot, at the idea, with what happened."""
    moved = redirect(f"{ballot_url(slug)}#idea-{idea_id}", flash=message, request=request)
    moved.headers["Vary"] = "HX-Request"
    return remember_device(request, moved)


def refused(request: Request, slug: str, idea_id: int, opened: OpenRound | None = None) -> Response:
    """The fraud policy refused the attempt: nothing was stored. The htmx answer keeps a
    usable vote button (a person who clicked fast may simply try again), or, for a ranking,
    a way back to the ballot."""
    if not is_htmx_fragment_request(request):
        anchor = "" if idea_id == RANKING else f"#idea-{idea_id}"
        moved = redirect(ballot_url(slug) + anchor, flash=refused_message(), request=request)
        moved.headers["Vary"] = "HX-Request"
        return remember_device(request, moved)
    return remember_device(
        request,
        fragment(
            request,
            "fraud/_refused.html",
            {
                "idea_id": idea_id,
                "slug": slug,
                "message": refused_message(),
                "ranking": idea_id == RANKING,
                "points_budget": (
                    opened.round.points_budget
                    if opened is not None and method_of(opened.round).gives_points
                    else None
                ),
            },
        ),
    )


def challenge_answer(request: Request, outcome: Challenged) -> Response:
    """The vote waits for a proof of work: the browser solves it and posts the vote again."""
    opened = outcome.opened
    context: dict[str, Any] = {
        "campaign": opened.campaign,
        "round": opened.round,
        "idea_id": outcome.idea_id,
        "points": outcome.points if method_of(opened.round).gives_points else None,
        "challenge_json": json.dumps(outcome.challenge),
        "message": challenge_failed_message(outcome.failed) if outcome.failed else None,
        "ballot_url": ballot_url(opened.campaign.slug),
    }
    if is_htmx_fragment_request(request):
        return remember_device(request, fragment(request, "fraud/_challenge.html", context))
    return remember_device(request, render(request, "fraud/challenge.html", context))
