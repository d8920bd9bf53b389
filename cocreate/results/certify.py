"""Certification: freeze the results of a closed round, record its digest, move ideas on.

`certify_round` reads the whole log once, in id order, through a server-side cursor
(`digest.read_vote_log`): it recounts the round and digests its anonymised form in the same
pass. The counts are frozen as `round_results` rows and the digest on the round. It runs as a
job from the results console (`certify_job`), after the round's fraud scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, col, select

from cocreate.audit.service import record
from cocreate.campaigns.models import Campaign, Stage
from cocreate.db import begin_write
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.results.advancement import carry_forward, stage_outcome
from cocreate.results.digest import read_vote_log, vote_log_key
from cocreate.results.models import RoundCertification, RoundResult
from cocreate.results.rounds import decisive_stages, entrant_ids
from cocreate.results.tally import advancing
from cocreate.voting.methods import method_of
from cocreate.voting.models import Round


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def certification_blockers(session: Session, round_: Round) -> list[str]:
    """Reasons, in the reader's language, that keep a closed round from being certified:
    open fraud cases of the round that score at least `cases.GATE_SCORE`, and held votes no
    moderator has counted or voided yet."""
    from cocreate.fraud.cases import GATE_SCORE, blocking_cases, kind_label
    from cocreate.fraud.held import held_count

    reasons: list[str] = []
    held = held_count(session=session, round_id=_id(round_.id))
    if held:
        from cocreate.brands.models import Brand

        brand = session.exec(
            select(Brand)
            .join(Campaign, col(Campaign.brand_id) == Brand.id)
            .where(Campaign.id == round_.campaign_id)
        ).one()
        reasons.append(
            ngettext(
                "%(n)d held vote is not decided yet. A moderator must count or void it on the "
                "held votes page: %(url)s",
                "%(n)d held votes are not decided yet. A moderator must count or void them on "
                "the held votes page: %(url)s",
                held,
            )
            % {"n": held, "url": f"/brands/{brand.slug}/fraud/rounds/{_id(round_.id)}/held"}
        )
    found = blocking_cases(session=session, round_id=_id(round_.id))
    if not found:
        return reasons
    listed = ", ".join(
        _("#%(id)d (%(kind)s, score %(score).2f)")
        % {"id": _id(case.id), "kind": kind_label(case.kind), "score": case.score}
        for case in found[:5]
    )
    return reasons + [
        ngettext(
            "%(n)d fraud case scoring %(gate).2f or more is not decided yet: %(cases)s. "
            "A moderator must void or clear it on the fraud review page first.",
            "%(n)d fraud cases scoring %(gate).2f or more are not decided yet: %(cases)s. "
            "A moderator must void or clear them on the fraud review page first.",
            len(found),
        )
        % {"n": len(found), "gate": GATE_SCORE, "cases": listed}
    ]


def certification_problems(
    *, session: Session, round_: Round, stage: Stage, now: datetime
) -> list[str]:
    if round_.certified_at is not None:
        return [_("This round is already certified; certified results never change.")]
    if now < stage.closes_at:
        return [_("The round is still open: results can be certified once it has closed.")]
    earlier = [
        s
        for s in decisive_stages(session=session, campaign_id=stage.campaign_id)
        if s.position < stage.position
    ]
    if earlier and not stage_outcome(session=session, stage=earlier[-1]).ready:
        return [_("The stage before this round has not decided which ideas take part in it.")]
    return certification_blockers(session, round_)


@dataclass(frozen=True)
class Certification:
    digest: str
    ideas: int
    votes_in_log: int
    advanced: int
    undecided: int


def certify_round(
    *,
    session: Session,
    round_: Round,
    now: datetime,
    actor_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Certification:
    """Freeze the results of a closed round, record the digest, move the winners on.

    Runs the fraud scan of the round first (`cocreate.fraud.cases.scan_round`). Refused
    (ValidationFailed) while the round is open, once it is certified, or while
    `certification_blockers` lists anything (an undecided fraud case above the gate).
    """
    stage = session.get(Stage, round_.stage_id)
    assert stage is not None
    if round_.certified_at is None and now >= stage.closes_at:
        # The fraud scan first (it stores its cases and commits), then the gate below.
        from cocreate.fraud.cases import scan_round

        scan_round(session=session, round_=round_, now=now)
    problems = certification_problems(session=session, round_=round_, stage=stage, now=now)
    if problems:
        raise ValidationFailed({"": " ".join(problems)})
    begin_write(session)
    # Lock the round (PostgreSQL): a vote holds a key-share lock on it until it commits, so
    # this waits for any vote still in flight, and a second certification waits for this one.
    locked = session.exec(
        select(Round)
        .where(Round.id == round_.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if locked.certified_at is not None:
        session.rollback()
        raise ValidationFailed(
            {"": _("This round is already certified; certified results never change.")}
        )
    entrants = entrant_ids(session=session, round_=locked)
    key = vote_log_key(session=session, campaign_id=locked.campaign_id)
    reading = read_vote_log(
        session=session, round_=locked, entrants=entrants, key=key, progress=progress
    )
    tally = reading.tally
    outcome = advancing(
        tally.standings,
        rule=locked.advancement,
        value=locked.advancement_value,
        tie_break=locked.tie_break,
        votes=tally.votes,
        eligible=set(entrants),
    )
    decision = outcome.decision
    round_id = _id(locked.id)
    rows = [
        {
            "round_id": round_id,
            "idea_id": s.idea_id,
            "position": position,
            "rank": s.rank,
            "tied": s.tied,
            "votes": tally.votes.get(s.idea_id, 0),
            "points": tally.points.get(s.idea_id, 0),
            "score": s.score,
            "advanced": decision[s.idea_id],
        }
        for position, s in enumerate(tally.standings, start=1)
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(RoundResult), rows[start : start + 5000])
    method_of(locked).certified(session, round_id, tally)
    advanced = [s.idea_id for s in tally.standings if decision[s.idea_id] is True]
    carry_forward(session=session, stage=stage, idea_ids=advanced, now=now)
    locked.certified_at = now
    locked.digest = reading.digest
    session.add(locked)
    session.add(
        RoundCertification(
            round_id=round_id,
            certified_by_id=actor_id,
            votes_in_log=reading.votes_in_log,
            counted_votes=sum(tally.votes.values()),
            counted_points=sum(tally.points.values()),
            ideas=len(rows),
            entrants=len(entrants),
            seats=outcome.seats,
        )
    )
    record(
        session=session,
        actor_id=actor_id,
        action="round.certified",
        subject_type="round",
        subject_id=round_id,
        campaign_id=locked.campaign_id,
        digest=reading.digest,
        votes_in_log=reading.votes_in_log,
        advanced=len(advanced),
    )
    session.commit()
    undecided = sum(1 for v in decision.values() if v is None)
    return Certification(reading.digest, len(rows), reading.votes_in_log, len(advanced), undecided)
