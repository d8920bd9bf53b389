"""The fraud case store and decisions against a real database (both backends): the log
loader, de-duplication on re-scan, void / restore / clear / suspend keeping the live tally
equal to a recount, the certification gate, and two moderators racing on one case."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from cocreate.accounts.models import User
from cocreate.audit.models import AuditEvent
from cocreate.forms import ValidationFailed
from cocreate.fraud import cases
from cocreate.fraud.log import MISSING, Finding, FindingKind
from cocreate.fraud.models import CaseStatus, FraudCase, FraudCaseVote
from cocreate.results.certify import certification_blockers, certify_round
from cocreate.voting.models import Round, Vote, VoteStatus
from cocreate.voting.service import live_tally, recount
from tests.fraud_support import RING_AT, Attacked, add_vote, make_attacked
from tests.results_support import DAY, T0, decide_held_votes

CLOSED = T0 + 11 * DAY


def store(session: Session, attacked: Attacked, *findings: Finding) -> cases.StoreSummary:
    loaded = cases.read_round_log(session=session, round_id=attacked.contest.round.id or 0)
    return cases.store_findings(
        session=session,
        round_=attacked.contest.round,
        loaded=loaded,
        findings=findings,
        now=T0 + 3 * DAY,
    )


def the_case(session: Session) -> FraudCase:
    session.rollback()
    return session.exec(select(FraudCase)).one()


def statuses(session: Session, attacked: Attacked) -> dict[int, str]:
    session.rollback()
    return {v.id or 0: v.status for v in attacked.ring_votes(session)}


def tally_matches(session: Session, attacked: Attacked) -> None:
    session.rollback()
    round_id = attacked.contest.round.id or 0
    assert live_tally(session=session, round_id=round_id) == recount(
        session=session, round_id=round_id
    )


# --- Loader ----------------------------------------------------------------------------------


def test_the_loader_reads_live_votes_with_codes_and_accounts(session: Session) -> None:
    attacked = make_attacked(session)
    contest = attacked.contest
    # A withdrawn vote and a void vote are not part of the log.
    add_vote(session, contest, attacked.honest[0], 2, T0 + 5 * DAY)
    session.execute(
        update(Vote)
        .where(
            col(Vote.voter_id) == attacked.honest[0].id, col(Vote.idea_id) == contest.ideas[2].id
        )
        .values(withdrawn_at=T0 + 6 * DAY)
    )
    add_vote(session, contest, attacked.honest[1], 2, T0 + 5 * DAY, status=VoteStatus.VOID)
    # Two spellings of one mailbox.
    attacked.ring[0].email = "jo.ring+a@gmail.com"
    attacked.ring[1].email = "joring+b@googlemail.com"
    attacked.ring[2].email = "throwaway@mailinator.com"  # a disposable-email domain
    session.add_all(attacked.ring[:3])
    session.commit()

    loaded = cases.read_round_log(session=session, round_id=contest.round.id or 0)
    log, accounts = loaded.log, loaded.accounts
    assert len(log) == 20  # 6 honest x 2 + 4 ring x 2
    assert list(log.vote_id) == sorted(log.vote_id)
    stored = {
        v.id: v
        for v in session.exec(
            select(Vote).where(Vote.round_id == contest.round.id, col(Vote.status) != "void")
        )
        if v.withdrawn_at is None
    }
    assert set(log.vote_id.tolist()) == set(stored)
    for i, vote_id in enumerate(log.vote_id.tolist()):
        vote = stored[vote_id]
        assert log.voter[i] == vote.voter_id and log.idea[i] == vote.idea_id
        assert abs(log.at[i] - vote.cast_at.timestamp()) < 0.01
        prefix = log.ip_prefix[i]
        if vote.ip_prefix_hash is None:
            assert prefix == MISSING
        else:
            assert loaded.value("ip_prefix", int(prefix)) == vote.ip_prefix_hash
        if vote.user_agent is not None:
            assert loaded.value("user_agent", int(log.user_agent[i])) == vote.user_agent
    ring_rows = np.isin(log.voter, [u.id for u in attacked.ring])
    assert len(set(log.ip_prefix[ring_rows].tolist())) == 1  # one network, one code
    assert len(set(log.device[ring_rows].tolist())) == 1
    assert set(accounts.user_id.tolist()) == {u.id for u in contest.voters}
    index = {u: i for i, u in enumerate(accounts.user_id.tolist())}
    first, second = index[attacked.ring[0].id], index[attacked.ring[1].id]
    assert accounts.mailbox[first] == accounts.mailbox[second] != MISSING
    assert loaded.value("mailbox", int(accounts.mailbox[first])) == "joring@gmail.com"
    assert accounts.email_domain[first] != accounts.email_domain[second]
    assert accounts.verified.all()
    assert abs(accounts.created_at[first] - (T0 - 30 * DAY).timestamp()) < 0.01
    assert accounts.disposable.tolist() == [
        u == attacked.ring[2].id for u in accounts.user_id.tolist()
    ]


def test_an_empty_round_loads_as_an_empty_log(session: Session) -> None:
    attacked = make_attacked(session, slug="other", brand_slug="other")
    log, accounts = cases.load_round_log(
        session=session, round_id=attacked.contest.rounds[1].id or 0
    )
    assert len(log) == 0 and len(accounts) == 0


# --- Store -----------------------------------------------------------------------------------


def test_a_finding_opens_a_case_with_its_votes_and_display_safe_evidence(
    session: Session,
) -> None:
    attacked = make_attacked(session)
    summary = store(session, attacked, attacked.finding(session))
    assert len(summary.opened) == 1
    case = the_case(session)
    assert case.status == CaseStatus.OPEN and case.kind == "ring" and case.score == 0.9
    assert case.votes == 8 and set(case.voter_ids) == {u.id for u in attacked.ring}
    linked = session.exec(select(FraudCaseVote).where(FraudCaseVote.case_id == case.id)).all()
    assert len(linked) == 8
    text = json.dumps(case.evidence)
    assert not re.search(r"[0-9a-f]{32}", text), text  # no whole hash anywhere
    shared = case.evidence["shared"]
    assert shared["ip_prefix"][0] == {"value": "ffffffffff…", "accounts": 4, "votes": 8}
    assert shared["user_agent"][0]["value"] == "python-requests/2.32"
    assert case.evidence["detector"]["window_seconds"] == 600
    assert case.evidence["detector"]["ip_prefixes"][0].endswith("…")


def test_rescanning_updates_the_case_instead_of_opening_another(session: Session) -> None:
    attacked = make_attacked(session)
    first = attacked.finding(session)
    store(session, attacked, first)
    again = store(session, attacked, attacked.finding(session, score=0.95))
    assert again.opened == [] and len(again.updated) == 1
    # The ring grows by one account: still the same group (most accounts in common).
    newcomer = attacked.honest[5]
    add_vote(session, attacked.contest, newcomer, 4, RING_AT + timedelta(minutes=20))
    session.commit()
    attacked.ring.append(newcomer)
    grown = store(session, attacked, attacked.finding(session, score=0.97))
    assert grown.opened == []
    case = the_case(session)
    assert case.score == 0.97 and newcomer.id in case.voter_ids
    assert case.votes == len(attacked.finding(session).vote_ids)
    count = session.exec(select(FraudCaseVote).where(FraudCaseVote.case_id == case.id)).all()
    assert len(count) == case.votes
    assert len(session.exec(select(FraudCase)).all()) == 1


def test_a_decided_case_is_not_reopened_by_the_same_finding(session: Session) -> None:
    attacked = make_attacked(session)
    finding = attacked.finding(session)
    store(session, attacked, finding)
    case = the_case(session)
    cases.clear_case(
        session=session,
        case=case,
        actor_id=attacked.contest.author.id or 0,
        reason="",
        now=T0 + 4 * DAY,
    )
    summary = store(session, attacked, finding)
    assert summary.already_decided == 1 and summary.opened == []
    # New votes from the same accounts open a follow-up case with those votes only.
    add_vote(session, attacked.contest, attacked.ring[0], 1, RING_AT + DAY)
    session.commit()
    summary = store(session, attacked, attacked.finding(session))
    assert len(summary.opened) == 1
    follow_up = session.get(FraudCase, summary.opened[0])
    assert follow_up is not None and follow_up.votes == 1 and follow_up.status == "open"
    # The next scan updates the follow-up, still without the votes already cleared.
    again = store(session, attacked, attacked.finding(session))
    assert again.opened == [] and again.updated == [follow_up.id]
    session.rollback()
    session.refresh(follow_up)
    assert follow_up.votes == 1
    linked = session.exec(select(FraudCaseVote).where(FraudCaseVote.case_id == follow_up.id))
    assert len(linked.all()) == 1


def test_two_scans_at_once_store_one_case(session: Session, engine: Engine) -> None:
    attacked = make_attacked(session)
    finding = attacked.finding(session)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def scan() -> None:
        with Session(engine, expire_on_commit=False) as own:
            round_ = own.get(Round, attacked.contest.round.id)
            assert round_ is not None
            loaded = cases.read_round_log(session=own, round_id=round_.id or 0)
            barrier.wait()
            try:
                cases.store_findings(
                    session=own, round_=round_, loaded=loaded, findings=[finding], now=CLOSED
                )
            except BaseException as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    session.rollback()
    (case,) = session.exec(select(FraudCase)).all()
    assert case.votes == 8


# --- Decisions -------------------------------------------------------------------------------


def test_void_then_restore_keeps_the_live_tally_equal_to_a_recount(session: Session) -> None:
    attacked = make_attacked(session)
    store(session, attacked, attacked.finding(session))
    case = the_case(session)
    before = statuses(session, attacked)
    round_id = attacked.contest.round.id or 0
    counted_before = recount(session=session, round_id=round_id)
    moderator = attacked.contest.author.id or 0

    with pytest.raises(cases.Refused):
        cases.void_case(session=session, case=case, actor_id=moderator, reason=" ", now=CLOSED)
    done = cases.void_case(
        session=session, case=case, actor_id=moderator, reason="ring of four", now=CLOSED
    )
    assert done.votes_changed == 8 and done.case.status == CaseStatus.VOIDED
    assert set(statuses(session, attacked).values()) == {"void"}
    tally_matches(session, attacked)
    idea_e, idea_a = attacked.contest.ideas[4].id or 0, attacked.contest.ideas[0].id or 0
    after = recount(session=session, round_id=round_id)
    assert after[idea_e][0] == counted_before[idea_e][0] - 3  # the held vote was never counted
    assert after[idea_a][0] == counted_before[idea_a][0] - 4
    previous = {
        row.vote_id: row.previous_status
        for row in session.exec(select(FraudCaseVote).where(FraudCaseVote.case_id == case.id))
    }
    assert previous == before
    vote = session.get(Vote, next(iter(before)))
    assert vote is not None and vote.status_reason and "ring of four" in vote.status_reason

    restored = cases.restore_case(
        session=session, case=case, actor_id=moderator, reason="mistake", now=CLOSED
    )
    assert restored.votes_changed == 8 and restored.case.status == CaseStatus.OPEN
    assert statuses(session, attacked) == before
    assert recount(session=session, round_id=round_id) == counted_before
    tally_matches(session, attacked)
    actions = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
    assert actions[-2:] == ["fraud_case.voided", "fraud_case.restored"]


def test_a_vote_withdrawn_while_void_is_not_counted_again(session: Session) -> None:
    attacked = make_attacked(session)
    store(session, attacked, attacked.finding(session))
    case = the_case(session)
    moderator = attacked.contest.author.id or 0
    cases.void_case(session=session, case=case, actor_id=moderator, reason="ring", now=CLOSED)
    session.execute(
        update(Vote)
        .where(col(Vote.voter_id) == attacked.ring[0].id)
        .values(withdrawn_at=T0 + 5 * DAY)
    )
    session.commit()
    cases.restore_case(session=session, case=case, actor_id=moderator, reason="", now=CLOSED)
    tally_matches(session, attacked)


def test_clear_and_a_second_decision_on_the_same_case(session: Session, engine: Engine) -> None:
    attacked = make_attacked(session)
    store(session, attacked, attacked.finding(session))
    case = the_case(session)
    before = statuses(session, attacked)
    moderator = attacked.contest.author.id or 0
    with Session(engine, expire_on_commit=False) as other:
        stale = other.get(FraudCase, case.id)  # what a second moderator's page still shows
        assert stale is not None and stale.status == CaseStatus.OPEN
        other.rollback()
        cases.clear_case(
            session=session, case=case, actor_id=moderator, reason="a club", now=CLOSED
        )
        assert the_case(session).status == CaseStatus.CLEARED
        assert statuses(session, attacked) == before
        with pytest.raises(cases.Refused) as refused:
            cases.void_case(session=other, case=stale, actor_id=moderator, reason="x", now=CLOSED)
    assert "Someone else" in refused.value.message
    assert the_case(session).status == CaseStatus.CLEARED
    assert statuses(session, attacked) == before
    tally_matches(session, attacked)


def test_two_moderators_voiding_at_once_make_exactly_one_decision(
    session: Session, engine: Engine
) -> None:
    attacked = make_attacked(session)
    store(session, attacked, attacked.finding(session))
    case_id = the_case(session).id
    moderators = attacked.honest[:2]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(moderator: User, action: str) -> None:
        with Session(engine, expire_on_commit=False) as own:
            case = own.get(FraudCase, case_id)
            assert case is not None
            barrier.wait()
            decide_ = cases.void_case if action == "void" else cases.clear_case
            try:
                decide_(session=own, case=case, actor_id=moderator.id or 0, reason="r", now=CLOSED)
            except cases.Refused:
                outcomes.append("refused")
            else:
                outcomes.append(action)

    threads = [
        threading.Thread(target=decide, args=(moderators[0], "void")),
        threading.Thread(target=decide, args=(moderators[1], "clear")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) in (["refused", "void"], ["clear", "refused"])
    final = the_case(session)
    assert final.status == ("voided" if "void" in outcomes else "cleared")
    assert final.decided_by_id == (moderators[0] if "void" in outcomes else moderators[1]).id
    tally_matches(session, attacked)
    decisions = session.exec(
        select(AuditEvent).where(col(AuditEvent.action).startswith("fraud_case."))
    ).all()
    assert len(decisions) == 1


def test_a_certified_round_refuses_void_and_restore(session: Session) -> None:
    attacked = make_attacked(session)
    store(session, attacked, attacked.finding(session, score=0.3))  # below the gate
    decide_held_votes(session, attacked.contest, "count")  # held votes block certification
    certify_round(session=session, round_=attacked.contest.round, now=CLOSED)
    case = the_case(session)
    before = statuses(session, attacked)
    with pytest.raises(cases.Refused) as refused:
        cases.void_case(
            session=session,
            case=case,
            actor_id=attacked.contest.author.id or 0,
            reason="late",
            now=CLOSED + DAY,
        )
    assert "certified" in refused.value.message
    assert the_case(session).status == CaseStatus.OPEN
    assert statuses(session, attacked) == before


def test_suspending_the_accounts_signs_them_out_and_can_be_undone(session: Session) -> None:
    attacked = make_attacked(session)
    admin = attacked.ring[0]
    admin.is_admin = True  # never suspended this way
    session.add(admin)
    session.commit()
    store(session, attacked, attacked.finding(session))
    case = the_case(session)
    moderator = attacked.contest.author.id or 0
    versions = {u.id: u.session_version for u in attacked.ring}
    with pytest.raises(cases.Refused):
        cases.suspend_accounts(
            session=session, case=case, actor_id=moderator, reason="", now=CLOSED
        )
    done = cases.suspend_accounts(
        session=session, case=case, actor_id=moderator, reason="one person", now=CLOSED
    )
    assert done.accounts_changed == 3
    session.rollback()
    for user in attacked.ring:
        session.refresh(user)
        if user.id == admin.id:
            assert not user.disabled and user.session_version == versions[user.id]
        else:
            assert user.disabled and user.session_version == versions[user.id] + 1
    undone = cases.unsuspend_accounts(
        session=session, case=case, actor_id=moderator, reason="", now=CLOSED
    )
    assert undone.accounts_changed == 3
    session.rollback()
    assert not any(session.get(User, u.id).disabled for u in attacked.ring)  # type: ignore[union-attr]
    assert the_case(session).suspended_ids == []


# --- Gate ------------------------------------------------------------------------------------


def test_an_open_case_above_the_gate_blocks_certification_until_decided(
    session: Session,
) -> None:
    attacked = make_attacked(session)
    round_ = attacked.contest.round
    store(session, attacked, attacked.finding(session, score=cases.GATE_SCORE))
    case = the_case(session)
    blockers = [b for b in certification_blockers(session, round_) if "fraud case" in b]
    assert len(blockers) == 1 and f"#{case.id}" in blockers[0]
    with pytest.raises(ValidationFailed) as refused:
        certify_round(session=session, round_=round_, now=CLOSED)
    assert "fraud case" in refused.value.errors[""]
    session.rollback()
    assert session.get(Round, round_.id).certified_at is None  # type: ignore[union-attr]
    cases.void_case(
        session=session,
        case=case,
        actor_id=attacked.contest.author.id or 0,
        reason="ring",
        now=CLOSED,
    )
    # Voiding the case also decided its held vote (Voter 9's): nothing blocks any more.
    assert certification_blockers(session, round_) == []
    done = certify_round(session=session, round_=round_, now=CLOSED)
    assert done.ideas > 0


def test_a_case_below_the_gate_does_not_block(session: Session) -> None:
    attacked = make_attacked(session)
    store(session, attacked, attacked.finding(session, score=cases.GATE_SCORE - 0.01))
    blockers = certification_blockers(session, attacked.contest.round)
    assert len(blockers) == 1 and "1 held vote is not decided yet" in blockers[0]


def test_scan_round_stores_what_the_scanner_finds(session: Session) -> None:
    attacked = make_attacked(session)
    finding = attacked.finding(session)
    summary = cases.scan_round(
        session=session,
        round_=attacked.contest.round,
        now=CLOSED,
        scanner=lambda log, accounts: [finding] if len(log) == 20 else [],
    )
    assert summary.votes == 20 and summary.accounts == 10 and summary.opened == 1
    assert summary.by_kind == {"ring": [0.9]}
    again = cases.scan_round(
        session=session,
        round_=attacked.contest.round,
        now=CLOSED,
        scanner=lambda log, accounts: [finding],
    )
    assert again.opened == 0 and again.updated == 1


def test_a_burst_matches_only_a_case_about_the_same_idea(session: Session) -> None:
    attacked = make_attacked(session)
    finding = attacked.finding(session)
    burst = Finding(
        FindingKind.BURST, 0.8, finding.vote_ids, finding.voter_ids, finding.idea_ids, {}
    )
    other = Finding(
        FindingKind.BURST,
        0.8,
        finding.vote_ids,
        finding.voter_ids,
        frozenset({attacked.contest.ideas[0].id or 0}),
        {},
    )
    summary = store(session, attacked, finding, burst, other)
    assert len(summary.opened) == 3
