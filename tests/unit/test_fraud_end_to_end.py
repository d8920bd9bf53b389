"""The whole of layer 2 against a real database: an honest crowd and a lockstep ring written
to the vote log, certification runs the real detectors, the ring's case blocks it, a moderator
voids the case and the certified results no longer count the ring."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import insert
from sqlmodel import Session, select

from cocreate.forms import ValidationFailed
from cocreate.fraud import cases
from cocreate.fraud.models import FraudCase
from cocreate.results.certify import certify_round
from cocreate.results.models import RoundResult
from cocreate.voting.models import Vote
from cocreate.voting.service import live_tally, recount
from tests.results_support import DAY, T0, make_contest, rebuild_tallies

HONEST, RING, IDEAS, TARGETS = 300, 25, 40, (30, 31, 32)
CLOSED = T0 + 11 * DAY


def test_certification_finds_the_ring_and_waits_for_the_moderator(session: Session) -> None:
    contest = make_contest(session, ideas=IDEAS, voters=HONEST + RING, max_votes=10)
    rng = np.random.default_rng(11)
    weights = 1.0 / np.arange(1, IDEAS + 1)
    weights /= weights.sum()
    rows = []

    def vote(voter: int, idea: int, seconds: float) -> None:
        user = contest.voters[voter]
        rows.append(
            {
                "round_id": contest.round.id,
                "voter_id": user.id,
                "idea_id": contest.ideas[idea].id,
                "period": 0,
                "weight": 1,
                "status": "counted",
                "cast_at": T0 + timedelta(seconds=seconds),
                "ip_hash": f"{voter:064x}",
                "ip_prefix_hash": f"{voter:064x}",
                "device_id": f"device-{voter}",
                "user_agent": "Mozilla/5.0",
                "risk_score": 0.0,
                "risk_signals": {},
            }
        )

    for voter in range(HONEST):
        for idea in rng.choice(IDEAS, size=int(rng.integers(1, 8)), replace=False, p=weights):
            day = int(rng.integers(0, 7))
            vote(voter, int(idea), day * 86400 + float(rng.uniform(0, 14 * 3600)))
    ring_at = 3 * 86400 + 10 * 3600
    for voter in range(HONEST, HONEST + RING):
        moment = ring_at + float(rng.uniform(0, 3300))
        for k, idea in enumerate(TARGETS):
            vote(voter, idea, moment + 60 * k)
    session.execute(insert(Vote), rows)
    session.commit()
    rebuild_tallies(session, contest.round)

    with pytest.raises(ValidationFailed) as refused:
        certify_round(session=session, round_=contest.round, now=CLOSED)
    assert "fraud case" in refused.value.errors[""]
    session.rollback()
    found = session.exec(select(FraudCase)).all()
    ring_ids = {u.id for u in contest.voters[HONEST:]}
    (case,) = [c for c in found if c.kind == "ring"]
    assert set(case.voter_ids) == ring_ids
    assert set(case.idea_ids) == {contest.ideas[i].id for i in TARGETS}
    assert case.score >= cases.GATE_SCORE and case.votes == RING * len(TARGETS)
    assert not re.search(r"[0-9a-f]{32}", json.dumps([c.evidence for c in found]))
    assert case.evidence["detector"]["reason"] == "lockstep"
    # Nothing honest is accused.
    accused = {v for c in found for v in c.voter_ids}
    assert accused <= ring_ids

    cases.void_case(
        session=session,
        case=case,
        actor_id=contest.author.id or 0,
        reason="lockstep ring",
        now=CLOSED,
    )
    round_id = contest.round.id or 0
    assert live_tally(session=session, round_id=round_id) == recount(
        session=session, round_id=round_id
    )
    for other in found:
        if other.id != case.id and other.status == "open":
            cases.clear_case(
                session=session, case=other, actor_id=contest.author.id or 0, reason="", now=CLOSED
            )
    certify_round(session=session, round_=contest.round, now=CLOSED)
    counted = {
        r.idea_id: r.votes
        for r in session.exec(select(RoundResult).where(RoundResult.round_id == round_id))
    }
    honest_counts: dict[int, int] = {}
    for row in rows:
        if row["voter_id"] not in ring_ids:
            honest_counts[row["idea_id"]] = honest_counts.get(row["idea_id"], 0) + 1
    for idea in TARGETS:
        idea_id = contest.ideas[idea].id or 0
        assert counted.get(idea_id, 0) == honest_counts.get(idea_id, 0)
