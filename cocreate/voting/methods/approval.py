"""Approval: vote for up to N ideas, one vote each; the most votes wins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.voting.methods.base import VotingMethod

if TYPE_CHECKING:
    from cocreate.voting.open_round import RoundLike


class Approval(VotingMethod):
    name = "approval"

    def label(self) -> str:
        return _("Approval")

    def choice(self) -> str:
        return _("Approval: vote for up to N ideas, one vote each")

    def max_votes_hint(self) -> str:
        return _("Approval: how many ideas a voter can vote for.")

    def explain(self, round_: RoundLike) -> str:
        return ngettext(
            "Vote for up to %(num)d idea you like.",
            "Vote for up to %(num)d ideas you like.",
            round_.max_votes,
        ) % {"num": round_.max_votes}
