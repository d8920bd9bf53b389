"""Results of voting rounds: tally, certification, advancement, verification and exports.

The tally is always a function of the vote log (counted votes that were not withdrawn). While
a round is open the pages read the per-idea `idea_tallies` rows the vote path keeps current;
once the round has closed, `certify_round` reads the whole log once, in id order, through a
server-side cursor, and in that single pass both recounts it and computes the digest of its
anonymised form. The counts are frozen as `round_results` rows and the digest on the round.
Anyone holding the published vote-log CSV can recompute the digest; `cocreate verify-results`
recomputes both from the database and compares.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import hmac
import io
import math
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, func, insert, update
from sqlalchemy import select as sql_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from cocreate.audit.service import record
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.campaigns.timeline import stage_name
from cocreate.csv_cells import neutral_row
from cocreate.db import begin_write, stream_rows
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.voting.entrants import in_round, is_first_round
from cocreate.voting.methods import Standing, method_named, method_of
from cocreate.voting.methods import Tally as Tally
from cocreate.voting.models import (
    Advancement,
    IdeaTally,
    Round,
    RoundEntrant,
    TieBreak,
    Vote,
    VoteStatus,
)
from cocreate.voting.results_models import (
    Announcement,
    JuryOutcome,
    JuryPanel,
    RoundCertification,
    RoundResult,
    VoteLogKey,
)

PER_PAGE = 50
LOG_COLUMNS = (
    "vote_id",
    "voter",
    "idea_id",
    "period",
    "weight",
    "status",
    "cast_at",
    "withdrawn_at",
)
LOG_HEADER = ",".join(LOG_COLUMNS) + "\n"


def _id(value: int | None) -> int:
    assert value is not None, "flushed rows have ids"
    return value


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# --- Rounds and stages of a campaign ---------------------------------------------------------


@dataclass(frozen=True)
class RoundInfo:
    round: Round
    stage: Stage
    number: int  # 1.. among the campaign's voting rounds, in timeline order

    @property
    def name(self) -> str:
        return stage_name(self.stage)


def campaign_rounds(*, session: Session, campaign_id: int) -> list[RoundInfo]:
    rows = session.exec(
        select(Round, Stage)
        .join(Stage, col(Stage.id) == Round.stage_id)
        .where(Round.campaign_id == campaign_id)
        .order_by(col(Stage.position))
    ).all()
    return [RoundInfo(r, s, n) for n, (r, s) in enumerate(rows, start=1)]


def find_round(rounds: Sequence[RoundInfo], number: int | None, now: datetime) -> RoundInfo | None:
    """Round `number`; when None, the round worth showing: the latest that has opened."""
    if number is not None:
        return next((info for info in rounds if info.number == number), None)
    opened = [info for info in rounds if info.stage.opens_at <= now]
    return opened[-1] if opened else (rounds[0] if rounds else None)


def _stages(session: Session, campaign_id: int) -> list[Stage]:
    return list(
        session.exec(
            select(Stage).where(Stage.campaign_id == campaign_id).order_by(col(Stage.position))
        ).all()
    )


def _decisive(stages: Sequence[Stage]) -> list[Stage]:
    """Stages that select ideas: voting rounds and jury stages."""
    return [s for s in stages if s.kind in (StageKind.VOTING, StageKind.JURY)]


def _is_first_round(session: Session, round_: Round) -> bool:
    """The campaign's first voting round takes every approved idea."""
    return is_first_round(session=session, round_=round_)


def _entrant_condition(round_: Round, *, first: bool) -> Any:
    """SQL condition on Idea for "takes part in this round" (`entrants.takes_part`)."""
    return in_round(round_, first_round=first)


def entrant_ids(*, session: Session, round_: Round) -> list[int]:
    first = _is_first_round(session, round_)
    ids = session.exec(
        select(Idea.id).where(_entrant_condition(round_, first=first)).order_by(col(Idea.id))
    ).all()
    return [_id(i) for i in ids]


def count_entrants(*, session: Session, round_: Round, first: bool | None = None) -> int:
    if first is None:
        first = _is_first_round(session, round_)
    return int(
        session.exec(
            select(func.count()).select_from(Idea).where(_entrant_condition(round_, first=first))
        ).one()
    )


