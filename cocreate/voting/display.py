"""What the ballot pages say, in the reader's language: pure functions, no database."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from cocreate.campaigns.display import local_time
from cocreate.i18n import gettext as _
from cocreate.voting.ballots import BallotState
from cocreate.voting.forms import country_name

__all__ = ["country_name"]  # the ballot pages name countries too
from cocreate.voting.methods import method_of
from cocreate.voting.models import Frequency, Visibility
from cocreate.voting.service import Outcome, VoteResult

if TYPE_CHECKING:
    from cocreate.voting.open_round import RoundLike


def method_explained(round_: RoundLike) -> str:
    return method_of(round_).explain(round_)


def frequency_explained(round_: RoundLike, renews_at: datetime | None, timezone: str) -> str:
    own = method_of(round_).frequency_text(round_)
    if own is not None:
        return own
    if round_.frequency == Frequency.DAILY:
        if renews_at is not None:
            return _("You get new votes every day. Your next votes: %(time)s.") % {
                "time": local_time(renews_at, timezone)
            }
        return _("You get new votes every day.")
    return _("You vote once in this round.")


def visibility_explained(round_: RoundLike) -> str:
    if round_.visibility == Visibility.LIVE:
        return _("Counts are live: you see the votes as they come in.")
    if round_.visibility == Visibility.RANKS:
        return _(
            "Ideas are listed by their current rank; the counts stay hidden until the results."
        )
    return _("Counts stay hidden until the results. The ideas are listed in an order of your own.")


def counter_text(round_: RoundLike, state: BallotState) -> str:
    """ "Votes left: 3 of 5", "Points left: 7 of 10", "You have used your vote"."""
    return method_of(round_).counter(round_, state)


def out_of_votes(round_: RoundLike, state: BallotState) -> bool:
    """No vote (or, for points, no point) left: the ballot's other vote buttons are off."""
    return state.votes_left <= 0 or (method_of(round_).gives_points and state.points_left <= 0)


def outcome_message(round_: RoundLike, result: VoteResult, title: str) -> str:
    """What a vote or unvote did, for the flash (no JS) or the inline message (htmx)."""
    outcome = result.outcome
    if outcome == Outcome.COUNTED:
        return method_of(round_).counted_message(title)
    if outcome == Outcome.HELD:
        return _("Your vote for “%(title)s” is recorded. It will be checked before it counts.") % {
            "title": title
        }
    if outcome == Outcome.ALREADY:
        return _("You have already voted for “%(title)s”.") % {"title": title}
    if outcome == Outcome.WITHDRAWN:
        return _("Your vote for “%(title)s” is taken back.") % {"title": title}
    if outcome == Outcome.NOT_FOUND:
        return _("You had no vote for “%(title)s” to take back.") % {"title": title}
    if outcome == Outcome.NO_VOTES_LEFT:
        return no_votes_left_message(round_, result)
    if outcome == Outcome.NOT_ENTRANT:
        return _("This idea is not part of this voting round.")
    if outcome == Outcome.INELIGIBLE:
        return ineligible_message(result.reason or "")
    return _("This voting round is not open, so votes are not accepted.")


def no_votes_left_message(round_: RoundLike, result: VoteResult) -> str:
    return method_of(round_).no_votes_left_message(round_, result)


def ineligible_message(reason: str) -> str:
    """A short reason, for the inline message; the ballot page says what to do at length."""
    messages = {
        "unverified": _("Confirm your email address to vote: open the link we sent you."),
        "account_too_new": _("Your account is too new to vote in this round."),
        "country": _("This round is open to voters in other countries only."),
        "no_country": _("Tell us which country you live in to vote in this round."),
        "inactive": _("This account cannot vote."),
    }
    return messages.get(reason, _("You cannot vote in this round."))


def countries_text(codes: list[str]) -> str:
    return ", ".join(sorted((country_name(c) for c in codes), key=str.casefold))
