"""The pair chooser against the database: rules it never breaks, and what it favours."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from cocreate.headtohead import reads, store
from cocreate.headtohead.chooser import ChooserSettings, Pair, next_pair
from tests.conftest import empty_tables
from tests.headtohead.conftest import Battle
from tests.voting_support import T0


def choose(
    session: Session, battle: Battle, voter: int, seed: int, **options: object
) -> Pair | None:
    return next_pair(
        session=session,
        round_id=battle.round_id,
        voter_id=voter,
        rng=random.Random(seed),
        settings=ChooserSettings(**options),  # type: ignore[arg-type]
    )


def judge(session: Session, battle: Battle, voter: int, pair: Pair, outcome: str = "left") -> None:
    result = store.record_choice(
        session=session,
        round_id=battle.round_id,
        voter_id=voter,
        left_idea_id=pair.left_idea_id,
        right_idea_id=pair.right_idea_id,
        outcome=outcome,
        now=T0,
    )
    assert result == store.Recorded.RECORDED
    session.commit()


def counts(session: Session, battle: Battle) -> dict[int, int]:
    session.expire_all()
    found = reads.statistics(session=session, round_id=battle.round_id, idea_ids=battle.idea_ids)
    return {idea: row.comparisons for idea, row in found.items()}


def test_a_voter_sees_every_pair_once_then_none(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    battle = make_battle(ideas=5, voters=2)
    voter = battle.voters[0]
    seen = []
    for seed in range(100):
        pair = choose(session, battle, voter, seed)
        if pair is None:
            break
        assert pair.left_idea_id != pair.right_idea_id
        assert {pair.left_idea_id, pair.right_idea_id} <= set(battle.idea_ids)
        seen.append(frozenset((pair.left_idea_id, pair.right_idea_id)))
        judge(session, battle, voter, pair)
    assert len(seen) == len(set(seen)) == 10  # the 10 pairs of 5 ideas, each once
    assert choose(session, battle, voter, 1) is None
    assert choose(session, battle, battle.voters[1], 1) is not None  # another voter: a pair


def test_fewer_than_two_ideas_offered_gives_no_pair(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    battle = make_battle(ideas=2)
    assert choose(session, battle, battle.voters[0], 0) is not None
    store.withdraw_ideas(session=session, round_id=battle.round_id, idea_ids=battle.idea_ids[:1])
    session.commit()
    assert choose(session, battle, battle.voters[0], 0) is None


def test_the_same_seed_gives_the_same_pair_and_sides_vary(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    battle = make_battle(ideas=30)
    voter = battle.voters[0]
    pairs = [choose(session, battle, voter, seed) for seed in range(40)]
    assert pairs == [choose(session, battle, voter, seed) for seed in range(40)]
    assert len({p for p in pairs}) > 10  # concurrent voters are spread over the ideas
    lefts = Counter(p.left_idea_id < p.right_idea_id for p in pairs if p)
    assert lefts[True] > 5 and lefts[False] > 5


def test_a_new_idea_is_shown_until_it_catches_up(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    battle = make_battle(ideas=8, voters=20)
    for k, voter in enumerate(battle.voters):
        for seed in range(3):
            pair = choose(session, battle, voter, 100 * k + seed)
            assert pair is not None
            judge(session, battle, voter, pair)
    (late,) = battle.add_ideas(1)
    before = counts(session, battle)
    assert min(before.values()) >= 6  # 60 choices over 8 ideas: every idea has caught up
    for k, voter in enumerate(battle.voters[:6]):
        pair = choose(session, battle, voter, 7000 + k)
        assert pair is not None and late in (pair.left_idea_id, pair.right_idea_id)
        judge(session, battle, voter, pair)


def test_the_opponent_is_the_nearest_score_among_equally_compared_ideas(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    """A round robin with a clear order: every idea has 11 comparisons and its own score;
    a fresh voter's pair is two ideas next to each other in that order."""
    battle = make_battle(ideas=12, voters=2)
    ids = battle.idea_ids
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            judge(session, battle, battle.voters[0], Pair(a, b), "right")  # later is better
    store.rebuild_statistics(session=session, round_id=battle.round_id)
    session.commit()
    assert set(counts(session, battle).values()) == {11}
    position = {idea: k for k, idea in enumerate(ids)}
    for seed in range(25):
        pair = choose(session, battle, battle.voters[1], seed, explore=0.0)
        assert pair is not None
        assert abs(position[pair.left_idea_id] - position[pair.right_idea_id]) == 1
    far = [choose(session, battle, battle.voters[1], seed, explore=1.0) for seed in range(25)]
    assert any(abs(position[p.left_idea_id] - position[p.right_idea_id]) > 1 for p in far if p)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ideas=st.integers(3, 16),
    voters=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    outcomes=st.lists(st.sampled_from(["left", "right", "tie"]), min_size=1, max_size=8),
)
def test_pairs_favour_under_compared_ideas(
    engine: Engine,
    make_battle: Callable[..., Battle],
    ideas: int,
    voters: int,
    seed: int,
    outcomes: list[str],
) -> None:
    """Each choice takes one of the least-compared ideas, so after m choices over n ideas
    every idea has taken part in at least m // n of them (uniformly random pairs leave some
    idea far behind), and no voter is ever shown an idea against itself or a pair twice."""
    try:
        with Session(engine, expire_on_commit=False) as session:
            battle = make_battle(ideas=ideas, voters=voters)
            rng = random.Random(seed)
            made = 0
            for voter in battle.voters:
                seen: set[frozenset[int]] = set()
                for k in range(ideas - 2):  # fewer than n - 1: never every pair of one idea
                    pair = next_pair(
                        session=session, round_id=battle.round_id, voter_id=voter, rng=rng
                    )
                    assert pair is not None
                    shown = frozenset((pair.left_idea_id, pair.right_idea_id))
                    assert len(shown) == 2 and shown not in seen
                    seen.add(shown)
                    judge(session, battle, voter, pair, outcomes[k % len(outcomes)])
                    made += 1
            found = reads.statistics(
                session=session, round_id=battle.round_id, idea_ids=battle.idea_ids
            )
            assert sum(s.comparisons for s in found.values()) == 2 * made
            assert min(s.comparisons for s in found.values()) >= made // ideas
    finally:
        empty_tables(engine)
