"""What a voting method is: the one protocol every plug-in implements (`VotingMethod`).

A round names its method (`rounds.method`); everything that depends on it asks the method,
found in the registry (`methods.method_named`): the round form (its settings and their
rules), the ballot (its allowance, what one vote records, its template, the voter's
explanation and counter), the count (the tally, how results are ordered and shown) and the
log (the certified digest, the CSV and the fraud loader read the method's log). Nothing
else says `if method == ...`: a new method is one module, one template and one test file.

`VotingMethod` gives what the methods whose ballot is votes on ideas share (the votes table,
a vote button per idea); a method with another ballot overrides what differs: a ranked
ballot submits a whole order (`ranked.py`), a head-to-head round would submit a choice
between two ideas it picked (its own routes and template, its next pair chosen by the
method, its choices logged in a table of its own, its tally an estimate with an interval).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from sqlmodel import Session
from starlette.requests import Request
from starlette.routing import BaseRoute

from cocreate.forms import Form
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.voting.methods.standings import Standing, rank

if TYPE_CHECKING:
    from cocreate.fraud.loader import LoadedVotes
    from cocreate.ideas.models import Idea
    from cocreate.voting.ballots import BallotState
    from cocreate.voting.forms import RoundInput
    from cocreate.voting.open_round import OpenRound, RoundLike
    from cocreate.voting.service import VoteResult

TieBreak = Callable[[int], tuple[object, ...]] | None


@dataclass(frozen=True)
class Tally:
    method: str
    standings: list[Standing]  # in published order: position = index + 1
    votes: dict[int, int]  # counted votes (ranked: ballots that list the idea)
    points: dict[int, int]  # sum of weights (points; ranked: sum of ranks)


@dataclass
class VoteCount:
    """Counts votes one at a time (one streamed pass over the log feeds it): each idea's
    counted votes and the sum of their weights; `score` picks which one ranks."""

    method: str
    score: Callable[[int, int], int]  # (votes, points) -> score
    votes: Counter[int] = field(default_factory=Counter)
    points: Counter[int] = field(default_factory=Counter)

    def add(self, voter_id: int, idea_id: int, period: int, weight: int) -> None:
        """One counted, live vote."""
        self.votes[idea_id] += 1
        self.points[idea_id] += weight

    def result(self, entrants: Iterable[int], *, tie_break: TieBreak = None) -> Tally:
        candidates = set(entrants) | set(self.votes)
        scores = {i: self.score(self.votes[i], self.points[i]) for i in self.votes}
        standings = rank(scores, candidates, tie_break=tie_break)
        return Tally(self.method, standings, dict(self.votes), dict(self.points))


@dataclass(frozen=True)
class Column:
    """A column of the results table: its header and the row's attribute it shows."""

    header: str
    value: str  # "votes", "points" or "score"


