"""The next pair a voter is shown: chosen to learn fastest, read from the database in a few
index range scans whatever the round's size.

1. **The first idea is one of the least compared.** Ideas with the fewest counted choices
   come first, equal counts in the order of a random key from a random start, so concurrent
   voters spread over them; a new idea is shown until it has caught up (All Our Ideas'
   "catchup" weights its pairs the same way, by how few votes they have).
2. **Its opponent has a close score**: among the `neighbours` ideas just above and just below
   its running score, the least compared, then the closest. A close pair is the choice whose
   outcome is least certain, so it tells most about the order; an easy pair tells little.
   With probability `explore` the opponent is drawn from uniformly random ideas instead, so
   the comparison graph stays well connected (scores of far-apart ideas stay comparable)
   and a mis-scored idea meets ideas outside its neighbourhood.
3. **Never a pair twice**: never an idea against itself, and never a pair this voter already
   judged, in either order (the database refuses a second judgement anyway).
4. **Left or right at random**, against a bias for one side.

Every random draw comes from the `rng` given, so a seeded `random.Random` makes the choice
deterministic for tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlmodel import Session

from cocreate.headtohead import reads
from cocreate.headtohead.reads import Candidate
from cocreate.headtohead.store import KEY_SPACE


@dataclass(frozen=True)
class Pair:
    left_idea_id: int
    right_idea_id: int


@dataclass(frozen=True)
class ChooserSettings:
    candidates: int = 8  # least-compared ideas tried as the first idea
    neighbours: int = 8  # ideas read on each side of the first idea's score
    explore: float = 0.1  # chance of a random opponent instead of a close one
    last_resort: int = 2000  # ideas scanned when every candidate's neighbours were judged


def next_pair(
    *,
    session: Session,
    round_id: int,
    voter_id: int,
    rng: random.Random,
    settings: ChooserSettings | None = None,
) -> Pair | None:
    """The pair to show this voter next, or None when there is none to show (fewer than two
    ideas offered, or the voter has judged every pair the chooser can find)."""
    settings = settings or ChooserSettings()
    judged = reads.judged_pairs(session=session, round_id=round_id, voter_id=voter_id)
    firsts = reads.fewest_compared(
        session=session,
        round_id=round_id,
        start_key=rng.randrange(KEY_SPACE),
        limit=settings.candidates,
    )
    for first in firsts:
        opponent = _opponent(session, round_id, first, judged, rng, settings)
        if opponent is not None:
            return _sides(first.idea_id, opponent.idea_id, rng)
    if len(firsts) < 2:
        return None
    return _last_resort(session, round_id, judged, rng, settings)


def _opponent(
    session: Session,
    round_id: int,
    first: Candidate,
    judged: set[tuple[int, int]],
    rng: random.Random,
    settings: ChooserSettings,
) -> Candidate | None:
    explore = rng.random() < settings.explore
    for random_pick in (explore, not explore):  # the other kind when one finds nobody
        if random_pick:
            found = reads.random_ideas(
                session=session,
                round_id=round_id,
                start_key=rng.randrange(KEY_SPACE),
                limit=settings.neighbours,
            )
        else:
            found = reads.nearest_scores(
                session=session,
                round_id=round_id,
                score=first.score,
                start_key=rng.randrange(KEY_SPACE),
                limit=settings.neighbours,
            )
        usable = [c for c in found if _may_meet(first.idea_id, c.idea_id, judged)]
        if usable:
            return min(
                usable, key=lambda c: (c.comparisons, abs(c.score - first.score), c.shuffle_key)
            )
    return None


def _may_meet(a: int, b: int, judged: set[tuple[int, int]]) -> bool:
    return a != b and (min(a, b), max(a, b)) not in judged


def _sides(a: int, b: int, rng: random.Random) -> Pair:
    return Pair(a, b) if rng.random() < 0.5 else Pair(b, a)


def _last_resort(
    session: Session,
    round_id: int,
    judged: set[tuple[int, int]],
    rng: random.Random,
    settings: ChooserSettings,
) -> Pair | None:
    """A voter who judged every pair near the least-compared ideas (a small round, a very
    keen voter): the first pair not yet judged among the least compared ideas."""
    offered = reads.offered_ideas(session=session, round_id=round_id, limit=settings.last_resort)
    for i, first in enumerate(offered):
        for other in offered[i + 1 :]:
            if _may_meet(first.idea_id, other.idea_id, judged):
                return _sides(first.idea_id, other.idea_id, rng)
    return None
