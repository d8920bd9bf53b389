"""A ranked ballot: the voter's whole order of preference, sent at once and replacing the last.

`POST /c/{slug}/ranking` (the ranked method's own route) reads one `<select>` per position
(keyboard and no-JS friendly); an idea at two positions is refused with the positions marked;
blanks are skipped; an empty ranking withdraws the ballot. The store replaces the voter's
ranked votes in one transaction (`store.replace_ranking`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from cocreate.accounts.models import User
from cocreate.db import begin_write
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import gettext as _
from cocreate.integers import id_or_none
from cocreate.security.access import SIGNED_IN, current_user, db, route
from cocreate.voting import answers, ballots, cast, display, store
from cocreate.voting.ballot_page import ballot, find_or_404, now_of
from cocreate.voting.methods import method_of
from cocreate.voting.methods.ranked import Ranked
from cocreate.voting.models import VoteStatus
from cocreate.voting.open_round import OpenRound
from cocreate.voting.service import (
    Outcome,
    Signals,
    VoteResult,
    eligibility_problem,
    period_of,
)
from cocreate.voting.signals import remember_device, vote_signals
from cocreate.web import redirect


def duplicate_message() -> str:
    return _("An idea appears at more than one position: choose each idea once.")


def read_ranking(values: Sequence[str], *, max_positions: int) -> list[int]:
    """The ideas chosen for positions 1..N, in order, blanks skipped; duplicates refused."""
    chosen: list[int] = []
    positions: dict[int, list[int]] = {}
    for position, raw in enumerate(values[:max_positions], start=1):
        if not raw:
            continue
        idea_id = id_or_none(raw)
        if idea_id is None:
            raise ValidationFailed({"": _("Choose the ideas from the lists.")})
        positions.setdefault(idea_id, []).append(position)
        if len(positions[idea_id]) == 1:
            chosen.append(idea_id)
    repeated = {idea: where for idea, where in positions.items() if len(where) > 1}
    if repeated:
        errors = {
            f"rank-{where[-1]}": _(
                "This idea is already at position %(first)d. Each idea can take one position."
            )
            % {"first": where[0]}
            for where in repeated.values()
        }
        errors[""] = duplicate_message()
        raise ValidationFailed(errors)
    return chosen


def submit_ranking(
    *,
    session: Session,
    open_round: OpenRound,
    voter: User,
    idea_ids: list[int],
    now: datetime,
    country: str | None = None,
    signals: Signals | None = None,
) -> VoteResult:
    """Replace the voter's ranked ballot in one transaction: the old ranked votes are
    withdrawn (kept as history), the new ones inserted with weight = rank (1 = first).

    An empty ranking withdraws the ballot. The same ranking again changes nothing (ALREADY).
    """
    round_, campaign, stage = open_round.round, open_round.campaign, open_round.stage
    assert round_.id is not None and voter.id is not None
    signals = signals or Signals()
    if not (stage.opens_at <= now < stage.closes_at) or round_.certified_at is not None:
        return VoteResult(Outcome.CLOSED)
    problem = eligibility_problem(round_, voter, now, country)
    if problem is not None:
        return VoteResult(Outcome.INELIGIBLE, reason=problem)
    if len(set(idea_ids)) != len(idea_ids):
        raise ValidationFailed({"": duplicate_message()})
    if len(idea_ids) > round_.max_votes:
        raise ValidationFailed({"": _("Rank at most %(n)d ideas.") % {"n": round_.max_votes}})
    period = period_of(round_, campaign, now)
    begin_write(session)
    if idea_ids:
        allowed = {
            i.id
            for i in ballots.entrants_among(
                session=session, round_=round_, first_round=open_round.first_round, ids=idea_ids
            )
        }
        if any(i not in allowed for i in idea_ids):
            session.rollback()
            return VoteResult(Outcome.NOT_ENTRANT)
    status = VoteStatus.HELD if signals.hold else VoteStatus.COUNTED
    changed = store.replace_ranking(
        session,
        round_id=round_.id,
        voter_id=voter.id,
        period=period,
        idea_ids=idea_ids,
        votes_allowed=round_.max_votes,
        vote={
            "status": status.value,
            "cast_at": now,
            "ip_hash": signals.ip_hash,
            "ip_prefix_hash": signals.ip_prefix_hash,
            "device_id": signals.device_id,
            "user_agent": signals.user_agent,
            "risk_score": signals.risk_score,
            "risk_signals": signals.risk_signals,
            "status_reason": signals.status_reason,
        },
    )
    left = round_.max_votes - len(idea_ids)
    if not changed:
        session.rollback()
        return VoteResult(Outcome.ALREADY, left, 0)
    session.commit()
    if not idea_ids:
        return VoteResult(Outcome.WITHDRAWN, left, 0)
    return VoteResult(Outcome.HELD if status == VoteStatus.HELD else Outcome.COUNTED, left, 0)


def ranking(request: Request) -> Response:
    found = find_or_404(request)
    slug = found.campaign.slug
    opened = found.open
    if opened is None:
        return answers.reload(request, slug, answers.not_open_message())
    round_ = opened.round
    if not isinstance(method_of(round_), Ranked):
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
        attempt=_attempt(request, user),
        guard=answers.guard_of(request),
        idea_id=cast.RANKING,
    )
    if isinstance(screened, cast.Refused):
        return answers.refused(request, slug, cast.RANKING)
    assert isinstance(screened, Signals)  # a ranked ballot is held, never challenged
    try:
        idea_ids = read_ranking(values, max_positions=round_.max_votes)
        result = submit_ranking(
            session=session,
            open_round=opened,
            voter=user,
            idea_ids=idea_ids,
            now=now_of(request),
            country=country,
            signals=screened,
        )
    except ValidationFailed as exc:
        session.rollback()
        return ballot(request, opened, errors=exc.errors, sent=values, status_code=400)
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


def _attempt(request: Request, user: User) -> cast.Attempt:
    solution = form_read(request).get("altcha")
    return cast.Attempt(
        slug=request.path_params["slug"],
        idea_id=cast.RANKING,
        voter=user,
        now=now_of(request),
        solution=solution if isinstance(solution, str) and solution else None,
        signals=functools.partial(vote_signals, request),
    )


routes = [route("/c/{slug}/ranking", ranking, access=SIGNED_IN, methods=["POST"])]