def submission_order(*, session: Session, campaign_id: int) -> dict[int, tuple[float, int]]:
    """The tie-break key "earlier submission": when the idea was submitted, then its id."""
    rows = session.exec(
        select(Idea.id, Idea.submitted_at, Idea.created_at).where(Idea.campaign_id == campaign_id)
    ).all()
    return {
        _id(idea_id): ((submitted or created).timestamp(), _id(idea_id))
        for idea_id, submitted, created in rows
    }


def tie_break_key(
    round_: Round, order: Mapping[int, tuple[float, int]]
) -> Callable[[int], tuple[object, ...]] | None:
    """Orders ideas inside a tie. A jury tie-break orders nothing: the jury decides."""
    if round_.tie_break == TieBreak.EARLIER_SUBMISSION:
        return lambda idea_id: order.get(idea_id, (math.inf, idea_id))
    return None


# --- The tally: the round's method counts --------------------------------------------------


def tally_votes(
    method: str,
    votes: Iterable[tuple[int, int, int, int]],
    entrants: Iterable[int],
    *,
    tie_break: Callable[[int], tuple[object, ...]] | None = None,
) -> Tally:
    """The tally of counted, live votes given as (voter_id, idea_id, period, weight)."""
    count = method_named(method).tally()
    for voter_id, idea_id, period, weight in votes:
        count.add(voter_id, idea_id, period, weight)
    return count.result(entrants, tie_break=tie_break)


# --- Advancement: pure ---------------------------------------------------------------------


@dataclass(frozen=True)
class Advancing:
    decision: dict[int, bool | None]  # True goes on, False stops, None: the jury decides
    seats: int  # how many ideas go on in all, once the jury has decided


def advancing(
    standings: Sequence[Standing],
    *,
    rule: str,
    value: int,
    tie_break: str,
    votes: Mapping[int, int],
    eligible: set[int],
) -> Advancing:
    """Who goes on from a round.

    `standings` are in published order (ties already ordered by earlier submission when that
    is the rule). Ideas that are no longer entrants (rejected, merged meanwhile) never go on.
    """
    decision: dict[int, bool | None] = {s.idea_id: False for s in standings}
    field_ = [s for s in standings if s.idea_id in eligible]
    if rule == Advancement.MIN_VOTES:
        for s in field_:
            decision[s.idea_id] = votes.get(s.idea_id, 0) >= value
        return Advancing(decision, sum(1 for v in decision.values() if v))
    if rule == Advancement.TOP_PERCENT:
        cut = math.ceil(len(field_) * min(max(value, 0), 100) / 100)
    else:
        cut = max(value, 0)
    cut = min(cut, len(field_))
    if rule == Advancement.JURY:
        for s in field_:
            decision[s.idea_id] = True if cut == len(field_) else None
        return Advancing(decision, cut)
    if cut == 0:
        return Advancing(decision, 0)
    boundary = field_[cut - 1].score
    tie_across_the_cut = cut < len(field_) and field_[cut].score == boundary
    for position, s in enumerate(field_):
        if not tie_across_the_cut or tie_break == TieBreak.EARLIER_SUBMISSION:
            decision[s.idea_id] = position < cut
        elif s.score > boundary:
            decision[s.idea_id] = True
        elif s.score == boundary:
            decision[s.idea_id] = None  # tied at the cut: the jury decides
    return Advancing(decision, cut)


# --- The vote log: streamed, anonymised, digested -----------------------------------------


def vote_log_key(*, session: Session, campaign_id: int) -> bytes:
    """The campaign's pseudonym key, made on first use (race-safe: insert or keep)."""
    session.execute(
        _insert(session)(VoteLogKey)
        .values(campaign_id=campaign_id, key=secrets.token_hex(32))
        .on_conflict_do_nothing(index_elements=["campaign_id"])
    )
    key = session.exec(select(VoteLogKey.key).where(VoteLogKey.campaign_id == campaign_id)).one()
    return bytes.fromhex(key)


