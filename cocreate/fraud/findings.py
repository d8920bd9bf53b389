"""Storing what the detectors find as fraud cases, and the scan of a round.

`store_findings` turns findings into cases: a finding that matches a case already opened
(same fingerprint, or mostly the same accounts) updates it, so re-running the scan never
duplicates cases.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select as core_select
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from cocreate.db import begin_write
from cocreate.fraud.detectors import scan
from cocreate.fraud.evidence import evidence_of
from cocreate.fraud.loader import RoundLog, read_round_log
from cocreate.fraud.log import Accounts, Finding, FindingKind, VoteLog
from cocreate.fraud.models import CaseStatus, FraudCase, FraudCaseVote
from cocreate.voting.models import Round

ID_BATCH = 5_000  # ids per IN (...) list
MATCH_OVERLAP = 0.5  # Jaccard similarity of two accounts sets that makes them one group
ADVISORY_SPACE = 6_006  # first key of the PostgreSQL advisory lock of a round's case store

CASES = FraudCase.__table__  # type: ignore[attr-defined]
CASE_VOTES = FraudCaseVote.__table__  # type: ignore[attr-defined]


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _batches(values: Sequence[int], size: int = ID_BATCH) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def fingerprint(kind: str, voter_ids: Iterable[int], idea_ids: Iterable[int]) -> str:
    text = f"{kind}|{','.join(map(str, sorted(voter_ids)))}|{','.join(map(str, sorted(idea_ids)))}"
    return hashlib.sha256(text.encode()).hexdigest()


def _overlap(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _same_group(case: FraudCase, finding: Finding, print_: str) -> bool:
    if case.kind != finding.kind.value:
        return False
    if case.fingerprint == print_:
        return True
    if finding.kind == FindingKind.BURST:  # a burst is about its idea
        return set(case.idea_ids) == set(finding.idea_ids) and (
            _overlap(set(case.voter_ids), set(finding.voter_ids)) >= MATCH_OVERLAP
        )
    return _overlap(set(case.voter_ids), set(finding.voter_ids)) >= MATCH_OVERLAP


@dataclass
class StoreSummary:
    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    already_decided: int = 0  # findings whose every vote a moderator has decided already


def _case_vote_ids(session: Session, case_ids: Sequence[int]) -> set[int]:
    if not case_ids:
        return set()
    rows = session.execute(
        core_select(CASE_VOTES.c.vote_id).where(CASE_VOTES.c.case_id.in_(case_ids))
    )
    return {int(v) for (v,) in rows}


def _add_case_votes(session: Session, case_id: int, vote_ids: Iterable[int]) -> None:
    rows = [{"case_id": case_id, "vote_id": v} for v in sorted(vote_ids)]
    for start in range(0, len(rows), ID_BATCH):
        session.execute(
            _insert(session)(FraudCaseVote)
            .values(rows[start : start + ID_BATCH])
            .on_conflict_do_nothing(index_elements=["case_id", "vote_id"])
        )


def store_findings(
    *,
    session: Session,
    round_: Round,
    loaded: RoundLog,
    findings: Sequence[Finding],
    now: datetime,
) -> StoreSummary:
    """Open a case per new finding; update the open case a finding matches. Commits.

    A finding that matches decided cases only (voided or cleared) opens a follow-up case
    with the votes no moderator has decided yet, or nothing when there are none.
    """
    round_id = _id(round_.id)
    begin_write(session)
    if session.get_bind().dialect.name == "postgresql":
        # Two scans of one round at once (the command and a certification) take turns: the
        # second sees the first one's cases instead of colliding on their fingerprints.
        # An advisory lock, not the round's row: votes keep flowing meanwhile.
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :round)"),
            {"space": ADVISORY_SPACE, "round": round_id},
        )
    cases = list(session.exec(select(FraudCase).where(FraudCase.round_id == round_id)).all())
    prints = {case.fingerprint for case in cases}
    summary = StoreSummary()
    for finding in sorted(findings, key=lambda f: -f.score):
        print_ = fingerprint(finding.kind.value, finding.voter_ids, finding.idea_ids)
        matches = [case for case in cases if _same_group(case, finding, print_)]
        open_case = next((c for c in matches if c.status == CaseStatus.OPEN), None)
        score = min(1.0, max(0.0, float(finding.score)))
        decided = [_id(c.id) for c in matches if c.status != CaseStatus.OPEN]
        if open_case is not None:
            case_id = _id(open_case.id)
            # A follow-up case never takes back votes a moderator has decided already.
            wanted = set(finding.vote_ids) - _case_vote_ids(session, decided)
            if open_case.fingerprint != print_ and print_ not in prints:
                prints.discard(open_case.fingerprint)
                open_case.fingerprint = print_
                prints.add(print_)
            open_case.score = score
            open_case.voter_ids = sorted(finding.voter_ids)
            open_case.idea_ids = sorted(finding.idea_ids)
            open_case.evidence = evidence_of(loaded, finding)
            open_case.scanned_at = now
            held = _case_vote_ids(session, [case_id])
            gone = sorted(held - wanted)
            for batch in _batches(gone):
                session.execute(
                    CASE_VOTES.delete().where(
                        CASE_VOTES.c.case_id == case_id,
                        CASE_VOTES.c.vote_id.in_(batch),
                        CASE_VOTES.c.previous_status.is_(None),
                    )
                )
            _add_case_votes(session, case_id, wanted - held)
            open_case.votes = len(wanted)
            session.add(open_case)
            summary.updated.append(case_id)
            continue
        vote_ids = set(finding.vote_ids)
        if matches:
            vote_ids -= _case_vote_ids(session, [_id(c.id) for c in matches])
            if not vote_ids:
                summary.already_decided += 1
                continue
            print_ = hashlib.sha256(
                (print_ + "|after|" + ",".join(str(c.id) for c in matches)).encode()
            ).hexdigest()
        if print_ in prints:  # the follow-up of these decided cases exists already
            summary.already_decided += 1
            continue
        case = FraudCase(
            round_id=round_id,
            campaign_id=round_.campaign_id,
            kind=finding.kind.value,
            score=score,
            fingerprint=print_,
            voter_ids=sorted(finding.voter_ids),
            idea_ids=sorted(finding.idea_ids),
            votes=len(vote_ids),
            evidence=evidence_of(loaded, finding),
            opened_at=now,
            scanned_at=now,
        )
        session.add(case)
        session.flush()
        _add_case_votes(session, _id(case.id), vote_ids)
        cases.append(case)
        prints.add(print_)
        summary.opened.append(_id(case.id))
    session.commit()
    return summary


Scanner = Callable[[VoteLog, Accounts], list[Finding]]


def default_scanner() -> Scanner:
    """The detectors of `cocreate.fraud.detectors` with their default thresholds."""

    def scanner(log: VoteLog, accounts: Accounts) -> list[Finding]:
        return scan(log, accounts)

    return scanner


@dataclass(frozen=True)
class ScanSummary:
    round_id: int
    votes: int
    accounts: int
    findings: int
    opened: int
    updated: int
    already_decided: int
    by_kind: dict[str, list[float]]  # kind -> scores of the round's open cases, highest first
    load_seconds: float
    scan_seconds: float
    store_seconds: float


def scan_round(
    *, session: Session, round_: Round, now: datetime, scanner: Scanner | None = None
) -> ScanSummary:
    """Load the round's log, run the detectors, store the findings as cases. Commits."""
    round_id = _id(round_.id)
    started = time.perf_counter()
    loaded = read_round_log(session=session, round_id=round_id)
    loaded_at = time.perf_counter()
    findings = (scanner or default_scanner())(loaded.log, loaded.accounts)
    scanned_at = time.perf_counter()
    stored = store_findings(
        session=session, round_=round_, loaded=loaded, findings=findings, now=now
    )
    stored_at = time.perf_counter()
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, score in session.execute(
        core_select(CASES.c.kind, CASES.c.score)
        .where(CASES.c.round_id == round_id, CASES.c.status == CaseStatus.OPEN.value)
        .order_by(CASES.c.score.desc())
    ):
        by_kind[kind].append(float(score))
    session.commit()
    return ScanSummary(
        round_id=round_id,
        votes=len(loaded.log),
        accounts=len(loaded.accounts),
        findings=len(findings),
        opened=len(stored.opened),
        updated=len(stored.updated),
        already_decided=stored.already_decided,
        by_kind=dict(by_kind),
        load_seconds=loaded_at - started,
        scan_seconds=scanned_at - loaded_at,
        store_seconds=stored_at - scanned_at,
    )
