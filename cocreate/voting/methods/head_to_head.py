"""Head to head: the voter is shown two ideas and picks one, or "can't decide", again and
again; the ideas are ranked by a Bradley-Terry estimate with an interval.

The engine is `cocreate.headtohead` (the pair chooser, the signed offer, the estimator, the
store of choices and statistics); this module plugs it into rounds. The round's "ideas per
ballot" setting is, here, the number of choices a voter may make a minute (the rate limit).

- The ballot (`ballot_extras`) offers the ideas that take part (`entrants.on_ballot`, the
  one rule) to the chooser, picks the voter's next pair and signs it into the form.
- `POST /c/{slug}/choice` (`routes`) takes one choice: signed in, eligible, the round
  open, the pair one the server offered this voter (`offer.read_pair`), within the rate
  limit, screened by fraud layer 1 (`cast.screen`: refused, or held for review instead of a
  challenge, as a ranked ballot), stored with its signals (`store.record_choice`). htmx gets
  the next pair; a plain form a redirect back to the ballot.
- The log is the choices table: the certified digest, the CSV and `verify-results` read it
  in id order (`vote_log`), the fraud scan reads it as votes for the picked idea
  (`fraud_log`), and `tally()` fits the estimate; certification writes it into the
  statistics, which the results page shows with the intervals.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import String, case, func, true
from sqlalchemy import cast as sql_cast
from sqlalchemy import select as core_select
from sqlmodel import Session, col
from starlette.requests import Request
from starlette.routing import BaseRoute

from cocreate.db import stream_rows
from cocreate.fraud.risk import VELOCITY_FREE
from cocreate.headtohead import estimate, store
from cocreate.headtohead.models import ChoiceStatus, HeadToHeadChoice, HeadToHeadStats
from cocreate.i18n import gettext as _
from cocreate.i18n import ngettext
from cocreate.ideas.models import Idea
from cocreate.security.access import SIGNED_IN, current_user, route
from cocreate.voting.hooks import published_order
from cocreate.voting.methods.base import Column, Tally, TieBreak, VotingMethod
from cocreate.voting.methods.standings import rank

if TYPE_CHECKING:
    from cocreate.forms import Form
    from cocreate.fraud.loader import LoadedVotes
    from cocreate.voting.forms import RoundInput
    from cocreate.voting.open_round import OpenRound, RoundLike

TEMPLATE = "voting/methods/head_to_head.html"
PER_MINUTE_LIMIT = 120  # the most choices a minute a round may allow a voter
SCORE_SCALE = 1_000_000  # a certified score: the log-strength in millionths (an integer)
RESULTS_SHOWN = 100  # ideas the results page lists
Z95 = estimate.Z95
CHOICES = HeadToHeadChoice.__table__  # type: ignore[attr-defined]
STATS = HeadToHeadStats.__table__  # type: ignore[attr-defined]
CODES = {"left": 0, "right": 1, "tie": 2}  # an outcome in the count
SHARES = np.array([1.0, 0.0, 0.5])  # the left idea's share, by outcome code
LOG_HEADER = "choice_id,voter,left_idea_id,right_idea_id,outcome,status,cast_at\n"


# --- The count: a Bradley-Terry estimate of the counted choices ------------------------------


@dataclass(frozen=True)
class BattleTally(Tally):
    idea_ids: list[int] = field(default_factory=list)  # index -> idea, for `estimate`
    estimate: estimate.Estimate | None = None


@dataclass
class BattleCount:
    """Counts the choices of the log one at a time. A choice comes through the log's common
    shape (voter, idea, period, weight) as (voter, left idea, outcome code, right idea)."""

    method: str
    lefts: array[int] = field(default_factory=lambda: array("q"))
    rights: array[int] = field(default_factory=lambda: array("q"))
    codes: array[int] = field(default_factory=lambda: array("q"))

    def add(self, voter_id: int, idea_id: int, period: int, weight: int) -> None:
        self.lefts.append(idea_id)
        self.rights.append(weight)
        self.codes.append(period)

    def result(self, entrants: Iterable[int], *, tie_break: TieBreak = None) -> Tally:
        lefts = np.frombuffer(self.lefts, dtype=np.int64) if self.lefts else np.zeros(0, np.int64)
        rights = np.frombuffer(self.rights, dtype=np.int64) if self.rights else lefts
        codes = np.frombuffer(self.codes, dtype=np.int64) if self.codes else lefts
        ids = np.union1d(np.fromiter(set(entrants), dtype=np.int64), np.union1d(lefts, rights))
        fitted = estimate.fit(
            len(ids), np.searchsorted(ids, lefts), np.searchsorted(ids, rights), SHARES[codes]
        )
        idea_ids = [int(i) for i in ids]
        scores = {
            i: round(float(s) * SCORE_SCALE) for i, s in zip(idea_ids, fitted.scores, strict=True)
        }
        standings = rank(scores, idea_ids, tie_break=tie_break)
        comparisons = dict(zip(idea_ids, fitted.comparisons.tolist(), strict=True))
        wins = dict(zip(idea_ids, fitted.wins.tolist(), strict=True))
        return BattleTally(self.method, standings, comparisons, wins, idea_ids, fitted)


# --- The method --------------------------------------------------------------------------------


class HeadToHead(VotingMethod):
    name = "head_to_head"
    votes_on_ideas = False
    ballot_template = TEMPLATE
    lists_entrants = False

    def routes(self) -> Sequence[BaseRoute]:
        from cocreate.voting.methods.head_to_head_ballot import choose

        return [route("/c/{slug}/choice", choose, access=SIGNED_IN, methods=["POST"])]

    def label(self) -> str:
        return _("Head to head")

    def choice(self) -> str:
        return _("Head to head: pick the better of two ideas, again and again (Bradley-Terry)")

    def max_votes_hint(self) -> str:
        return _("Head to head: how many choices a voter may make a minute (at most %(n)d).") % {
            "n": PER_MINUTE_LIMIT
        }

    def read_settings(self, form: Form, max_votes: int) -> tuple[int, int]:
        if "max_votes" not in form.errors and max_votes > PER_MINUTE_LIMIT:
            form.errors["max_votes"] = _(
                "A head-to-head round allows at most %(n)d choices a minute."
            ) % {"n": PER_MINUTE_LIMIT}
        return max_votes, 0

    def settings_problems(self, data: RoundInput) -> dict[str, str]:
        if data.frequency == "daily":
            return {
                "frequency": _(
                    "A head-to-head round takes choices all through the round, each pair once "
                    "per voter: choose “once per round”."
                )
            }
        return {}

    def explain(self, round_: RoundLike) -> str:
        return _(
            "Two ideas at a time: pick the one you prefer, or say you can't decide. Go on "
            "as long as you like; each pair is shown to you once."
        )

    def pace(self, round_: RoundLike) -> float:
        """A pair is judged in seconds: up to the round's choices a minute is a person's
        pace (the rate limit stops more), where a ballot of votes allows ten."""
        return max(1.0, round_.max_votes / VELOCITY_FREE)

    def frequency_text(self, round_: RoundLike) -> str | None:
        return ngettext(
            "Each pair is shown to you once; you can make up to %(num)d choice a minute.",
            "Each pair is shown to you once; you can make up to %(num)d choices a minute.",
            round_.max_votes,
        ) % {"num": round_.max_votes}

    def counter(self, round_: RoundLike, state: Any) -> str:
        return ""

    def other_ballot_message(self) -> str:
        return _("This round is head to head: pick the better of two ideas on the ballot page.")

    def ballot_extras(self, request: Request, opened: OpenRound) -> dict[str, Any]:
        user = current_user(request)
        if user is None or user.id is None:
            return {}
        from cocreate.voting.methods.head_to_head_ballot import ballot_pair

        return ballot_pair(request, opened, user)

    def tally(self) -> BattleCount:  # type: ignore[override]
        return BattleCount(self.name)

    def rule(self, round_: RoundLike) -> str:
        return _(
            "Ideas are ordered by a Bradley-Terry estimate of their strength from every "
            "counted choice, with a %(level)s interval; “can't decide” is counted but moves "
            "no score."
        ) % {"level": "95%"}

    def results_columns(self, showing: str) -> list[Column]:
        return [Column(_("Score"), "score"), Column(_("Comparisons"), "votes")]

    def total_text(self, votes: int, points: int) -> str:
        return ""

    def certified(self, session: Session, round_id: int, tally: Tally) -> None:
        """The final estimate goes into the statistics, which the results page reads."""
        if not isinstance(tally, BattleTally) or tally.estimate is None:
            return
        known = set(
            session.execute(
                core_select(STATS.c.idea_id).where(STATS.c.round_id == round_id)
            ).scalars()
        )
        missing = [i for i in tally.idea_ids if i not in known]
        store.enter_ideas(
            session=session, round_id=round_id, idea_ids=missing, rng=random.Random(round_id)
        )
        store.withdraw_ideas(session=session, round_id=round_id, idea_ids=missing)
        ranking = store.Ranking(np.asarray(tally.idea_ids, dtype=np.int64), tally.estimate)
        store.save_ranking(session=session, round_id=round_id, ranking=ranking)

    def results_extras(
        self, session: Session, round_: RoundLike, showing: str = "certified"
    ) -> dict[str, Any]:
        return {
            "results_template": TEMPLATE,
            "h2h_part": "results",
            "h2h_rows": result_rows(session, round_.id or 0, showing),
            "h2h_counts": showing != "ranks",
            "h2h_ideas": session.execute(
                core_select(func.count()).where(
                    STATS.c.round_id == round_.id,
                    true() if showing == "certified" else STATS.c.active == true(),
                )
            ).scalar_one(),
            "h2h_choices": session.execute(
                core_select(func.count()).where(
                    CHOICES.c.round_id == round_.id, CHOICES.c.status == ChoiceStatus.COUNTED
                )
            ).scalar_one(),
        }

    def log_header(self) -> str:
        return LOG_HEADER

    def vote_log(self, session: Session, round_id: int) -> Iterator[Sequence[Any]]:
        """Every choice in id order: (voter, choice id, the rest of its CSV line, the left
        idea when it counts else None, the right idea, the outcome's code)."""
        c = CHOICES.c
        rest: Any = sql_cast(c.left_idea_id, String)
        for part in (
            sql_cast(c.right_idea_id, String),
            c.outcome,
            c.status,
            _utc(session, c.cast_at),
        ):
            rest = rest.concat(",").concat(part)
        code = case(*((c.outcome == name, value) for name, value in CODES.items()), else_=0)
        statement = (
            core_select(
                c.voter_id,
                c.id,
                rest,
                case((c.status == ChoiceStatus.COUNTED.value, c.left_idea_id), else_=None),
                c.right_idea_id,
                code,
            )
            .where(c.round_id == round_id)
            .order_by(c.id)
        )
        return stream_rows(session, statement, "choice_log")

    def fraud_log(self, session: Session, round_id: int) -> LoadedVotes:
        """The live (counted or held) choices as votes for the idea picked (the lower id
        of a "can't decide"), with their signals."""
        from cocreate.fraud.loader import LoadedVotes, epoch_seconds
        from cocreate.fraud.log import MISSING, VoteLog

        c = CHOICES.c
        picked = case(
            (c.outcome == "right", c.right_idea_id),
            (c.outcome == "left", c.left_idea_id),
            else_=c.low_idea_id,
        )
        signals = (c.ip_hash, c.ip_prefix_hash, c.device_id, c.user_agent)
        statement = (
            core_select(c.id, c.voter_id, picked, epoch_seconds(session, c.cast_at), *signals)
            .where(
                c.round_id == round_id,
                c.status.in_([ChoiceStatus.COUNTED.value, ChoiceStatus.HELD.value]),
            )
            .order_by(c.id)
        )
        columns: list[list[Any]] = [[] for _column in range(8)]
        codes: list[dict[str, int]] = [{} for _signal in signals]
        for rows in stream_rows(session, statement, "choice_fraud_log"):
            for row in rows:
                for n in range(4):
                    columns[n].append(row[n])
                for n, value in enumerate(row[4:]):
                    columns[4 + n].append(
                        MISSING if value is None else codes[n].setdefault(value, len(codes[n]))
                    )
        ints = [np.asarray(column, dtype=np.int64) for column in columns]
        log = VoteLog(
            vote_id=ints[0],
            voter=ints[1],
            idea=ints[2],
            at=np.asarray(columns[3], dtype=np.float64),
            ip=ints[4],
            ip_prefix=ints[5],
            device=ints[6],
            user_agent=ints[7],
        )
        names = ("ip", "ip_prefix", "device", "user_agent")
        return LoadedVotes(
            log, {name: list(found) for name, found in zip(names, codes, strict=True)}
        )


def _utc(session: Session, column: Any) -> Any:
    from cocreate.voting.vote_log import utc_text

    return utc_text(session, column)


# --- The results page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultLine:
    idea_id: int
    title: str
    rank: int
    score: float
    low: float
    high: float
    comparisons: int
    wins: int
    losses: int
    ties: int
    advanced: bool | None


def result_rows(session: Session, round_id: int, showing: str) -> list[ResultLine]:
    """The first ideas: in the certified order once certified, else by running score."""
    if showing == "certified":
        return _certified_rows(session, round_id)
    s = STATS.c
    query = (
        core_select(*_stat_columns(), col(Idea.title))
        .join(Idea, col(Idea.id) == s.idea_id)
        .where(s.round_id == round_id, s.active == true())
        .order_by(s.score.desc(), s.idea_id)
        .limit(RESULTS_SHOWN)
    )
    return [
        _line(row, row.title, n, None)
        for n, row in enumerate(session.execute(query).all(), start=1)
    ]


def _stat_columns() -> list[Any]:
    s = STATS.c
    return [s.idea_id, s.score, s.information, s.comparisons, s.wins, s.losses, s.ties]


def _line(row: Any, title: str, rank: int, advanced: bool | None) -> ResultLine:
    half = Z95 / float(row.information) ** 0.5
    return ResultLine(
        row.idea_id,
        title,
        rank,
        row.score,
        row.score - half,
        row.score + half,
        row.comparisons,
        row.wins,
        row.losses,
        row.ties,
        advanced,
    )


def _certified_rows(session: Session, round_id: int) -> list[ResultLine]:
    """The certified order as results publish it (`voting.hooks`), with each idea's final
    estimate: voting never reads the results' tables itself."""
    published = published_order(session=session, round_id=round_id, first=RESULTS_SHOWN)
    if not published:
        return []
    s = STATS.c
    stats = {
        row.idea_id: row
        for row in session.execute(
            core_select(*_stat_columns()).where(
                s.round_id == round_id, s.idea_id.in_([p.idea_id for p in published])
            )
        ).all()
    }
    return [
        _line(stats[p.idea_id], p.title, p.rank, p.advanced)
        for p in published
        if p.idea_id in stats
    ]
