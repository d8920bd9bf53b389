"""The head-to-head store: idempotent choices, statistics that follow them, fraud statuses."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cocreate.headtohead import estimate, reads, store
from cocreate.headtohead.models import HeadToHeadChoice, HeadToHeadStats
from cocreate.headtohead.store import ChoiceSignals, Recorded
from tests.headtohead.conftest import Battle
from tests.voting_support import T0


def record(
    session: Session, battle: Battle, voter: int, left: int, right: int, outcome: str, **kw: object
) -> Recorded:
    result = store.record_choice(
        session=session,
        round_id=battle.round_id,
        voter_id=voter,
        left_idea_id=left,
        right_idea_id=right,
        outcome=outcome,
        now=T0,
        **kw,  # type: ignore[arg-type]
    )
    session.commit()
    return result


def stats(session: Session, battle: Battle) -> dict[int, HeadToHeadStats]:
    session.expire_all()
    return reads.statistics(session=session, round_id=battle.round_id, idea_ids=battle.idea_ids)


def choices(session: Session) -> int:
    return session.execute(select(func.count()).select_from(HeadToHeadChoice)).scalar_one()


def test_a_choice_is_stored_with_its_signals_and_moves_both_ideas(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    battle = make_battle(ideas=3)
    a, b, _ = battle.idea_ids
    signals = ChoiceSignals(
        ip_hash="h" * 64,
        ip_prefix_hash="p" * 64,
        device_id="dev",
        user_agent="Firefox",
        risk_score=0.25,
        risk_signals={"new_account": 0.2},
    )
    assert (
        record(session, battle, battle.voters[0], b, a, "left", signals=signals)
        == Recorded.RECORDED
    )
    row = session.execute(select(HeadToHeadChoice)).scalar_one()
    assert (row.left_idea_id, row.right_idea_id, row.low_idea_id, row.high_idea_id) == (b, a, a, b)
    assert (row.outcome, row.status, row.cast_at) == ("left", "counted", T0)
    assert (row.ip_hash, row.device_id, row.user_agent, row.risk_score) == (
        "h" * 64,
        "dev",
        "Firefox",
        0.25,
    )
    assert row.risk_signals == {"new_account": 0.2}
    after = stats(session, battle)
    assert (after[b].comparisons, after[b].wins, after[b].losses) == (1, 1, 0)
    assert (after[a].comparisons, after[a].wins, after[a].losses) == (1, 0, 1)
    assert after[b].score > 0 > after[a].score
    assert after[b].score == pytest.approx(-after[a].score)
    assert after[a].information > 1.0  # the prior's precision, plus what the choice told


def test_a_voter_judges_a_pair_once_whatever_its_sides(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    battle = make_battle(ideas=3)
    a, b, c = battle.idea_ids
    first, second = battle.voters[:2]
    assert record(session, battle, first, a, b, "left") == Recorded.RECORDED
    assert record(session, battle, first, a, b, "left") == Recorded.ALREADY_JUDGED  # a retry
    assert record(session, battle, first, b, a, "tie") == Recorded.ALREADY_JUDGED  # swapped
    assert record(session, battle, second, b, a, "right") == Recorded.RECORDED  # another voter
    assert record(session, battle, first, a, c, "right") == Recorded.RECORDED  # another pair
    assert choices(session) == 3
    after = stats(session, battle)
    assert (after[a].comparisons, after[a].wins, after[a].losses) == (3, 2, 1)
    assert reads.judged_pairs(session=session, round_id=battle.round_id, voter_id=first) == {
        (min(a, b), max(a, b)),
        (min(a, c), max(a, c)),
    }


def test_the_database_refuses_a_second_judgement_of_a_pair(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    """Not only the store: the unique index holds against any other writer."""
    battle = make_battle(ideas=2)
    a, b = battle.idea_ids
    row = dict(
        round_id=battle.round_id,
        voter_id=battle.voters[0],
        low_idea_id=a,
        high_idea_id=b,
        outcome="left",
    )
    session.add(HeadToHeadChoice(left_idea_id=a, right_idea_id=b, **row))  # type: ignore[arg-type]
    session.commit()
    session.add(HeadToHeadChoice(left_idea_id=b, right_idea_id=a, **row))  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()
    # Nor a pair whose low/high are not the shown ideas.
    session.add(
        HeadToHeadChoice(
            **(row | {"voter_id": battle.voters[1], "low_idea_id": b, "high_idea_id": a}),
            left_idea_id=a,
            right_idea_id=b,
        )
    )  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_ideas_outside_the_round_and_bad_choices_change_nothing(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    battle = make_battle(ideas=3)
    a, b, c = battle.idea_ids
    voter = battle.voters[0]
    assert record(session, battle, voter, a, a, "left") == Recorded.INVALID
    assert record(session, battle, voter, a, b, "both") == Recorded.INVALID
    assert record(session, battle, voter, a, 10**6, "left") == Recorded.NOT_IN_ROUND
    store.withdraw_ideas(session=session, round_id=battle.round_id, idea_ids=[c])
    session.commit()
    assert record(session, battle, voter, a, c, "left") == Recorded.NOT_IN_ROUND
    assert choices(session) == 0
    assert all(s.comparisons == 0 for s in stats(session, battle).values())
    # Entering it again offers it again, with its statistics kept.
    store.enter_ideas(session=session, round_id=battle.round_id, idea_ids=[c], rng=random.Random(0))
    session.commit()
    assert record(session, battle, voter, a, c, "left") == Recorded.RECORDED


def test_held_choices_wait_and_review_moves_the_counts(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    battle = make_battle(ideas=2)
    a, b = battle.idea_ids
    assert (
        record(
            session, battle, battle.voters[0], a, b, "left", status="held", status_reason="risk 0.8"
        )
        == Recorded.RECORDED
    )
    assert stats(session, battle)[a].comparisons == 0  # held: not counted
    choice_id = session.execute(select(HeadToHeadChoice.id)).scalar_one()  # type: ignore[call-overload]
    assert store.change_status(session=session, choice_id=choice_id, status="counted") is True
    session.commit()
    assert (stats(session, battle)[a].wins, stats(session, battle)[b].losses) == (1, 1)
    assert store.change_status(session=session, choice_id=choice_id, status="counted") is False
    assert (
        store.change_status(session=session, choice_id=choice_id, status="void", reason="ring")
        is True
    )
    session.commit()
    after = stats(session, battle)
    assert (after[a].comparisons, after[a].wins, after[b].losses) == (0, 0, 0)
    row = session.execute(select(HeadToHeadChoice)).scalar_one()
    assert (row.status, row.status_reason) == ("void", "ring")  # kept as evidence
    with pytest.raises(ValueError):
        store.change_status(session=session, choice_id=choice_id, status="deleted")


def test_rebuilding_the_statistics_gives_the_full_estimate(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    battle = make_battle(ideas=5, voters=6)
    ids = battle.idea_ids
    strength = {idea: k for k, idea in enumerate(ids)}  # the last idea is the best
    made = []
    rng = random.Random(4)
    for voter in battle.voters:
        for i, left in enumerate(ids):
            for right in ids[i + 1 :]:
                if rng.random() < 0.6:
                    outcome = (
                        "tie"
                        if rng.random() < 0.1
                        else ("left" if strength[left] > strength[right] else "right")
                    )
                    record(session, battle, voter, left, right, outcome)
                    made.append((left, right, outcome))
    held = record(session, battle, battle.voters[0], ids[0], ids[4], "left", status="held")
    assert held in (Recorded.RECORDED, Recorded.ALREADY_JUDGED)
    ranking = store.rebuild_statistics(session=session, round_id=battle.round_id)
    session.commit()
    assert ranking.idea_ids.tolist() == sorted(ids)
    index = {idea: k for k, idea in enumerate(sorted(ids))}
    expected = estimate.fit(
        len(ids),
        [index[left] for left, _, _ in made],
        [index[r] for _, r, _ in made],
        [estimate.share_of(o) for _, _, o in made],
    )
    np.testing.assert_allclose(ranking.estimate.scores, expected.scores, atol=1e-9)
    after = stats(session, battle)
    for idea in ids:
        k = index[idea]
        assert after[idea].score == pytest.approx(expected.scores[k])
        assert after[idea].comparisons == expected.comparisons[k]
        assert (after[idea].wins, after[idea].losses, after[idea].ties) == (
            expected.wins[k],
            expected.losses[k],
            expected.ties[k],
        )
        assert after[idea].information == pytest.approx(1.0 / expected.std_errors[k] ** 2)
    assert [ranking.idea_ids[i] for i in ranking.estimate.order()][0] == ids[-1]


def test_running_scores_follow_the_full_estimate(
    session: Session, make_battle: Callable[..., Battle]
) -> None:
    """The online step keeps the scores the chooser reads close to the full estimate: same
    order of clearly different ideas."""
    battle = make_battle(ideas=6, voters=12)
    ids = battle.idea_ids
    rng = random.Random(9)
    for voter in battle.voters:
        for i, left in enumerate(ids):
            for right in ids[i + 1 :]:
                p_left = 1 / (1 + np.exp(ids.index(right) - ids.index(left)))
                record(
                    session,
                    battle,
                    voter,
                    left,
                    right,
                    "left" if rng.random() < p_left else "right",
                )
    running = stats(session, battle)
    ranking = store.rank_round(session=session, round_id=battle.round_id)
    full = dict(zip(ranking.idea_ids.tolist(), ranking.estimate.scores.tolist(), strict=True))
    assert sorted(ids, key=lambda i: running[i].score) == sorted(ids, key=lambda i: full[i])
    for idea in ids:
        assert running[idea].score == pytest.approx(full[idea], abs=0.5)