class Pseudonyms:
    """Voter id -> HMAC-SHA256(campaign key, id), 16 hex digits. Cached, with a bounded cache
    (a voter's votes are usually close together in id order)."""

    def __init__(self, key: bytes, cache_size: int = 200_000) -> None:
        self._key = key
        self._cache: dict[int, str] = {}
        self._cache_size = cache_size

    def __call__(self, voter_id: int) -> str:
        found = self._cache.get(voter_id)
        if found is None:
            found = hmac.new(self._key, str(voter_id).encode(), hashlib.sha256).hexdigest()[:16]
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[voter_id] = found
        return found


def _utc_text(session: Session, column: Any) -> Any:
    """A timestamp column as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC), "" when NULL.

    Spelled by the database, the same on both backends. SQLite holds SQLAlchemy's
    "YYYY-MM-DD HH:MM:SS.ffffff", already in UTC (UTCDateTime).
    """
    if session.get_bind().dialect.name == "postgresql":
        spelled: Any = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    else:
        spelled = func.replace(column, " ", "T").concat("Z")
    return func.coalesce(spelled, "")


# voter id, vote id, the rest of the log line ("idea,period,weight,status,cast_at,withdrawn_at"),
# then for the tally: the idea when the vote counts (counted, not withdrawn) else None,
# its weight and its period.
LogRow = tuple[int, int, str, int | None, int, int]


def _log_statement(session: Session, round_id: int) -> Any:
    votes = Vote.__table__.c  # type: ignore[attr-defined]
    rest: Any = cast(votes.idea_id, String)
    for part in (
        cast(votes.period, String),
        cast(votes.weight, String),
        votes.status,
        _utc_text(session, votes.cast_at),
        _utc_text(session, votes.withdrawn_at),
    ):
        rest = rest.concat(",").concat(part)
    counts = and_(votes.status == VoteStatus.COUNTED.value, votes.withdrawn_at.is_(None))
    return (
        sql_select(
            votes.voter_id,
            votes.id,
            rest,
            case((counts, votes.idea_id), else_=None),
            votes.weight,
            votes.period,
        )
        .where(votes.round_id == round_id)
        .order_by(votes.id)
    )


def stream_log(*, session: Session, round_id: int) -> Iterator[Sequence[LogRow]]:
    """Every vote of the round (withdrawn, held and void ones included) in id order, in
    batches, from a server-side cursor on PostgreSQL: memory stays flat however many votes.

    The database builds each line but the pseudonym, and the rows go straight from the
    DB-API cursor, in the session's transaction: over ten million votes, SQLAlchemy's
    per-row objects and Python's datetime formatting were most of the time.
    """
    yield from stream_rows(session, _log_statement(session, round_id), "vote_log")


def log_line(row: LogRow, pseudonym: Callable[[int], str]) -> str:
    """The canonical line of one vote, as in the published CSV (no field needs quoting, and
    none begins with a formula character: `csv_cells.neutral_cell` would leave each as it
    is, so the digest covers exactly the bytes published)."""
    return f"{row[1]},{pseudonym(row[0])},{row[2]}\n"


@dataclass(frozen=True)
class LogReading:
    tally: Tally
    digest: str
    votes_in_log: int


def read_vote_log(
    *,
    session: Session,
    round_: Round,
    entrants: Iterable[int],
    key: bytes,
    progress: Callable[[int], None] | None = None,
) -> LogReading:
    """One pass over the log: the tally of counted live votes, and the SHA-256 digest of the
    anonymised log (the vote-log CSV without its header line). One statement, so the two
    cannot disagree, whatever isolation level the database runs at."""
    builder = method_of(round_).tally()
    add = builder.add
    digest = hashlib.sha256()
    pseudonym = Pseudonyms(key)
    n = 0
    for rows in method_of(round_).vote_log(session, _id(round_.id)):
        n += len(rows)
        digest.update("".join([log_line(row, pseudonym) for row in rows]).encode())
        for voter_id, _vote_id, _rest, idea_id, weight, period in rows:
            if idea_id is not None:
                add(voter_id, idea_id, period, weight)
        if progress is not None:
            progress(n)  # how many votes read so far (a job shows it on its page)
    order = submission_order(session=session, campaign_id=round_.campaign_id)
    tally = builder.result(entrants, tie_break=tie_break_key(round_, order))
    return LogReading(tally, digest.hexdigest(), n)


