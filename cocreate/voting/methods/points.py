"""Points: share a budget of points between at most N ideas; the most points wins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cocreate.forms import Form
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.voting.methods.base import Column, VotingMethod

if TYPE_CHECKING:
    from cocreate.voting.ballots import BallotState
    from cocreate.voting.open_round import RoundLike
    from cocreate.voting.service import VoteResult

BUDGET_LIMIT = 10_000


class Points(VotingMethod):
    name = "points"
    settings = ("max_votes", "points_budget")
    gives_points = True
    live_score = "points"

    def label(self) -> str:
        return _("Points")

    def choice(self) -> str:
        return _("Points: share a budget of points between ideas")

    def max_votes_hint(self) -> str:
        return _("Points: on how many ideas the points can go.")

    def read_settings(self, form: Form, max_votes: int) -> tuple[int, int]:
        from cocreate.voting.forms import whole_number

        return max_votes, whole_number(form, "points_budget", 1, BUDGET_LIMIT, default=0)

    def allowance(self, round_: RoundLike) -> tuple[int, int]:
        return round_.max_votes, round_.points_budget

    def weight(self, points: int | None) -> int | None:
        return points

    def points_spent(self, weight: int) -> int:
        return weight

    def explain(self, round_: RoundLike) -> str:
        return ngettext(
            "Share %(num)d point between the ideas you like.",
            "Share %(num)d points between the ideas you like.",
            round_.points_budget,
        ) % {"num": round_.points_budget}

    def counter(self, round_: RoundLike, state: BallotState) -> str:
        values = {"num": state.points_left, "total": state.points_budget}
        if round_.frequency == "daily":
            return _("Points left today: %(num)d of %(total)d") % values
        return _("Points left: %(num)d of %(total)d") % values

    def counted_message(self, title: str) -> str:
        return _("Your points for “%(title)s” are counted.") % {"title": title}

    def no_votes_left_message(self, round_: RoundLike, result: VoteResult) -> str:
        if result.votes_left:  # votes are left, points are not: give fewer points
            return ngettext(
                "You have only %(num)d point left: give fewer points, or take points back from "
                "another idea.",
                "You have only %(num)d points left: give fewer points, or take points back from "
                "another idea.",
                result.points_left or 0,
            ) % {"num": result.points_left or 0}
        return super().no_votes_left_message(round_, result)

    def rule(self, round_: RoundLike) -> str:
        return _("Ideas are ordered by the points they received.")

    def results_columns(self, showing: str) -> list[Column]:
        return [Column(_("Points"), "points"), Column(_("Voters"), "votes")]

    def total_text(self, votes: int, points: int) -> str:
        return ngettext("%(num)d point given in all.", "%(num)d points given in all.", points) % {
            "num": points
        }
