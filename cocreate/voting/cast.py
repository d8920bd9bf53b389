"""Casting a vote, from the voter's click to what happened: one use case, one pipeline.

`cast` finds the campaign's open round, reads what the voter gave (a vote, or points),
screens the attempt for fraud (layer 1: a proof-of-work challenge or a refusal when the risk
is high, docs/fraud.md), casts the vote through `service.cast_vote` and the vote store, and
says what happened: `Counted`, `Held` (kept for review), `Challenged` (a proof of work to
solve first) or `Refused` with its reason. `withdraw` takes a vote back: `Withdrawn` or
`Refused`. Routes only turn these into a page, a redirect or an htmx fragment
(`voting/answers.py`); nothing here knows HTTP.

What the answer shows of the idea and the ballot afterwards (`VoteBlock`) comes from what
the store returned (votes left, the idea's new count) whenever it can, so a usual vote reads
nothing more.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from cocreate.fraud import challenge
from cocreate.fraud.challenge import Check
from cocreate.fraud.policy import Decision
from cocreate.fraud.screen import Screening, apply, log_refusal, screen_vote
from cocreate.security.ratelimit import RateLimiter
from cocreate.voting import ballots
from cocreate.voting.ballots import BallotState, EntrantView
from cocreate.voting.methods import method_of
from cocreate.voting.open_round import CampaignRound, OpenRound, RoundLike

if TYPE_CHECKING:
    from cocreate.voting.open_round import Voter
from cocreate.voting.service import Outcome, Signals, VoteResult, cast_vote, withdraw_vote

RANKING = 0  # the "idea" a ranked ballot's challenge binding names


class Reason(enum.StrEnum):
    NO_CAMPAIGN = "no_campaign"  # no published campaign at this address
    NOT_OPEN = "not_open"  # no voting round is open, or it closed meanwhile
    OTHER_BALLOT = "other_ballot"  # the round's method takes its ballot otherwise (ranked)
    NOT_ENTRANT = "not_entrant"  # the idea is not part of the round
    RISK = "risk"  # the fraud policy refused the attempt
    # With the idea's vote block:
    POINTS = "points"  # the points given are not a whole number from 1 (a points round)
    ALREADY = "already"  # this vote exists already (a double click, a retry)
    NO_VOTES_LEFT = "no_votes_left"
    INELIGIBLE = "ineligible"  # `block.result.reason` says which rule
    NOT_FOUND = "not_found"  # no vote to take back


@dataclass(frozen=True)
class Attempt:
    """A voter's click, as the use case needs it: nothing of HTTP."""

    slug: str
    idea_id: int
    voter: Voter
    now: datetime
    points: int | None = None  # the points given (a points round); None: none or not a number
    solution: str | None = None  # a proof of work the browser solved for this vote
    signals: Callable[[int], Signals] = lambda campaign_id: Signals()  # salted per campaign


@dataclass(frozen=True)
class Guard:
    """What the fraud screen needs of the platform."""

    limiter: RateLimiter
    secret_key: str
    pow_max_number: int


@dataclass(frozen=True)
class VoteBlock:
    """The idea's vote block and the ballot's counter after the attempt."""

    entrant: EntrantView
    state: BallotState
    result: VoteResult


@dataclass(frozen=True)
class Counted:
    opened: OpenRound
    block: VoteBlock


@dataclass(frozen=True)
class Held:
    opened: OpenRound
    block: VoteBlock


@dataclass(frozen=True)
class Withdrawn:
    opened: OpenRound
    block: VoteBlock


@dataclass(frozen=True)
class Challenged:
    opened: OpenRound
    idea_id: int
    points: int | None  # given again with the solution
    challenge: dict[str, Any]
    failed: Check | None  # the solution sent with this attempt, if it failed


@dataclass(frozen=True)
class Refused:
    reason: Reason
    opened: OpenRound | None = None
    block: VoteBlock | None = None


Answer = Counted | Held | Withdrawn | Challenged | Refused  # what an attempt did