def vote_log_csv(*, session: Session, round_: Round) -> Iterator[str]:
    """The anonymised vote log as CSV text chunks: a header line, then one line per vote."""
    key = vote_log_key(session=session, campaign_id=round_.campaign_id)
    pseudonym = Pseudonyms(key)
    yield method_of(round_).log_header()
    for rows in method_of(round_).vote_log(session, _id(round_.id)):
        yield "".join([log_line(row, pseudonym) for row in rows])


# --- Certification ---------------------------------------------------------------------------


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
        s for s in _decisive(_stages(session, stage.campaign_id)) if s.position < stage.position
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


def carry_forward(
    *, session: Session, stage: Stage, idea_ids: Sequence[int], now: datetime
) -> None:
    """Ideas that go on from `stage` enter the next voting round (a jury stage in between
    reads them itself; after the last selecting stage they are the winners)."""
    if not idea_ids:
        return
    later = [
        s for s in _decisive(_stages(session, stage.campaign_id)) if s.position > stage.position
    ]
    if not later or later[0].kind != StageKind.VOTING:
        return
    target = later[0]
    session.execute(
        _insert(session)(Round)
        .values(stage_id=target.id, campaign_id=target.campaign_id)
        .on_conflict_do_nothing(index_elements=["stage_id"])
    )
    round_id = session.exec(select(Round.id).where(Round.stage_id == target.id)).one()
    session.execute(
        _insert(session)(RoundEntrant)
        .values([{"round_id": round_id, "idea_id": i, "advanced_at": now} for i in idea_ids])
        .on_conflict_do_nothing(index_elements=["round_id", "idea_id"])
    )


# --- The jury's decision on undecided ideas --------------------------------------------------


@dataclass(frozen=True)
class PendingDecision:
    info: RoundInfo
    slots: int  # how many of the undecided ideas go on
    ideas: list[tuple[int, str, int]]  # (idea id, title, score), in published order


def pending_decisions(*, session: Session, campaign_id: int) -> list[PendingDecision]:
    """Certified rounds that wait for the jury: a tie at the cut, or a jury-picked round."""
    pending = []
    for info in campaign_rounds(session=session, campaign_id=campaign_id):
        if info.round.certified_at is None:
            continue
        rows = session.exec(
            select(RoundResult, Idea.title)
            .join(Idea, col(Idea.id) == RoundResult.idea_id)
            .where(RoundResult.round_id == info.round.id, col(RoundResult.advanced).is_(None))
            .order_by(col(RoundResult.position))
            .limit(500)
        ).all()
        if not rows:
            continue
        pending.append(
            PendingDecision(
                info,
                _open_slots(session, info.round),
                [(r.idea_id, title, r.score) for r, title in rows],
            )
        )
    return pending


def _open_slots(session: Session, round_: Round) -> int:
    """Seats still free once the ideas that surely go on have taken theirs."""
    seats = session.exec(
        select(RoundCertification.seats).where(RoundCertification.round_id == round_.id)
    ).one()
    advanced = session.exec(
        select(func.count())
        .select_from(RoundResult)
        .where(RoundResult.round_id == round_.id, col(RoundResult.advanced).is_(True))
    ).one()
    return max(int(seats) - int(advanced), 0)


