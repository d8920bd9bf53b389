"""Ranked: order up to N ideas; decided by the Schulze method.

A ballot is the voter's whole order, sent at once (`ranked_ballot.py`: its form, its
submission, its route); one vote row per ranked idea, weight = rank (1 = first). The count is
the Schulze method: strongest paths over the pairwise preference matrix; an idea's score is
the number of ideas it beats along them. Its matrices (the top ideas) are kept with the
certified results and shown on the results page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlmodel import Session, select
from starlette.routing import BaseRoute

from cocreate.forms import Form
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.ideas.models import Idea
from cocreate.voting import hooks
from cocreate.voting.methods.base import Column, Tally, TieBreak, VotingMethod
from cocreate.voting.methods.standings import Standing, rank
from cocreate.voting.models import RoundPairwise

if TYPE_CHECKING:
    from cocreate.voting.forms import RoundInput
    from cocreate.voting.open_round import OpenRound, RoundLike

RANKED_MAX = 20  # positions on a ranked ballot: one <select> each
MATRIX_IDEAS = 20  # the Schulze matrices kept for the page: the top 20 ideas


@dataclass(frozen=True)
class SchulzeResult:
    candidates: tuple[int, ...]
    pairwise: dict[tuple[int, int], int]  # d[a, b]: voters who rank a above b
    strongest: dict[tuple[int, int], int]  # p[a, b]: strength of the strongest path a -> b
    standings: list[Standing]  # score = number of candidates beaten by strongest paths


def pairwise_preferences(
    ballots: Iterable[Sequence[int]], candidates: Sequence[int]
) -> dict[tuple[int, int], int]:
    """d[a, b] for every ordered pair. A ballot ranks its listed ideas in order, above every
    idea it leaves out; it says nothing between two ideas it leaves out."""
    index = {c: n for n, c in enumerate(candidates)}
    d: dict[tuple[int, int], int] = {(a, b): 0 for a in candidates for b in candidates if a != b}
    for ballot in ballots:
        ranked = [c for c in dict.fromkeys(ballot) if c in index]
        seen: set[int] = set()
        for c in ranked:
            seen.add(c)
            for other in candidates:
                if other not in seen:
                    d[c, other] += 1
    return d


def schulze(
    ballots: Iterable[Sequence[int]],
    candidates: Sequence[int],
    *,
    tie_break: Callable[[int], tuple[object, ...]] | None = None,
) -> SchulzeResult:
    cands = tuple(dict.fromkeys(candidates))
    d = pairwise_preferences(ballots, cands)
    p: dict[tuple[int, int], int] = {
        (a, b): (d[a, b] if d[a, b] > d[b, a] else 0) for a in cands for b in cands if a != b
    }
    # Widest paths (Floyd-Warshall on the bottleneck semiring): O(n^3) in the entrants, which
    # is why a ranked round takes a shortlist (see voting docs), not ten thousand ideas.
    for k in cands:
        for i in cands:
            if i == k:
                continue
            pik = p[i, k]
            if pik == 0:
                continue
            for j in cands:
                if j == i or j == k:
                    continue
                through = min(pik, p[k, j])
                if through > p[i, j]:
                    p[i, j] = through
    wins = {a: sum(1 for b in cands if b != a and p[a, b] > p[b, a]) for a in cands}
    return SchulzeResult(cands, d, p, rank(wins, cands, tie_break=tie_break))


@dataclass(frozen=True)
class SchulzeTally(Tally):
    schulze: SchulzeResult | None = None  # the matrices, for the results page


@dataclass
class SchulzeCount:
    """Counts ranked ballots one vote at a time: one ballot per voter and period, its ideas
    in rank order (weight = rank, 1 first)."""

    method: str
    votes: Counter[int] = field(default_factory=Counter)
    points: Counter[int] = field(default_factory=Counter)
    ballots: dict[tuple[int, int], list[tuple[int, int]]] = field(default_factory=dict)

    def add(self, voter_id: int, idea_id: int, period: int, weight: int) -> None:
        self.votes[idea_id] += 1
        self.points[idea_id] += weight
        self.ballots.setdefault((voter_id, period), []).append((weight, idea_id))

    def result(self, entrants: Iterable[int], *, tie_break: TieBreak = None) -> Tally:
        candidates = set(entrants) | set(self.votes)
        ballots = [[idea for _, idea in sorted(marks)] for marks in self.ballots.values()]
        listed = sorted({idea for ballot in ballots for idea in ballot})
        # An idea on no ballot beats nobody and every listed idea beats it, and no strongest
        # path runs through it: so Schulze runs on the listed ideas only (it is cubic in the
        # candidates) and each listed idea's wins grow by the number of unlisted ones. Exact.
        found = schulze(ballots, listed)
        unlisted = len(candidates - set(listed))
        scores = {s.idea_id: s.score + unlisted for s in found.standings}
        standings = rank(scores, candidates, tie_break=tie_break)
        return SchulzeTally(self.method, standings, dict(self.votes), dict(self.points), found)


@dataclass(frozen=True)
class Matrix:
    ideas: list[tuple[int, str]]
    preferred: dict[tuple[int, int], int]
    strongest: dict[tuple[int, int], int]


class Ranked(VotingMethod):
    name = "ranked"
    votes_on_ideas = False
    ballot_template = "voting/methods/ranked.html"

    def routes(self) -> Sequence[BaseRoute]:
        from cocreate.voting.methods.ranked_ballot import routes

        return routes

    def label(self) -> str:
        return _("Ranked")

    def choice(self) -> str:
        return _("Ranked: put up to N ideas in order (Schulze method)")

    def max_votes_hint(self) -> str:
        return _("Ranked: how many positions (at most %(n)d).") % {"n": RANKED_MAX}

    def read_settings(self, form: Form, max_votes: int) -> tuple[int, int]:
        if "max_votes" not in form.errors and max_votes > RANKED_MAX:
            form.errors["max_votes"] = _("A ranked ballot can have at most %(n)d positions.") % {
                "n": RANKED_MAX
            }
        return max_votes, 0

    def settings_problems(self, data: RoundInput) -> dict[str, str]:
        problems = {}
        if data.frequency == "daily":
            problems["frequency"] = _(
                "A ranked ballot is cast once per round: each voter's order of preference "
                "counts once."
            )
        if data.visibility != "hidden":
            problems["visibility"] = _(
                "Ranked rounds keep counts hidden while open: the order comes from every "
                "complete ballot at the close."
            )
        return problems

    def explain(self, round_: RoundLike) -> str:
        return ngettext(
            "Put up to %(num)d idea in your order of preference.",
            "Put up to %(num)d ideas in your order of preference.",
            round_.max_votes,
        ) % {"num": round_.max_votes}

    def other_ballot_message(self) -> str:
        return _("This round is a ranked vote: order the ideas below.")

    def ballot_context(
        self, opened: OpenRound, ideas: Sequence[Idea], my_votes: dict[int, int], sent: Any
    ) -> dict[str, Any]:
        """The ranking's positions: what the voter just sent (`sent`: a list of ids as
        text), else their ranking on record; and the ideas to choose from, by title."""
        ranking = list(sent) if sent is not None else None
        if ranking is None:
            by_rank = sorted(my_votes.items(), key=lambda pair: pair[1])
            ranking = [str(idea_id) for idea_id, _weight in by_rank]
        positions = opened.round.max_votes
        return {
            "ranking": ranking + [""] * (positions - len(ranking)),
            "ideas_by_title": sorted(ideas, key=lambda i: i.title.casefold()),
        }

    def tally(self) -> SchulzeCount:  # type: ignore[override]
        return SchulzeCount(self.name)

    def rule(self, round_: RoundLike) -> str:
        return _(
            "Ballots are counted with the Schulze method: an idea's score is the number "
            "of other ideas it beats along the strongest paths of preferences."
        )

    def results_columns(self, showing: str) -> list[Column]:
        if showing == "certified":
            return [Column(_("Ideas beaten"), "score"), Column(_("Ballots listing it"), "votes")]
        return [Column(_("Ballots listing it"), "votes")]

    def certified(self, session: Session, round_id: int, tally: Tally) -> None:
        """The pairwise and strongest-path matrices of the top ideas, for the results page."""
        found = tally.schulze if isinstance(tally, SchulzeTally) else None
        if found is None:
            return
        top = [s.idea_id for s in tally.standings if s.idea_id in set(found.candidates)]
        top = top[:MATRIX_IDEAS]
        rows = [
            {
                "round_id": round_id,
                "idea_id": a,
                "other_id": b,
                "preferred": found.pairwise[a, b],
                "strongest": found.strongest[a, b],
            }
            for a in top
            for b in top
            if a != b
        ]
        if rows:
            session.execute(insert(RoundPairwise), rows)

    def results_extras(
        self, session: Session, round_: RoundLike, showing: str = "certified"
    ) -> dict[str, Any]:
        if showing != "certified":
            return {}
        return {"matrix": pairwise_matrix(session=session, round_id=round_.id)}


def pairwise_matrix(*, session: Session, round_id: int | None) -> Matrix | None:
    rows = session.exec(select(RoundPairwise).where(RoundPairwise.round_id == round_id)).all()
    if not rows:
        return None
    ids = {r.idea_id for r in rows}
    ordered = hooks.published_order(session=session, round_id=round_id, idea_ids=ids)
    return Matrix(
        [(r.idea_id, r.title) for r in ordered],
        {(r.idea_id, r.other_id): r.preferred for r in rows},
        {(r.idea_id, r.other_id): r.strongest for r in rows},
    )
