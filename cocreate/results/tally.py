"""The count of a round and who goes on from it: pure functions of the votes and standings.

The tally is always a function of the vote log (counted votes that were not withdrawn); the
round's voting method counts (`VotingMethod.tally`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from cocreate.voting.methods import Standing, method_named
from cocreate.voting.methods import Tally as Tally
from cocreate.voting.models import Advancement, TieBreak


def tally_votes(
    method: str,
    votes: Iterable[tuple[int, int, int, int]],
    entrants: Iterable[int],
    *,
    tie_break: Callable[[int], tuple[object, ...]] | None = None,
) -> Tally:
    """The tally of counted, live votes given as (voter_id, idea_id, period, weight)."""
    count = method_named(method).tally()
    for voter_id, idea_id, period, weight in votes:
        count.add(voter_id, idea_id, period, weight)
    return count.result(entrants, tie_break=tie_break)


@dataclass(frozen=True)
class Advancing:
    decision: dict[int, bool | None]  # True goes on, False stops, None: the jury decides
    seats: int  # how many ideas go on in all, once the jury has decided


def advancing(
    standings: Sequence[Standing],
    *,
    rule: str,
    value: int,
    tie_break: str,
    votes: Mapping[int, int],
    eligible: set[int],
) -> Advancing:
    """Who goes on from a round.

    `standings` are in published order (ties already ordered by earlier submission when that
    is the rule). Ideas that are no longer entrants (rejected, merged meanwhile) never go on.
    """
    decision: dict[int, bool | None] = {s.idea_id: False for s in standings}
    field_ = [s for s in standings if s.idea_id in eligible]
    if rule == Advancement.MIN_VOTES:
        for s in field_:
            decision[s.idea_id] = votes.get(s.idea_id, 0) >= value
        return Advancing(decision, sum(1 for v in decision.values() if v))
    if rule == Advancement.TOP_PERCENT:
        cut = math.ceil(len(field_) * min(max(value, 0), 100) / 100)
    else:
        cut = max(value, 0)
    cut = min(cut, len(field_))
    if rule == Advancement.JURY:
        for s in field_:
            decision[s.idea_id] = True if cut == len(field_) else None
        return Advancing(decision, cut)
    if cut == 0:
        return Advancing(decision, 0)
    boundary = field_[cut - 1].score
    tie_across_the_cut = cut < len(field_) and field_[cut].score == boundary
    for position, s in enumerate(field_):
        if not tie_across_the_cut or tie_break == TieBreak.EARLIER_SUBMISSION:
            decision[s.idea_id] = position < cut
        elif s.score > boundary:
            decision[s.idea_id] = True
        elif s.score == boundary:
            decision[s.idea_id] = None  # tied at the cut: the jury decides
    return Advancing(decision, cut)