def decide_advancement(
    *,
    session: Session,
    round_: Round,
    chosen: Sequence[int],
    actor_id: int | None,
    now: datetime,
) -> list[int]:
    """The jury's choice among a certified round's undecided ideas. Audited."""
    begin_write(session)
    # Two jurors deciding at once: the second waits here, then finds nothing left to decide.
    session.exec(select(Round.id).where(Round.id == round_.id).with_for_update()).one()
    undecided = list(
        session.exec(
            select(RoundResult.idea_id)
            .where(RoundResult.round_id == round_.id, col(RoundResult.advanced).is_(None))
            .order_by(col(RoundResult.position))
        ).all()
    )
    if round_.certified_at is None or not undecided:
        session.rollback()
        raise ValidationFailed({"": _("There is nothing left to decide in this round.")})
    slots = _open_slots(session, round_)
    picked = list(dict.fromkeys(chosen))
    if any(idea_id not in undecided for idea_id in picked):
        session.rollback()
        raise ValidationFailed({"": _("Choose only among the ideas listed.")})
    if len(picked) != slots:
        session.rollback()
        message = ngettext(
            "Choose exactly %(num)d idea.", "Choose exactly %(num)d ideas.", slots
        ) % {"num": slots}
        raise ValidationFailed({"": message})
    undecided_rows = and_(
        col(RoundResult.round_id) == round_.id, col(RoundResult.advanced).is_(None)
    )
    if picked:
        session.execute(
            update(RoundResult)
            .where(undecided_rows, col(RoundResult.idea_id).in_(picked))
            .values(advanced=True)
        )
    session.execute(update(RoundResult).where(undecided_rows).values(advanced=False))
    stage = session.get(Stage, round_.stage_id)
    assert stage is not None
    carry_forward(session=session, stage=stage, idea_ids=picked, now=now)
    record(
        session=session,
        actor_id=actor_id,
        action="round.advancement_decided",
        subject_type="round",
        subject_id=round_.id,
        campaign_id=round_.campaign_id,
        chosen=picked,
        among=undecided,
    )
    session.commit()
    return picked


# --- What goes on from each selecting stage ------------------------------------------------


@dataclass(frozen=True)
class StageOutcome:
    ready: bool  # the stage has decided (certified and nothing left undecided; or finalised)
    ideas: list[int]  # the ideas that go on, in order


def stage_outcome(*, session: Session, stage: Stage) -> StageOutcome:
    if stage.kind == StageKind.JURY:
        panel = session.get(JuryPanel, stage.id)
        if panel is None or panel.finalised_at is None:
            return StageOutcome(False, [])
        picked = session.exec(
            select(JuryOutcome.idea_id)
            .where(JuryOutcome.stage_id == stage.id, col(JuryOutcome.picked).is_(True))
            .order_by(col(JuryOutcome.position))
        ).all()
        return StageOutcome(True, list(picked))
    round_ = session.exec(select(Round).where(Round.stage_id == stage.id)).first()
    if round_ is None or round_.certified_at is None:
        return StageOutcome(False, [])
    rows = session.exec(
        select(RoundResult.idea_id, RoundResult.advanced)
        .where(RoundResult.round_id == round_.id, col(RoundResult.advanced).is_not(False))
        .order_by(col(RoundResult.position))
    ).all()
    ready = all(advanced is not None for _, advanced in rows)
    return StageOutcome(ready, [idea for idea, advanced in rows if advanced])


def stage_inputs(*, session: Session, stage: Stage) -> StageOutcome:
    """The ideas a stage starts with: what the previous selecting stage let through, or
    every approved idea when none comes before it."""
    earlier = [
        s for s in _decisive(_stages(session, stage.campaign_id)) if s.position < stage.position
    ]
    if not earlier:
        ideas = session.exec(
            select(Idea.id)
            .where(Idea.campaign_id == stage.campaign_id, Idea.status == IdeaStatus.APPROVED)
            .order_by(col(Idea.id))
        ).all()
        return StageOutcome(True, [_id(i) for i in ideas])
    return stage_outcome(session=session, stage=earlier[-1])


@dataclass(frozen=True)
class WinnerRow:
    idea_id: int
    title: str
    place: int


@dataclass(frozen=True)
class Winners:
    ready: bool
    stage: Stage | None
    ideas: list[WinnerRow]


def winners(*, session: Session, campaign_id: int) -> Winners:
    """The ideas that go on from the campaign's last selecting stage, once it has decided."""
    decisive = _decisive(_stages(session, campaign_id))
    if not decisive:
        return Winners(False, None, [])
    last = decisive[-1]
    outcome = stage_outcome(session=session, stage=last)
    if not outcome.ready:
        return Winners(False, last, [])
    titles = _titles(session, outcome.ideas)
    rows = [WinnerRow(i, titles.get(i, ""), n) for n, i in enumerate(outcome.ideas, start=1)]
    return Winners(True, last, rows)


