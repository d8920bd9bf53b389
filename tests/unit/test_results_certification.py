"""Certification against a real database (both backends): frozen results, the digest, the
recount, advancement into the next round, and `cocreate verify-results` catching tampering."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from cocreate.accounts.models import User
from cocreate.audit.models import AuditEvent
from cocreate.campaigns.models import StageKind
from cocreate.clock import FrozenClock
from cocreate.forms import ValidationFailed
from cocreate.results.advancement import stage_inputs, winners
from cocreate.results.certify import certify_round
from cocreate.results.decisions import decide_advancement, pending_decisions
from cocreate.results.digest import vote_log_csv
from cocreate.results.models import RoundResult
from cocreate.results.rounds import campaign_rounds
from cocreate.results.verify import verify_round
from cocreate.voting.methods import Method
from cocreate.voting.models import (
    Advancement,
    IdeaTally,
    RoundEntrant,
    RoundPairwise,
    TieBreak,
    Vote,
    VoteStatus,
)
from cocreate.voting.service import Outcome, cast_vote, live_tally, recount, withdraw_vote
from cocreate.voting.vote_log import LOG_HEADER
from tests.results_support import (
    DAY,
    T0,
    Contest,
    decide_held_votes,
    make_contest,
    ranked_ballot,
    write_votes,
)

CLOSED = T0 + 11 * DAY  # round 1 runs from T0 to T0 + 10 days


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0 + DAY
    return clock


def results_of(session: Session, contest: Contest) -> list[tuple[str, int, int, bool, bool | None]]:
    rows = session.exec(
        select(RoundResult)
        .where(RoundResult.round_id == contest.round.id)
        .order_by(col(RoundResult.position))
    ).all()
    titles = {i.id: i.title[-1] for i in contest.ideas}
    return [(titles[r.idea_id], r.votes, r.rank, r.tied, r.advanced) for r in rows]


def entrants_of_round_two(session: Session, contest: Contest) -> set[str]:
    titles = {i.id: i.title[-1] for i in contest.ideas}
    ids = session.exec(
        select(RoundEntrant.idea_id).where(RoundEntrant.round_id == contest.rounds[1].id)
    ).all()
    return {titles[i] for i in ids}


def test_certification_is_refused_while_the_round_is_open(
    session: Session, clock: FrozenClock
) -> None:
    contest = make_contest(session, voters=2)
    with pytest.raises(ValidationFailed) as refused:
        certify_round(session=session, round_=contest.round, now=clock.now())
    assert "still open" in refused.value.errors[""]
    assert contest.round.certified_at is None


def test_certification_freezes_results_and_moves_the_top_ideas_on(
    session: Session, clock: FrozenClock
) -> None:
    contest = make_contest(session, voters=4, advancement_value=2)
    v, (a, b, c, d, e) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], a, 1), (v[1], a, 1), (v[2], a, 1), (v[0], c, 1)])
    write_votes(session, contest.round, [(v[1], b, 1), (v[2], b, 1)])
    write_votes(session, contest.round, [(v[3], d, 1)], withdrawn=True)  # taken back
    write_votes(session, contest.round, [(v[3], e, 1)], status=VoteStatus.HELD)  # not counted
    with pytest.raises(ValidationFailed, match="1 held vote is not decided yet"):
        certify_round(session=session, round_=contest.round, now=CLOSED, actor_id=None)
    assert decide_held_votes(session, contest, "void") == 1  # void: kept, never counted
    done = certify_round(session=session, round_=contest.round, now=CLOSED, actor_id=None)
    assert done.votes_in_log == 8 and done.advanced == 2 and done.undecided == 0
    assert results_of(session, contest) == [
        ("A", 3, 1, False, True),
        ("B", 2, 2, False, True),
        ("C", 1, 3, False, False),
        ("D", 0, 4, True, False),
        ("E", 0, 4, True, False),
    ]
    assert contest.round.certified_at == CLOSED and contest.round.digest == done.digest
    assert entrants_of_round_two(session, contest) == {"A", "B"}
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "round.certified")).one()
    assert event.data["digest"] == done.digest
    with pytest.raises(ValidationFailed):
        certify_round(session=session, round_=contest.round, now=CLOSED + DAY)


def test_no_vote_is_taken_once_the_round_is_certified(session: Session) -> None:
    contest = make_contest(session, voters=1)
    certify_round(session=session, round_=contest.round, now=CLOSED)
    for moment in (CLOSED, T0 + DAY):  # even with a clock that says the round is open
        result = cast_vote(
            session=session,
            round_=contest.round,
            campaign=contest.campaign,
            stage=contest.stage,
            voter=contest.voters[0],
            idea_id=contest.ideas[0].id,  # type: ignore[arg-type]
            now=moment,
        )
        assert result.outcome == Outcome.CLOSED
    assert session.exec(select(func.count()).select_from(Vote)).one() == 0


def test_the_digest_is_the_sha256_of_the_published_vote_log(session: Session) -> None:
    contest = make_contest(session, voters=3)
    v, ideas = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], ideas[0], 1), (v[1], ideas[0], 1)])
    write_votes(session, contest.round, [(v[2], ideas[1], 1)], withdrawn=True)
    done = certify_round(session=session, round_=contest.round, now=CLOSED)
    log = "".join(vote_log_csv(session=session, round_=contest.round))
    header, body = log.split("\n", 1)
    assert header + "\n" == LOG_HEADER
    assert hashlib.sha256(body.encode()).hexdigest() == done.digest
    lines = body.splitlines()
    assert len(lines) == 3
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
    # One spelling on both databases: vote id, pseudonym, idea, period, weight, status, times.
    assert re.fullmatch(rf"\d+,[0-9a-f]{{16}},{ideas[0].id},0,1,counted,{stamp},", lines[0])
    assert re.fullmatch(rf"\d+,[0-9a-f]{{16}},{ideas[1].id},0,1,counted,{stamp},{stamp}", lines[2])
    assert "2026-03-02T09:00:00.000000Z" in lines[0]  # T0 + 1 day, as written
    # Voters appear as pseudonyms: the same voter twice gets the same one, never their id.
    pseudonyms = [line.split(",")[1] for line in lines]
    assert len(set(pseudonyms)) == 3 and all(len(p) == 16 for p in pseudonyms)
    assert str(v[0].id) not in {p for p in pseudonyms}
    # Stable: verifying recomputes the same digest.
    found = verify_round(
        session=session, info=campaign_rounds(session=session, campaign_id=contest.campaign.id)[0]
    )  # type: ignore[arg-type]  # noqa: E501
    assert found.ok and found.recomputed == done.digest


def test_ranked_rounds_keep_the_schulze_matrices(session: Session) -> None:
    contest = make_contest(session, voters=9, method=Method.RANKED, advancement_value=1)
    a, b, c = contest.ideas[:3]
    votes = []
    for n, order in enumerate([[a, b, c]] * 4 + [[b, c, a]] * 3 + [[c, a, b]] * 2):
        votes += ranked_ballot(contest.voters[n], order)
    write_votes(session, contest.round, votes)
    certify_round(session=session, round_=contest.round, now=CLOSED)
    assert [r[0] for r in results_of(session, contest)][:3] == ["A", "B", "C"]
    cell = session.get(RoundPairwise, (contest.round.id, c.id, a.id))
    assert cell is not None and cell.preferred == 5 and cell.strongest == 5
    assert entrants_of_round_two(session, contest) == {"A"}


def test_a_tie_at_the_cut_waits_for_the_jury(session: Session, clock: FrozenClock) -> None:
    contest = make_contest(session, voters=3, advancement_value=2, tie_break=TieBreak.JURY)
    v, (a, b, c, d, _e) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], a, 1), (v[1], a, 1), (v[0], b, 1)])
    write_votes(session, contest.round, [(v[1], c, 1), (v[2], d, 1)])
    done = certify_round(session=session, round_=contest.round, now=CLOSED)
    assert done.advanced == 1 and done.undecided == 3
    assert entrants_of_round_two(session, contest) == {"A"}
    pending = pending_decisions(session=session, campaign_id=contest.campaign.id)  # type: ignore[arg-type]
    assert len(pending) == 1 and pending[0].slots == 1
    assert [title for _, title, _ in pending[0].ideas] == ["Idea B", "Idea C", "Idea D"]
    assert winners(session=session, campaign_id=contest.campaign.id).ready is False  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        decide_advancement(
            session=session,
            round_=contest.round,
            chosen=[b.id, c.id],
            actor_id=None,
            now=CLOSED,  # type: ignore[list-item]
        )
    with pytest.raises(ValidationFailed):  # not among the undecided
        decide_advancement(
            session=session,
            round_=contest.round,
            chosen=[a.id],
            actor_id=None,
            now=CLOSED,  # type: ignore[list-item]
        )
    decide_advancement(
        session=session,
        round_=contest.round,
        chosen=[d.id],
        actor_id=None,
        now=CLOSED,  # type: ignore[list-item]
    )
    assert entrants_of_round_two(session, contest) == {"A", "D"}
    assert [r[4] for r in results_of(session, contest)] == [True, False, False, True, False]
    assert pending_decisions(session=session, campaign_id=contest.campaign.id) == []  # type: ignore[arg-type]
    # Verification ignores the jury's decision: the counts did not change.
    info = campaign_rounds(session=session, campaign_id=contest.campaign.id)[0]  # type: ignore[arg-type]
    assert verify_round(session=session, info=info).ok


def test_ideas_going_to_a_jury_stage_are_its_candidates(session: Session) -> None:
    contest = make_contest(
        session,
        voters=2,
        advancement=Advancement.MIN_VOTES,
        advancement_value=1,
        later=(StageKind.JURY, StageKind.VOTING),
    )
    v, (a, b, *_rest) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], a, 1), (v[1], b, 1)])
    assert stage_inputs(session=session, stage=contest.jury_stage).ready is False
    certify_round(session=session, round_=contest.round, now=CLOSED)
    inputs = stage_inputs(session=session, stage=contest.jury_stage)
    assert inputs.ready and set(inputs.ideas) == {a.id, b.id}
    assert session.exec(select(func.count()).select_from(RoundEntrant)).one() == 0


def test_the_last_round_gives_the_winners(session: Session) -> None:
    contest = make_contest(session, voters=2, advancement_value=1, later=())
    v, (a, b, *_rest) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], b, 1), (v[1], b, 1), (v[0], a, 1)])
    certify_round(session=session, round_=contest.round, now=CLOSED)
    found = winners(session=session, campaign_id=contest.campaign.id)  # type: ignore[arg-type]
    assert found.ready and [w.title for w in found.ideas] == ["Idea B"]


# --- verify-results, the command -------------------------------------------------------------


def run_verify(engine: Engine, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COCREATE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "COCREATE_DATA_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "cocreate", "verify-results", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_verify_results_detects_a_tampered_vote(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    contest = make_contest(session, voters=3)
    v, (a, b, *_rest) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], a, 1), (v[1], a, 1), (v[2], b, 1)])
    certify_round(session=session, round_=contest.round, now=CLOSED)

    fine = run_verify(engine, tmp_path, "flavour", "--round", "1")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "tally matches; digest matches" in fine.stdout

    # Someone moves one vote from A to B behind the platform's back.
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE votes SET idea_id = :b WHERE id = (SELECT min(id) FROM votes)"),
            {"b": b.id},
        )
    tampered = run_verify(engine, tmp_path, "flavour")
    assert tampered.returncode == 1
    assert "tally DOES NOT MATCH; digest DOES NOT MATCH" in tampered.stdout
    assert f"idea {a.id}: " in tampered.stdout and "votes 2 -> 1" in tampered.stdout


def test_verify_results_detects_a_change_that_keeps_the_counts(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    contest = make_contest(session, voters=1)
    write_votes(session, contest.round, [(contest.voters[0], contest.ideas[0], 1)])
    certify_round(session=session, round_=contest.round, now=CLOSED)
    with engine.begin() as conn:
        conn.execute(text("UPDATE votes SET period = 5"))
    tampered = run_verify(engine, tmp_path, "flavour")
    assert tampered.returncode == 1
    assert "tally matches; digest DOES NOT MATCH" in tampered.stdout


def test_verify_results_fails_for_a_round_not_certified(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    make_contest(session)
    assert run_verify(engine, tmp_path, "flavour", "--round", "1").returncode == 1
    assert run_verify(engine, tmp_path, "no-such-campaign").returncode == 1


# --- Recount == certified tally, for any vote log ------------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["cast", "cast", "withdraw", "hold"]),
        st.integers(0, 3),  # voter
        st.integers(0, 4),  # idea
        st.integers(1, 6),  # points
    ),
    max_size=40,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations, method=st.sampled_from([Method.APPROVAL, Method.POINTS]))
def test_the_certified_tally_equals_a_full_recount(
    engine: Engine, ops: list[tuple[str, int, int, int]], method: Method
) -> None:
    from cocreate.voting.service import Signals
    from tests.conftest import empty_tables

    empty_tables(engine)
    with Session(engine, expire_on_commit=False) as session:
        contest = make_contest(session, voters=4, method=method, max_votes=3, points=10)
        voters: list[User] = contest.voters
        for action, voter, idea, points in ops:
            common = {
                "session": session,
                "round_": contest.round,
                "campaign": contest.campaign,
                "stage": contest.stage,
                "voter": voters[voter],
                "idea_id": contest.ideas[idea].id,
                "now": T0 + DAY,
            }
            if action == "withdraw":
                withdraw_vote(**common)  # type: ignore[arg-type]
            else:
                cast_vote(**common, weight=points, signals=Signals(hold=action == "hold"))  # type: ignore[arg-type]
        decide_held_votes(session, contest, "count")  # released: the live tally takes them
        certify_round(session=session, round_=contest.round, now=CLOSED)
        certified = {
            r.idea_id: (r.votes, r.points)
            for r in session.exec(
                select(RoundResult).where(RoundResult.round_id == contest.round.id)
            ).all()
            if r.votes
        }
        assert certified == recount(session=session, round_id=contest.round.id)  # type: ignore[arg-type]
        assert certified == live_tally(session=session, round_id=contest.round.id)  # type: ignore[arg-type]
        tallies = session.exec(select(func.count()).select_from(IdeaTally)).one()
        assert tallies <= len(contest.ideas)
        info = campaign_rounds(session=session, campaign_id=contest.campaign.id)[0]  # type: ignore[arg-type]
        assert verify_round(session=session, info=info).ok


@pytest.mark.parametrize("method", [Method.APPROVAL, Method.POINTS])
def test_live_pages_follow_the_standings_across_page_boundaries(
    session: Session, method: Method
) -> None:
    import random

    from cocreate.results.standings import certified_results, live_results

    contest = make_contest(session, ideas=23, voters=12, method=method, max_votes=23)
    chooser = random.Random(7)
    votes = [
        (voter, idea, chooser.randint(1, 3) if method == Method.POINTS else 1)
        for voter in contest.voters
        for idea in chooser.sample(contest.ideas[:17], chooser.randint(0, 5))  # 6 get none
    ]
    write_votes(session, contest.round, votes)
    pages = [
        live_results(session=session, round_=contest.round, page=n, per_page=4) for n in range(1, 8)
    ]  # noqa: E501
    live = [(r.idea_id, r.score, r.rank, r.tied) for p in pages for r in p.rows]
    assert pages[0].pages == 6 and pages[6].page == 6  # clamped to the last page
    live = live[:23]
    certify_round(session=session, round_=contest.round, now=CLOSED)
    frozen = certified_results(session=session, round_=contest.round, per_page=100).rows
    assert live == [(r.idea_id, r.score, r.rank, r.tied) for r in frozen]
    assert len({idea for idea, *_ in live}) == 23
    assert pages[0].top_score == frozen[0].score


def test_two_jurors_deciding_at_once_record_one_decision(session: Session, engine: Engine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    contest = make_contest(session, voters=3, advancement_value=1, tie_break=TieBreak.JURY)
    v, (a, b, c, *_rest) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], a, 1), (v[1], b, 1), (v[2], c, 1)])
    certify_round(session=session, round_=contest.round, now=CLOSED)

    def decide(idea_id: int) -> bool:
        with Session(engine, expire_on_commit=False) as own:
            from cocreate.voting.models import Round

            round_ = own.get(Round, contest.round.id)
            try:
                decide_advancement(
                    session=own,
                    round_=round_,
                    chosen=[idea_id],
                    actor_id=None,
                    now=CLOSED,  # type: ignore[arg-type]
                )
            except ValidationFailed:
                return False
            return True

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(decide, [a.id, b.id, c.id]))  # type: ignore[list-item]
    assert outcomes.count(True) == 1
    session.rollback()
    assert len(entrants_of_round_two(session, contest)) == 1
    assert [r[4] for r in results_of(session, contest)].count(True) == 1


def test_a_later_round_waits_for_the_stage_before_it(session: Session) -> None:
    contest = make_contest(session, voters=1, later=(StageKind.JURY, StageKind.VOTING))
    later = contest.rounds[1]
    with pytest.raises(ValidationFailed, match="has not decided"):
        certify_round(session=session, round_=later, now=T0 + 40 * DAY)
