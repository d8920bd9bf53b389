"""Single choice: one vote for one idea; the most votes wins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cocreate.forms import Form
from cocreate.i18n import gettext as _
from cocreate.voting.methods.base import VotingMethod

if TYPE_CHECKING:
    from cocreate.voting.ballots import BallotState
    from cocreate.voting.open_round import RoundLike
    from cocreate.voting.service import VoteResult


class Single(VotingMethod):
    name = "single"
    settings = ()

    def label(self) -> str:
        return _("Single choice")

    def choice(self) -> str:
        return _("Single choice: one idea")

    def max_votes_hint(self) -> str:
        return _("Single choice: always 1.")

    def read_settings(self, form: Form, max_votes: int) -> tuple[int, int]:
        return 1, 0  # the field is ignored: one idea

    def allowance(self, round_: RoundLike) -> tuple[int, int]:
        return 1, 0

    def explain(self, round_: RoundLike) -> str:
        return _("Vote for the one idea you like best.")

    def counter(self, round_: RoundLike, state: BallotState) -> str:
        daily = round_.frequency == "daily"
        if state.votes_left:
            if daily:
                return _("You can vote for one idea today.")
            return _("You can vote for one idea.")
        return _("You have used today's vote.") if daily else _("You have used your vote.")

    def no_votes_left_message(self, round_: RoundLike, result: VoteResult) -> str:
        if round_.frequency == "daily":
            return super().no_votes_left_message(round_, result)
        return _("You have used your vote. Take it back to vote for another idea.")