def _titles(session: Session, idea_ids: Sequence[int]) -> dict[int, str]:
    if not idea_ids:
        return {}
    rows = session.exec(select(Idea.id, Idea.title).where(col(Idea.id).in_(idea_ids))).all()
    return {_id(i): t for i, t in rows}


# --- Pages: what to show, and the rows to show ---------------------------------------------


class Showing(enum.StrEnum):
    NOT_STARTED = "not_started"
    HIDDEN = "hidden"  # the public waits for the certified results
    RANKS = "ranks"  # order without counts
    LIVE = "live"  # live counts
    CERTIFIED = "certified"


def what_to_show(round_: Round, stage: Stage, now: datetime, *, staff: bool) -> Showing:
    """Certified results are public; before that the round's visibility decides for the
    public, while the brand's staff always follow the live count."""
    if round_.certified_at is not None:
        return Showing.CERTIFIED
    if now < stage.opens_at:
        return Showing.NOT_STARTED
    if staff:
        return Showing.LIVE
    return Showing(round_.visibility)


@dataclass(frozen=True)
class ResultRow:
    idea_id: int
    title: str
    position: int
    rank: int
    tied: bool
    votes: int
    points: int
    score: int
    advanced: bool | None


@dataclass(frozen=True)
class ResultsPage:
    rows: list[ResultRow]
    ideas: int  # how many ideas in all (for the pages)
    page: int
    pages: int
    top_score: int  # the bars' full length
    total_votes: int
    total_points: int


def _pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page))


def certified_results(
    *, session: Session, round_: Round, page: int = 1, per_page: int = PER_PAGE
) -> ResultsPage:
    """A page of the frozen results: an index range scan, however many votes were cast."""
    round_id = _id(round_.id)
    totals = session.get(RoundCertification, round_id)
    assert totals is not None, "a certified round has its certification row"
    ideas, total_votes, total_points = totals.ideas, totals.counted_votes, totals.counted_points
    pages = _pages(int(ideas), per_page)
    page = min(max(page, 1), pages)
    top = session.exec(
        select(RoundResult.score).where(RoundResult.round_id == round_id, RoundResult.position == 1)
    ).first()
    rows = session.exec(
        select(RoundResult, Idea.title)
        .join(Idea, col(Idea.id) == RoundResult.idea_id)
        .where(
            RoundResult.round_id == round_id,
            RoundResult.position > (page - 1) * per_page,
            RoundResult.position <= page * per_page,
        )
        .order_by(col(RoundResult.position))
    ).all()
    return ResultsPage(
        [
            ResultRow(
                r.idea_id, title, r.position, r.rank, r.tied, r.votes, r.points, r.score, r.advanced
            )
            for r, title in rows
        ],
        int(ideas),
        page,
        pages,
        int(top or 0),
        int(total_votes),
        int(total_points),
    )


