"""A head-to-head round's ballot (the `head_to_head` method's routes and pair): which ideas
the chooser offers, the voter's next pair signed into the form, and one choice posted.

`POST /c/{slug}/choice`: signed in (the route), eligible (`ballots.voter_problem`, the
rule of every ballot), the round open, the pair one the server offered this voter
(`offer.read_pair`), within the round's choices a minute, screened by fraud layer 1
(`cast.screen`: refused, or held for review instead of a challenge, as a ranked ballot),
stored with its signals (`store.record_choice`, idempotent per voter and pair). htmx gets
the next pair's block; a plain form a redirect back to the ballot (403/400/429 pages show
the ballot with the reason).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import Response

from cocreate.db import begin_write
from cocreate.forms import Form, form_read
from cocreate.headtohead import chooser, offer, store
from cocreate.headtohead.models import ChoiceStatus
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.ideas.page_helpers import image_url
from cocreate.security.access import current_user, db
from cocreate.security.ratelimit import Limit
from cocreate.voting import answers, ballots, cast, display
from cocreate.voting.ballot_page import ballot, find_or_404, now_of
from cocreate.voting.entrants import on_ballot
from cocreate.voting.methods.head_to_head import CHOICES, CODES, STATS, TEMPLATE, HeadToHead
from cocreate.voting.signals import remember_device, vote_signals
from cocreate.web import is_htmx_fragment_request, redirect

if TYPE_CHECKING:
    from cocreate.accounts.models import User
    from cocreate.voting.open_round import OpenRound
    from cocreate.voting.service import Signals


# --- The ballot: which ideas the chooser offers, and the voter's next pair --------------------

ENTER_EVERY = 30  # seconds: the ballot pages of a round bring its ideas up to date this often


def enter_entrants(session: Session, opened: OpenRound) -> None:
    """Offer the chooser exactly the ideas that may be voted for now (`on_ballot`): new ones
    enter, hidden or rejected ones are withdrawn (their statistics stay). Two reads of every
    idea of the round (0.3 s at 100,000): done by a ballot page at most every `ENTER_EVERY`
    seconds per round, on any worker sharing the rate-limit store. Meanwhile a new idea
    waits, and a choice about an idea that left is refused with a new pair."""
    round_ = opened.round
    assert round_.id is not None
    votable = set(
        session.exec(select(Idea.id).where(on_ballot(round_, first_round=opened.first_round)))
    )
    rows = session.execute(
        core_select(STATS.c.idea_id, STATS.c.active).where(STATS.c.round_id == round_.id)
    ).all()
    active = {idea_id for idea_id, is_active in rows if is_active}
    enter, leave = votable - active, active - votable
    if enter or leave:
        begin_write(session)
        rng = random.Random()
        store.enter_ideas(session=session, round_id=round_.id, idea_ids=enter, rng=rng)  # type: ignore[arg-type]
        store.withdraw_ideas(session=session, round_id=round_.id, idea_ids=leave)
        session.commit()


def ballot_pair(request: Request, opened: OpenRound, voter: User) -> dict[str, Any]:
    """The ballot page's pair: none for a voter who may not vote (the page says why)."""
    session = db(request)
    problem, _country = ballots.voter_problem(
        session=session, round_=opened.round, voter=voter, now=now_of(request)
    )
    if problem is not None or voter.id is None:
        return {}
    limiter = answers.guard_of(request).limiter
    if limiter.first_use(f"head-to-head-entrants:{opened.round.id}", ENTER_EVERY):
        enter_entrants(session, opened)
    return pair_context(request, opened, voter.id)


@dataclass(frozen=True)
class Side:
    idea_id: int
    title: str
    description: str
    image: str | None  # the idea's thumbnail, or None: a placeholder


def pair_context(
    request: Request, opened: OpenRound, voter_id: int, message: str = ""
) -> dict[str, Any]:
    """The voter's next pair, signed into the form (`pair`: None when none is left)."""
    session, round_ = db(request), opened.round
    assert round_.id is not None
    found = chooser.next_pair(
        session=session, round_id=round_.id, voter_id=voter_id, rng=random.Random()
    )
    sides: list[Side] = []
    token = ""
    if found is not None:
        ideas = {
            i.id: i
            for i in session.exec(
                select(Idea).where(col(Idea.id).in_([found.left_idea_id, found.right_idea_id]))
            )
        }
        storage = request.app.state.storage
        for idea_id in (found.left_idea_id, found.right_idea_id):
            idea = ideas[idea_id]
            picture = image_url(storage, idea, "thumb")
            sides.append(Side(idea_id, idea.title, idea.description, picture))
        secret = request.app.state.settings.secret_key
        token = offer.sign_pair(
            secret_key=secret, round_id=round_.id, voter_id=voter_id, pair=found
        )
    judged = session.execute(
        core_select(func.count()).where(
            CHOICES.c.round_id == round_.id, CHOICES.c.voter_id == voter_id
        )
    ).scalar_one()
    return {"pair": sides or None, "pair_token": token, "judged": judged, "h2h_message": message}