def cast(
    *, session: Session, attempt: Attempt, guard: Guard, found: CampaignRound | None
) -> Answer:
    """One vote attempt, start to end. Idempotent: the same vote again is `Refused(ALREADY)`.
    `found`: the campaign and its open round, read with the voter's mailbox siblings (for the
    fraud screen) and with the signed-in check (`open_round.read_for_vote`)."""
    voter = attempt.voter
    assert voter.id is not None
    if found is None:
        return Refused(Reason.NO_CAMPAIGN)
    opened = found.open
    if opened is None:
        return Refused(Reason.NOT_OPEN)
    round_ = opened.round
    method = method_of(round_)
    if not method.votes_on_ideas:
        return Refused(Reason.OTHER_BALLOT, opened)
    weight = method.weight(attempt.points)
    if weight is None:
        result = VoteResult(Outcome.NO_VOTES_LEFT)
        return _answered(session, opened, attempt, result, weight, Reason.POINTS)
    country = None
    if round_.countries:
        country = ballots.declared_country(
            session=session, campaign_id=round_.campaign_id, voter_id=voter.id
        )
    screened = screen(
        session=session,
        opened=opened,
        attempt=attempt,
        guard=guard,
        idea_id=attempt.idea_id,
        points=weight if method.gives_points else None,
    )
    if not isinstance(screened, Signals):
        return screened
    result = cast_vote(
        session=session,
        round_=round_,
        campaign=opened.campaign,
        stage=opened.stage,
        voter=voter,
        idea_id=attempt.idea_id,
        now=attempt.now,
        weight=weight,
        country=country,
        signals=screened,
        first_round=opened.first_round,
    )
    if result.reason == "country" and country is None:
        result = VoteResult(Outcome.INELIGIBLE, reason="no_country")
    return _answered(session, opened, attempt, result, weight)


def withdraw(*, session: Session, attempt: Attempt, found: CampaignRound | None) -> Answer:
    """Take back the voter's vote for the idea (the row stays, marked withdrawn)."""
    if found is None:
        return Refused(Reason.NO_CAMPAIGN)
    opened = found.open
    if opened is None:
        return Refused(Reason.NOT_OPEN)
    if not method_of(opened.round).votes_on_ideas:
        return Refused(Reason.OTHER_BALLOT, opened)
    result = withdraw_vote(
        session=session,
        round_=opened.round,
        campaign=opened.campaign,
        stage=opened.stage,
        voter=attempt.voter,
        idea_id=attempt.idea_id,
        now=attempt.now,
    )
    return _answered(session, opened, attempt, result, 1)


def screen(
    *,
    session: Session,
    opened: OpenRound,
    attempt: Attempt,
    guard: Guard,
    idea_id: int,
    points: int | None = None,
) -> Signals | Challenged | Refused:
    """The fraud policy of layer 1: the signals to cast the vote with (counted or held), or
    what replaces the vote: a challenge to solve first (`points`: sent again with the
    solution), or a refusal. `idea_id`: the vote's, or `RANKING` for a ranked ballot, which
    is held instead of challenged (docs/fraud.md)."""
    voter, round_ = attempt.voter, opened.round
    assert round_.id is not None and voter.id is not None
    binding = challenge.Binding(round_id=round_.id, voter_id=voter.id, idea_id=idea_id)
    check: Check | None = None
    if attempt.solution:
        check = challenge.verify(
            attempt.solution,
            secret_key=guard.secret_key,
            binding=binding,
            now=attempt.now,
            store=guard.limiter,
        )
    solved = check == Check.SOLVED
    signals = attempt.signals(round_.campaign_id)
    screening = screen_vote(
        session=session if opened.mailbox_siblings is None else None,
        limiter=guard.limiter,
        round_=round_,
        voter=voter,
        signals=signals,
        now=attempt.now,
        solved=solved,
        count=not solved,  # the attempt was counted when the challenge was handed out
        siblings=opened.mailbox_siblings,
        pace=method_of(round_).pace(round_),
    )
    if screening.decision == Decision.REFUSE:
        log_refusal(round_=round_, voter=voter, screening=screening)
        return Refused(Reason.RISK, opened)
    if screening.decision == Decision.CHALLENGE:
        if idea_id != RANKING:
            made = challenge.create(
                secret_key=guard.secret_key,
                binding=binding,
                now=attempt.now,
                max_number=guard.pow_max_number,
            )
            return Challenged(opened, idea_id, points, made, check)
        screening = Screening(screening.risk, Decision.HOLD, screening.policy)
    return apply(signals, screening, solved=solved)