def live_results(
    *, session: Session, round_: Round, page: int = 1, per_page: int = PER_PAGE
) -> ResultsPage:
    """A page of the live standings from the per-idea tallies (never the vote log).

    Two queries over the entrants joined to their tallies: how many ideas hold each score
    (which gives every rank, tie, total and the top score), then one page in order (a top-N
    sort, no window function). Ranked rounds are ordered by how many ballots list an idea:
    the Schulze order is computed at certification.
    """
    round_id = _id(round_.id)
    first = _is_first_round(session, round_)
    votes = func.coalesce(IdeaTally.votes, 0)
    points = func.coalesce(IdeaTally.points, 0)
    score = method_of(round_).score_expression(votes, points)
    joined = and_(col(IdeaTally.round_id) == round_id, col(IdeaTally.idea_id) == Idea.id)
    entrants = _entrant_condition(round_, first=first)
    by_score = {
        int(s): (int(n), int(v), int(p))
        for s, n, v, p in session.execute(
            sql_select(score, func.count(), func.sum(votes), func.sum(points))
            .select_from(Idea)
            .outerjoin(IdeaTally, joined)
            .where(entrants)
            .group_by(score)
        ).all()
    }
    ranks: dict[int, int] = {}
    above = 0
    for value in sorted(by_score, reverse=True):
        ranks[value] = above + 1
        above += by_score[value][0]
    ideas = above
    pages = _pages(ideas, per_page)
    page = min(max(page, 1), pages)
    offset = (page - 1) * per_page
    order: list[Any] = [score.desc()]
    if round_.tie_break == TieBreak.EARLIER_SUBMISSION:
        order.append(func.coalesce(Idea.submitted_at, Idea.created_at))
    order.append(col(Idea.id))
    # The scores this page spans follow from the counts: ask only for those ideas. When they
    # all have votes, start from their tally rows (an inner join on a few rows) instead of
    # joining every entrant.
    high, low, skipped = _score_window(by_score, offset, per_page)
    query = sql_select(col(Idea.id), col(Idea.title), votes, points, score)
    if low > 0:
        query = query.select_from(IdeaTally).join(Idea, col(Idea.id) == IdeaTally.idea_id)
        query = query.where(col(IdeaTally.round_id) == round_id)
    else:
        query = query.select_from(Idea).outerjoin(IdeaTally, joined)
    rows = session.execute(
        query.where(entrants, score <= high, score >= low)
        .order_by(*order)
        .offset(offset - skipped)
        .limit(per_page)
    ).all()
    return ResultsPage(
        [
            ResultRow(
                _id(i), t, offset + n, ranks[s], by_score[s][0] > 1, int(v), int(p), int(s), None
            )
            for n, (i, t, v, p, s) in enumerate(rows, start=1)
        ],
        ideas,
        page,
        pages,
        max(by_score, default=0),
        sum(v for _, v, _ in by_score.values()),
        sum(p for _, _, p in by_score.values()),
    )


def _score_window(
    by_score: Mapping[int, tuple[int, int, int]], offset: int, per_page: int
) -> tuple[int, int, int]:
    """(highest score, lowest score, ideas scoring above the highest) of the page that
    holds places offset + 1 .. offset + per_page of the standings."""
    high: int | None = None
    low = 0
    skipped = seen = 0
    for value in sorted(by_score, reverse=True):
        count = by_score[value][0]
        if seen + count <= offset:
            skipped += count
        elif seen < offset + per_page:
            high = value if high is None else high
            low = value
        seen += count
    return (high or 0), low, skipped


# --- The funnel across the campaign's stages -----------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    name: str
    kind: str
    entrants: int | None
    advanced: int | None  # None until the stage has decided
    undecided: int


def funnel(*, session: Session, campaign_id: int) -> list[FunnelStep]:
    """Ideas in, ideas on, for every selecting stage (counts of ideas, never of votes)."""
    steps = []
    rounds = {
        info.stage.id: info for info in campaign_rounds(session=session, campaign_id=campaign_id)
    }
    first_round = next(iter(rounds.values())).round.id if rounds else None
    previous: StageOutcome | None = None  # what the stage before let through
    for stage in _decisive(_stages(session, campaign_id)):
        name = stage_name(stage)
        outcome = stage_outcome(session=session, stage=stage)
        known = previous is None or previous.ready
        if stage.kind == StageKind.JURY:
            inputs = previous.ideas if previous is not None else None
            if inputs is None:  # no stage before: every approved idea
                inputs = stage_inputs(session=session, stage=stage).ideas
            steps.append(
                FunnelStep(
                    name,
                    stage.kind,
                    len(inputs) if known else None,
                    len(outcome.ideas) if outcome.ready else None,
                    0,
                )
            )
        elif (info := rounds.get(stage.id)) is None:
            steps.append(FunnelStep(name, stage.kind, None, None, 0))
        elif info.round.certified_at is None:
            entrants = (
                count_entrants(
                    session=session, round_=info.round, first=info.round.id == first_round
                )
                if known
                else None
            )
            steps.append(FunnelStep(name, stage.kind, entrants, None, 0))
        else:
            counts = dict(
                session.exec(
                    select(RoundResult.advanced, func.count())
                    .where(RoundResult.round_id == info.round.id)
                    .group_by(col(RoundResult.advanced))
                ).all()
            )
            entered = sum(int(n) for n in counts.values())
            steps.append(
                FunnelStep(
                    name, stage.kind, entered, int(counts.get(True, 0)), int(counts.get(None, 0))
                )
            )
        previous = outcome
    return steps