class VotingMethod:
    """One voting method. Subclasses set `name` and override what differs."""

    name: ClassVar[str]
    # The round settings the method uses, among "max_votes" and "points_budget".
    settings: ClassVar[tuple[str, ...]] = ("max_votes",)
    # A vote on one idea at a time (the ballot's vote buttons, /vote and /unvote).
    votes_on_ideas: ClassVar[bool] = True
    # A vote gives a number of points that the voter types (the vote block asks for it).
    gives_points: ClassVar[bool] = False
    # The tally's count that ranks ideas while the round is open: "votes" or "points".
    live_score: ClassVar[str] = "votes"
    # The ballot's part of the ballot page (`voting/ballot.html` includes it).
    ballot_template: ClassVar[str] = "voting/_ballot_ideas.html"
    # The ballot page lists every idea of the round (a head-to-head ballot shows two).
    lists_entrants: ClassVar[bool] = True

    def routes(self) -> Sequence[BaseRoute]:
        """Routes of the method's own (a ballot sent otherwise than vote by vote)."""
        return ()

    # --- The round's settings (console) ---------------------------------------------------

    def label(self) -> str:
        """The method's name, as the console lists a round's rules."""
        raise NotImplementedError

    def choice(self) -> str:
        """The method as an option of the round settings form."""
        raise NotImplementedError

    def max_votes_hint(self) -> str:
        """What "Ideas per ballot (N)" means for this method (the form's hint)."""
        return ""

    def read_settings(self, form: Form, max_votes: int) -> tuple[int, int]:
        """(max_votes, points_budget) from the form; problems go into `form.errors`."""
        return max_votes, 0

    def settings_problems(self, data: RoundInput) -> dict[str, str]:
        """Rules on the other settings, by field: checked by the form and again on saving."""
        return {}

    # --- The voter's ballot -----------------------------------------------------------------

    def allowance(self, round_: RoundLike) -> tuple[int, int]:
        """(votes, points) of a fresh ballot."""
        return round_.max_votes, 0

    def weight(self, points: int | None) -> int | None:
        """What one vote records, from the points the voter gave (None: not a whole number
        from 1); None refuses the vote."""
        return 1

    def points_spent(self, weight: int) -> int:
        """The points a vote of `weight` takes from its ballot (and a withdrawal gives back)."""
        return 0

    def explain(self, round_: RoundLike) -> str:
        """What the voter is asked to do, at the top of the ballot."""
        raise NotImplementedError

    def pace(self, round_: RoundLike) -> float:
        """How many of this method's ballot actions a person makes where a ballot of votes
        has one: fraud layer 1's windows allow that many times their usual counts before
        they call an account, a device or a network too fast (`fraud.risk.RiskInputs`)."""
        return 1.0

    def frequency_text(self, round_: RoundLike) -> str | None:
        """How often the voter may vote, when the method says it otherwise than "once in
        this round" / "every day" (`display.frequency_explained`)."""
        return None

    def counter(self, round_: RoundLike, state: BallotState) -> str:
        """What the voter has left ("Votes left: 3 of 5")."""
        values = {"num": state.votes_left, "total": state.max_votes}
        if round_.frequency == "daily":
            return _("Votes left today: %(num)d of %(total)d") % values
        return _("Votes left: %(num)d of %(total)d") % values

    def counted_message(self, title: str) -> str:
        return _("Your vote for “%(title)s” is counted.") % {"title": title}

    def no_votes_left_message(self, round_: RoundLike, result: VoteResult) -> str:
        if round_.frequency == "daily":
            return _("You have no votes left today. Come back tomorrow for new votes.")
        return _("You have no votes left. Take back a vote to vote for another idea.")

    def other_ballot_message(self) -> str:
        """Why a vote on one idea is refused when the method takes its ballot otherwise."""
        return _("This round takes its ballot in another way: see the ballot page.")

    def ballot_context(
        self, opened: OpenRound, ideas: Sequence[Idea], my_votes: dict[int, int], sent: Any
    ) -> dict[str, Any]:
        """What the method's ballot template needs beyond the ballot page's own values
        (`ideas`: the round's, by id; `my_votes`: the voter's, idea -> weight; `sent`: what
        the voter sent, when the ballot comes back with problems)."""
        return {}

    def ballot_extras(self, request: Request, opened: OpenRound) -> dict[str, Any]:
        """What the ballot template needs that only the request gives (the voter, the
        platform's secret, the session): a head-to-head round's next pair, signed."""
        return {}

    # --- The count -------------------------------------------------------------------------

    def tally(self) -> VoteCount:
        """A new count of the round's counted votes."""
        return VoteCount(self.name, self.score)

    def score(self, votes: int, points: int) -> int:
        """An idea's score from its counted votes and points (the live order, the count)."""
        return points if self.live_score == "points" else votes

    def score_expression(self, votes: Any, points: Any) -> Any:
        """`score` in SQL, over an idea's tally columns (the live results page)."""
        return points if self.live_score == "points" else votes

    def rule(self, round_: RoundLike) -> str:
        """How the round is counted, on the results page."""
        return _("Ideas are ordered by the votes they received.")

    def results_columns(self, showing: str) -> list[Column]:
        """The results table's columns of counts (`showing`: "live" or "certified")."""
        return [Column(_("Votes"), "votes")]

    def total_text(self, votes: int, points: int) -> str:
        return ngettext("%(num)d vote counted in all.", "%(num)d votes counted in all.", votes) % {
            "num": votes
        }

    def certified(self, session: Session, round_id: int, tally: Tally) -> None:
        """Store what the certified results show beyond the standings (nothing here)."""

    def results_extras(
        self, session: Session, round_: RoundLike, showing: str = "certified"
    ) -> dict[str, Any]:
        """What the results page shows beyond the standings (`showing`: "certified", "live"
        or "ranks"). A `results_template` in it replaces the standings table."""
        return {}

    # --- The log ---------------------------------------------------------------------------

    def vote_log(self, session: Session, round_id: int) -> Iterator[Sequence[Any]]:
        """The round's log, every entry in id order, for the certified digest and the CSV:
        here the votes table (`vote_log.stream_log`)."""
        from cocreate.voting.vote_log import stream_log

        return stream_log(session=session, round_id=round_id)

    def log_header(self) -> str:
        """The first line of the log's CSV (the column names of `vote_log`'s lines)."""
        from cocreate.voting.vote_log import LOG_HEADER

        return LOG_HEADER

    def fraud_log(self, session: Session, round_id: int) -> LoadedVotes:
        """The round's live votes as the fraud detectors read them, and a way back from a
        signal's code to its value (`fraud.loader`): here from the votes table."""
        from cocreate.fraud.loader import load_votes

        return load_votes(session, round_id)