_REFUSALS = {
    Outcome.ALREADY: Reason.ALREADY,
    Outcome.NO_VOTES_LEFT: Reason.NO_VOTES_LEFT,
    Outcome.INELIGIBLE: Reason.INELIGIBLE,
    Outcome.NOT_FOUND: Reason.NOT_FOUND,
}


def _answered(
    session: Session,
    opened: OpenRound,
    attempt: Attempt,
    result: VoteResult,
    weight: int | None,
    reason: Reason | None = None,
) -> Answer:
    """What the attempt did, with the idea's vote block afterwards."""
    if result.outcome == Outcome.CLOSED:
        return Refused(Reason.NOT_OPEN, opened)
    round_ = opened.round
    title = result.idea_title
    if title is None and result.outcome != Outcome.NOT_ENTRANT:
        title = ballots.idea_title(session=session, round_=round_, idea_id=attempt.idea_id)
    if title is None:
        return Refused(Reason.NOT_ENTRANT, opened)
    block = _block(session, opened, attempt, result, weight, title)
    if reason is not None:
        return Refused(reason, opened, block)
    if result.outcome == Outcome.COUNTED:
        return Counted(opened, block)
    if result.outcome == Outcome.HELD:
        return Held(opened, block)
    if result.outcome == Outcome.WITHDRAWN:
        return Withdrawn(opened, block)
    return Refused(_REFUSALS[result.outcome], opened, block)


def _block(
    session: Session,
    opened: OpenRound,
    attempt: Attempt,
    result: VoteResult,
    weight: int | None,
    title: str,
) -> VoteBlock:
    """The idea's vote block after the attempt: from what the store returned, reading only
    what it did not say (a refused vote's ballot, a held vote's count)."""
    round_, idea_id, voter_id = opened.round, attempt.idea_id, attempt.voter.id
    assert voter_id is not None
    my_weight = _my_weight(round_, result, weight)
    if my_weight is None and result.outcome in (Outcome.ALREADY, Outcome.NO_VOTES_LEFT):
        # Refused or repeated: show the vote the voter has for it, if any.
        my_weight = ballots.my_weight(
            session=session, open_round=opened, voter_id=voter_id, idea_id=idea_id, now=attempt.now
        )
    if result.votes_left is None:  # refused before reading the ballot: read it now
        state = ballots.ballot_state(
            session=session, open_round=opened, voter_id=voter_id, now=attempt.now
        )
    else:
        state = ballots.state_after(round_, result)
    if result.tally is not None:  # counted by this very attempt: no query
        count = ballots.shown_count(round_, {idea_id: result.tally}, idea_id)
    else:  # held, refused, or a held vote taken back: the tally did not change
        count = ballots.idea_count(session=session, round_=round_, idea_id=idea_id)
    entrant = EntrantView(
        idea_id=idea_id, title=title, description="", my_weight=my_weight, count=count, rank=None
    )
    return VoteBlock(entrant, state, result)


def _my_weight(round_: RoundLike, result: VoteResult, weight: int | None) -> int | None:
    """The voter's vote for the idea after this attempt, when the outcome tells it."""
    if result.outcome in (Outcome.COUNTED, Outcome.HELD):
        return weight if method_of(round_).gives_points else 1
    if result.outcome in (Outcome.WITHDRAWN, Outcome.NOT_FOUND):
        return None
    if result.outcome == Outcome.ALREADY and not method_of(round_).gives_points:
        return 1
    return None  # refused, or ALREADY with points: look it up