# --- Rules in words --------------------------------------------------------------------------


def rule_sentences(*, session: Session, round_: Round, stage: Stage) -> list[str]:
    """How this round is counted and who goes on, in the reader's language."""
    n = round_.advancement_value
    sentences = [method_of(round_).rule(round_)]
    if round_.advancement == Advancement.TOP_N:
        sentences.append(
            ngettext("The top %(num)d idea goes on.", "The top %(num)d ideas go on.", n)
            % {"num": n}
        )
    elif round_.advancement == Advancement.TOP_PERCENT:
        sentences.append(_("The top %(percent)d%% of the ideas go on.") % {"percent": n})
    elif round_.advancement == Advancement.MIN_VOTES:
        sentences.append(
            ngettext(
                "Every idea with at least %(num)d vote goes on.",
                "Every idea with at least %(num)d votes goes on.",
                n,
            )
            % {"num": n}
        )
    else:
        sentences.append(
            ngettext(
                "The jury picks %(num)d idea to go on.", "The jury picks %(num)d ideas to go on.", n
            )
            % {"num": n}
        )
    if round_.advancement in (Advancement.TOP_N, Advancement.TOP_PERCENT):
        if round_.tie_break == TieBreak.EARLIER_SUBMISSION:
            sentences.append(
                _("A tie at the cut is broken by earlier submission: the first idea goes on.")
            )
        else:
            sentences.append(_("A tie at the cut is decided by the jury."))
    later = [
        s for s in _decisive(_stages(session, stage.campaign_id)) if s.position > stage.position
    ]
    if not later:
        sentences.append(_("The ideas that go on from this round are the winners."))
    elif later[0].kind == StageKind.JURY:
        sentences.append(_("They go to the jury: %(stage)s.") % {"stage": stage_name(later[0])})
    else:
        sentences.append(_("They take part in %(stage)s.") % {"stage": stage_name(later[0])})
    return sentences


# --- Verification ----------------------------------------------------------------------------


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


# --- CSV export of the results ---------------------------------------------------------------


def results_csv(*, session: Session, round_: Round) -> Iterator[str]:
    """The certified results as CSV text chunks, in published order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["position", "rank", "tied", "idea_id", "title", "votes", "points", "score", "advanced"]
    )  # titles are anyone's text: every row goes through `neutral_row`
    last = 0
    while True:
        rows = session.exec(
            select(RoundResult, Idea.title)
            .join(Idea, col(Idea.id) == RoundResult.idea_id)
            .where(RoundResult.round_id == round_.id, RoundResult.position > last)
            .order_by(col(RoundResult.position))
            .limit(2000)
        ).all()
        if not rows:
            break
        for r, title in rows:
            advanced = {True: "yes", False: "no", None: "undecided"}[r.advanced]
            writer.writerow(
                neutral_row(
                    [
                        r.position,
                        r.rank,
                        int(r.tied),
                        r.idea_id,
                        title,
                        r.votes,
                        r.points,
                        r.score,
                        advanced,
                    ]
                )
            )
            last = r.position
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def campaign_of(*, session: Session, round_: Round) -> Campaign:
    campaign = session.get(Campaign, round_.campaign_id)
    assert campaign is not None
    return campaign


# --- The winners' announcement ---------------------------------------------------------------

ANNOUNCEMENT_MAX = 20_000


def announcement_of(*, session: Session, campaign_id: int) -> Announcement | None:
    return session.get(Announcement, campaign_id)


def save_announcement(
    *, session: Session, campaign: Campaign, body: str, actor_id: int | None, now: datetime
) -> Announcement:
    """The brand's text on the winners page. Audited; saving the same text changes nothing."""
    campaign_id = _id(campaign.id)
    found = session.get(Announcement, campaign_id)
    if found is not None and found.body == body:
        return found
    announcement = found or Announcement(campaign_id=campaign_id)
    announcement.body = body
    announcement.updated_at = now
    announcement.updated_by_id = actor_id
    session.add(announcement)
    record(
        session=session,
        actor_id=actor_id,
        action="campaign.announcement_changed",
        subject_type="campaign",
        subject_id=campaign_id,
        length=len(body),
    )
    session.commit()
    return announcement