# --- One choice ----------------------------------------------------------------------------------


def _fragment_or_page(
    request: Request, opened: OpenRound, voter_id: int, message: str, status: int
) -> Response:
    """The next pair with `message`: the pair's block for htmx (always 200, so htmx swaps
    it), else the ballot page (with `status`) or a redirect back to it. A voter who may not
    vote gets no pair: the ballot (htmx: reloaded) says why."""
    response: Response
    if status == 403 and is_htmx_fragment_request(request):  # no pair: the ballot says why
        return answers.reload(request, opened.campaign.slug, message)
    if is_htmx_fragment_request(request):
        context = {
            "campaign": opened.campaign,
            "round": opened.round,
            "h2h_part": "pair",
            **pair_context(request, opened, voter_id, message),
        }
        response = answers.fragment(request, TEMPLATE, context)
    elif status == 303:
        response = redirect(
            answers.ballot_url(opened.campaign.slug) + "#battle", flash=message, request=request
        )
        response.headers["Vary"] = "HX-Request"
    else:
        response = ballot(request, opened, errors={"h2h": message}, status_code=status)
    return remember_device(request, response)


def choose(request: Request) -> Response:
    found = find_or_404(request)
    slug = found.campaign.slug
    opened = found.open
    if opened is None:
        return answers.reload(request, slug, answers.not_open_message())
    round_ = opened.round
    assert round_.id is not None
    if not isinstance(round_.voting_method, HeadToHead):
        return answers.reload(request, slug, _("This round is not a head-to-head round."))
    user = current_user(request)
    assert user is not None and user.id is not None
    session, now = db(request), now_of(request)
    problem, _country = ballots.voter_problem(session=session, round_=round_, voter=user, now=now)
    if problem is not None:
        return _fragment_or_page(request, opened, user.id, display.ineligible_message(problem), 403)
    form = Form(form_read(request))
    pair = offer.read_pair(
        secret_key=request.app.state.settings.secret_key,
        token=form.raw("pair")[:500],
        round_id=round_.id,
        voter_id=user.id,
    )
    outcome = form.raw("outcome")
    if pair is None or outcome not in CODES:
        message = _("This pair was not offered to you, or it is too old: here is a new one.")
        return _fragment_or_page(request, opened, user.id, message, 400)
    guard = answers.guard_of(request)
    limit = Limit("head-to-head-choice", f"{round_.max_votes}/minute")
    if not guard.limiter.hit(limit, f"{round_.id}:{user.id}"):
        message = _("That was quick! Take a few seconds to read the ideas, then choose again.")
        return _fragment_or_page(request, opened, user.id, message, 429)
    attempt = cast.Attempt(
        slug=slug,
        idea_id=cast.RANKING,
        voter=user,
        now=now,
        signals=functools.partial(vote_signals, request),
    )
    screened = cast.screen(
        session=session, opened=opened, attempt=attempt, guard=guard, idea_id=cast.RANKING
    )
    if isinstance(screened, cast.Refused):
        return answers.refused(request, slug, cast.RANKING)
    assert not isinstance(screened, cast.Challenged)  # held instead, as a ranked ballot
    begin_write(session)  # SQLite: a writer from here (the reads above were a snapshot)
    ids = [pair.left_idea_id, pair.right_idea_id]
    if (
        len(
            ballots.entrants_among(
                session=session, round_=round_, first_round=opened.first_round, ids=ids
            )
        )
        != 2
    ):
        recorded = store.Recorded.NOT_IN_ROUND
    else:
        recorded = _record(session, round_.id, user.id, pair, outcome, now, screened)
    session.commit()
    messages = {
        store.Recorded.RECORDED: _("Your choice is recorded."),
        store.Recorded.ALREADY_JUDGED: _("You had already judged this pair: here is another."),
        store.Recorded.NOT_IN_ROUND: _("One of these ideas left the round: here is another pair."),
    }
    if recorded == store.Recorded.RECORDED and screened.hold:
        message = _("Your choice is recorded. It will be checked before it counts.")
    else:
        message = messages.get(recorded, messages[store.Recorded.NOT_IN_ROUND])
    return _fragment_or_page(request, opened, user.id, message, 303)


def _record(
    session: Session,
    round_id: int,
    voter_id: int,
    pair: chooser.Pair,
    outcome: str,
    now: datetime,
    signals: Signals,
) -> store.Recorded:
    return store.record_choice(
        session=session,
        round_id=round_id,
        voter_id=voter_id,
        left_idea_id=pair.left_idea_id,
        right_idea_id=pair.right_idea_id,
        outcome=outcome,
        now=now,
        status=ChoiceStatus.HELD if signals.hold else ChoiceStatus.COUNTED,
        status_reason=signals.status_reason,
        signals=store.ChoiceSignals(
            ip_hash=signals.ip_hash,
            ip_prefix_hash=signals.ip_prefix_hash,
            device_id=signals.device_id,
            user_agent=signals.user_agent,
            risk_score=signals.risk_score,
            risk_signals=signals.risk_signals,
        ),
    )
