"""Verification (`cocreate verify-results`): recount a certified round and recompute its
digest from the vote log, then compare both with what was frozen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from cocreate.results.digest import read_vote_log
from cocreate.results.models import RoundResult, VoteLogKey
from cocreate.results.rounds import RoundInfo


@dataclass(frozen=True)
class Verification:
    number: int
    certified: bool
    digest_matches: bool
    tally_matches: bool
    digest: str | None  # the certified one
    recomputed: str | None
    differences: list[str]

    @property
    def ok(self) -> bool:
        return self.certified and self.digest_matches and self.tally_matches


def verify_round(*, session: Session, info: RoundInfo) -> Verification:
    """Recount the round and recompute its digest from the vote log; compare with the frozen
    results. The ideas that stood in the certified results are the candidates (an idea
    rejected since then still stood then)."""
    round_ = info.round
    if round_.certified_at is None:
        return Verification(info.number, False, False, False, None, None, [])
    certified = session.exec(
        select(RoundResult)
        .where(RoundResult.round_id == round_.id)
        .order_by(col(RoundResult.position))
    ).all()
    key = session.exec(
        select(VoteLogKey.key).where(VoteLogKey.campaign_id == round_.campaign_id)
    ).first()
    if key is None:
        return Verification(
            info.number, True, False, False, round_.digest, None, ["no vote-log key"]
        )
    reading = read_vote_log(
        session=session,
        round_=round_,
        entrants=[r.idea_id for r in certified],
        key=bytes.fromhex(key),
    )
    expected = [
        (r.idea_id, r.position, r.rank, r.tied, r.votes, r.points, r.score) for r in certified
    ]
    tally = reading.tally
    found = [
        (
            s.idea_id,
            n,
            s.rank,
            s.tied,
            tally.votes.get(s.idea_id, 0),
            tally.points.get(s.idea_id, 0),
            s.score,
        )
        for n, s in enumerate(tally.standings, start=1)
    ]
    differences = _differences(expected, found)
    return Verification(
        info.number,
        True,
        reading.digest == round_.digest,
        not differences,
        round_.digest,
        reading.digest,
        differences,
    )


def _differences(
    expected: Sequence[tuple[int, ...]], found: Sequence[tuple[int, ...]]
) -> list[str]:
    names = ("idea", "position", "rank", "tied", "votes", "points", "score")
    by_idea_expected = {row[0]: row for row in expected}
    by_idea_found = {row[0]: row for row in found}
    out = []
    for idea in sorted(set(by_idea_expected) | set(by_idea_found)):
        a, b = by_idea_expected.get(idea), by_idea_found.get(idea)
        if a is None:
            out.append(f"idea {idea}: not in the certified results, recount has {b}")
        elif b is None:
            out.append(f"idea {idea}: certified {a}, missing from the recount")
        elif a != b:
            fields = ", ".join(
                f"{names[k]} {a[k]} -> {b[k]}" for k in range(1, len(names)) if a[k] != b[k]
            )
            out.append(f"idea {idea}: {fields}")
    return out
