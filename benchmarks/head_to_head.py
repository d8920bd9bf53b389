"""Head-to-head rounds at scale: the pair chooser at 100,000 entrants on SQLite and
PostgreSQL, and the ranking of 10,000,000 choices.

    python -m benchmarks.head_to_head                  # both databases, then the ranking
    python -m benchmarks.head_to_head --db sqlite      # one database only (or a server URL)
    python -m benchmarks.head_to_head --ranking-only [--choices 10000000]

1. **Pair choice** (target p99 < 10 ms). A database of its own (a temporary SQLite file, or a
   scratch PostgreSQL database dropped at the end), migrated, loaded with one round of
   100,000 approved ideas and their statistics as a round in progress has them (comparisons
   around 40 per idea, scores spread as strengths are), 2,000 voters who judged 100 pairs
   each (200,000 choices). Then `picks` times: a random voter's next pair
   (`chooser.next_pair`, in a session of its own, as a request gets one: connection checkout
   included), then that choice recorded (`store.record_choice` and its commit), so the
   statistics move under the chooser as they do in a live round. Times per call, p50 / p95
   / p99 / max, for the choice and for the write, and for a bare `SELECT 1` in a session of
   its own (the floor a shared, loaded machine sets under every figure); also the full
   estimate read from the database (`store.rank_round`, every counted choice) and its rate.
2. **Ranking** (target < 60 s). 10,000,000 synthetic choices over 100,000 ideas of known
   strengths (normal, sd 1), made in ten phases as the chooser makes them: each idea in turn
   is a first idea (the least compared), its opponent nine times in ten one near it in the
   scores observed so far, else any idea; the winner drawn from the Bradley-Terry chance,
   one in twenty a "can't decide". `estimate.fit` on
   those arrays (pair sums, Newton steps, intervals), then the chance-to-win scores, timed,
   with the peak memory of the process and the recovered order's Spearman correlation with
   the true strengths (all ideas, and the true top 1,000).

Exits 1 when a target is missed. Not part of pytest.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from benchmarks.ideas_gallery import own_database
from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.db import make_engine
from cocreate.headtohead import chooser, estimate, store
from cocreate.headtohead.models import HeadToHeadChoice, HeadToHeadStats
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.migrate import upgrade
from cocreate.voting.models import Round

POSTGRES = os.environ.get(
    "COCREATE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PICK_TARGET_MS = 10.0
RANKING_TARGET_S = 60.0
NOW = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentiles(timings_ms: list[float]) -> str:
    ordered = sorted(timings_ms)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    return (
        f"p50 {at(50):6.2f} ms  p95 {at(95):6.2f} ms  p99 {at(99):6.2f} ms  "
        f"max {ordered[-1]:6.2f} ms  (n={len(ordered)})"
    )


def p99(timings_ms: list[float]) -> float:
    return statistics.quantiles(timings_ms, n=100)[98]


# --- 1. the pair chooser against a database ------------------------------------------------


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def load(engine: Engine, *, ideas: int, voters: int, history: int) -> int:
    """One round in progress; returns its id."""
    rng = random.Random(20261205)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(Brand).values(id=1, name="Bench", slug="bench"))
        conn.execute(
            insert(Campaign).values(
                id=1,
                brand_id=1,
                slug="battle",
                title="Battle",
                status=CampaignStatus.PUBLISHED,
                created_at=NOW,
            )
        )
        for position, kind in enumerate([StageKind.SUBMISSION, StageKind.VOTING]):
            conn.execute(
                insert(Stage).values(
                    id=position + 1,
                    campaign_id=1,
                    position=position,
                    kind=kind,
                    title=kind,
                    opens_at=NOW - timedelta(days=20 - 10 * position),
                    closes_at=NOW + timedelta(days=10 * position - 9),
                    config={},
                )
            )
        conn.execute(insert(Round).values(id=1, stage_id=2, campaign_id=1))
        conn.execute(
            insert(User),
            [
                {
                    "id": n,
                    "email": f"voter{n}@bench.invalid",
                    "display_name": f"Voter {n}",
                    "created_at": NOW - timedelta(days=90),
                    "is_admin": False,
                    "disabled": False,
                    "session_version": 0,
                }
                for n in range(1, voters + 1)
            ],
        )
        idea_rows = [
            {
                "id": n,
                "campaign_id": 1,
                "author_id": 1 + n % voters,
                "title": f"Idea {n}",
                "description": "",
                "status": IdeaStatus.APPROVED,
                "search_key": "",
                "vote_count": 0,
                "random_key": rng.randrange(2**31),
                "created_at": NOW,
                "submitted_at": NOW,
                "updated_at": NOW,
            }
            for n in range(1, ideas + 1)
        ]
        for chunk in _chunks(idea_rows, 10_000):
            conn.execute(insert(Idea), chunk)
        # Statistics as after a few million choices: counts around 40, scores spread like
        # the strengths they estimate, information growing with the count.
        stats_rows = []
        for n in range(1, ideas + 1):
            comparisons = max(0, int(rng.gauss(40, 4)))
            wins = rng.randint(0, comparisons)
            stats_rows.append(
                {
                    "round_id": 1,
                    "idea_id": n,
                    "active": True,
                    "shuffle_key": rng.randrange(store.KEY_SPACE),
                    "comparisons": comparisons,
                    "wins": wins,
                    "losses": comparisons - wins,
                    "ties": 0,
                    "score": rng.gauss(0.0, 1.0),
                    "information": 1.0 + comparisons * 0.2,
                }
            )
        for chunk in _chunks(stats_rows, 10_000):
            conn.execute(insert(HeadToHeadStats), chunk)
        choice_rows = []
        for voter in range(1, voters + 1):
            pairs: set[tuple[int, int]] = set()
            while len(pairs) < history:
                a, b = rng.randint(1, ideas), rng.randint(1, ideas)
                if a != b:
                    pairs.add((min(a, b), max(a, b)))
            for low, high in pairs:
                left, right = (low, high) if rng.random() < 0.5 else (high, low)
                choice_rows.append(
                    {
                        "round_id": 1,
                        "voter_id": voter,
                        "left_idea_id": left,
                        "right_idea_id": right,
                        "low_idea_id": low,
                        "high_idea_id": high,
                        "outcome": rng.choice(["left", "right", "left", "right", "tie"]),
                        "status": "counted",
                        "cast_at": NOW - timedelta(seconds=rng.randint(0, 86400 * 5)),
                        "risk_score": 0.0,
                        "risk_signals": {},
                    }
                )
        for chunk in _chunks(choice_rows, 10_000):
            conn.execute(insert(HeadToHeadChoice), chunk)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    log(
        f"loaded {ideas:,} ideas with statistics, {voters:,} voters, "
        f"{len(choice_rows):,} choices in {time.perf_counter() - started:.1f} s"
    )
    return 1


def bench_database(url: str, *, ideas: int, voters: int, history: int, picks: int) -> bool:
    with own_database(url, keep=False) as database_url:
        engine = make_engine(database_url)
        try:
            upgrade(engine)
            round_id = load(engine, ideas=ideas, voters=voters, history=history)
            return _measure(engine, round_id, voters=voters, picks=picks)
        finally:
            engine.dispose()


def _measure(engine: Engine, round_id: int, *, voters: int, picks: int) -> bool:
    rng = random.Random(7)
    choose_ms: list[float] = []
    write_ms: list[float] = []
    bare_ms: list[float] = []  # the floor: a session, its connection, one `SELECT 1`
    outcomes = ["left", "right", "left", "right", "tie"]
    for k in range(picks + 20):  # the first 20 warm the caches and the prepared statements
        voter = rng.randint(1, voters)
        started = time.perf_counter()
        with Session(engine) as session:
            session.execute(text("SELECT 1"))
            session.rollback()
        bare = time.perf_counter() - started
        started = time.perf_counter()
        with Session(engine) as session:
            pair = chooser.next_pair(session=session, round_id=round_id, voter_id=voter, rng=rng)
            session.rollback()
        chosen = time.perf_counter()
        assert pair is not None
        with Session(engine) as session:
            recorded = store.record_choice(
                session=session,
                round_id=round_id,
                voter_id=voter,
                left_idea_id=pair.left_idea_id,
                right_idea_id=pair.right_idea_id,
                outcome=rng.choice(outcomes),
                now=NOW,
            )
            session.commit()
        written = time.perf_counter()
        assert recorded == store.Recorded.RECORDED, recorded
        if k >= 20:
            choose_ms.append((chosen - started) * 1000)
            bare_ms.append(bare * 1000)
            write_ms.append((written - chosen) * 1000)
    name = engine.dialect.name
    log(f"{name}: pair choice     {percentiles(choose_ms)}")
    log(f"{name}: choice recorded {percentiles(write_ms)}")
    log(f"{name}: bare SELECT 1   {percentiles(bare_ms)}  (the machine's floor)")
    with Session(engine) as session:
        started = time.perf_counter()
        ranking = store.rank_round(session=session, round_id=round_id)
        seconds = time.perf_counter() - started
    counted = int(ranking.estimate.comparisons.sum()) // 2
    log(
        f"{name}: full estimate from the database: {counted:,} choices, "
        f"{len(ranking.idea_ids):,} ideas in {seconds:.1f} s ({counted / seconds:,.0f} choices/s)"
    )
    met = p99(choose_ms) < PICK_TARGET_MS
    log(f"{name}: pair choice p99 target < {PICK_TARGET_MS:.0f} ms: {'met' if met else 'MISSED'}")
    return met


# --- 2. the ranking of synthetic choices -------------------------------------------------


def synthetic_choices(
    ideas: int, choices: int, seed: int = 11, phases: int = 10
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(true strengths, left, right, left's share) as the chooser would have produced them.

    The pairs depend only on what was observed before, as the chooser's do (a pairing that
    peeked at the true strengths would tell the estimate something its likelihood ignores,
    and its intervals would not hold the truth): the choices come in `phases`; in each, every
    idea in turn is a first idea (the least compared), its opponent nine times in ten one of
    the 50 ideas on either side of it in the order of the scores observed so far (the
    smoothed log-odds of its wins: what the running scores are, roughly), else any idea.
    """
    rng = np.random.default_rng(seed)
    true = rng.normal(0.0, 1.0, ideas)
    wins = np.zeros(ideas)
    played = np.zeros(ideas)
    parts: list[tuple[np.ndarray[Any, Any], ...]] = []
    for phase in range(phases):
        size = choices // phases + (1 if phase < choices % phases else 0)
        observed = np.log((wins + 1.0) / (played - wins + 1.0))
        order = np.lexsort((rng.random(ideas), observed))
        position = np.empty(ideas, dtype=np.int64)
        position[order] = np.arange(ideas)
        first = np.arange(size, dtype=np.int64) % ideas
        rng.shuffle(first)
        offset = rng.integers(1, 51, size) * rng.choice(np.array([-1, 1]), size)
        near = order[np.clip(position[first] + offset, 0, ideas - 1)]
        anywhere = (first + rng.integers(1, ideas, size)) % ideas
        second = np.where(rng.random(size) < 0.9 if phase else False, near, anywhere)
        second = np.where(second == first, anywhere, second)
        swap = rng.random(size) < 0.5
        left, right = np.where(swap, second, first), np.where(swap, first, second)
        p_left = 1.0 / (1.0 + np.exp(true[right] - true[left]))
        draw = rng.random(size)
        # One in twenty "can't decide"; the others picked with the Bradley-Terry chance.
        share = np.where(draw < 0.05, 0.5, (rng.random(size) < p_left).astype(np.float64))
        wins += np.bincount(left, share, ideas) + np.bincount(right, 1.0 - share, ideas)
        played += np.bincount(left, minlength=ideas) + np.bincount(right, minlength=ideas)
        parts.append((left, right, share))
    left, right, share = (np.concatenate([part[k] for part in parts]) for k in range(3))
    return true, left, right, share


def spearman(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def bench_ranking(*, ideas: int, choices: int) -> bool:
    started = time.perf_counter()
    true, left, right, share = synthetic_choices(ideas, choices)
    seconds = time.perf_counter() - started
    log(f"generated {choices:,} choices over {ideas:,} ideas in {seconds:.1f} s")
    started = time.perf_counter()
    fitted = estimate.fit(ideas, left, right, share)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    chance, low, high = fitted.win_chance()
    chance_s = time.perf_counter() - started
    total = fit_s + chance_s
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    top = np.argsort(-true)[:1000]
    log(
        f"ranking: fit {fit_s:.1f} s ({fitted.newton_steps} Newton steps), chance to win "
        f"{chance_s:.2f} s, total {total:.1f} s; peak memory of the process {peak_mb:,.0f} MB"
    )
    log(
        f"ranking: Spearman with the true strengths {spearman(fitted.scores, true):.4f} "
        f"(true top 1,000 among themselves {spearman(fitted.scores[top], true[top]):.4f}); "
        f"median 95 % interval ±{1.96 * float(np.median(fitted.std_errors)):.3f}, "
        f"median chance-to-win interval {float(np.median(high - low)) * 100:.1f} points"
    )
    centred = true - true.mean()
    lows, highs = fitted.interval()
    coverage = float(np.mean((lows <= centred) & (centred <= highs)))
    log(f"ranking: 95 % intervals holding the true strength: {coverage * 100:.1f} %")
    met = total < RANKING_TARGET_S
    log(f"ranking target < {RANKING_TARGET_S:.0f} s: {'met' if met else 'MISSED'}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", action="append", help="'sqlite' or a PostgreSQL server URL")
    parser.add_argument("--ideas", type=int, default=100_000)
    parser.add_argument("--voters", type=int, default=2_000)
    parser.add_argument("--history", type=int, default=100, help="pairs each voter judged")
    parser.add_argument("--picks", type=int, default=1_000)
    parser.add_argument("--choices", type=int, default=10_000_000)
    parser.add_argument("--ranking-only", action="store_true")
    parser.add_argument("--no-ranking", action="store_true")
    args = parser.parse_args(argv)
    met = True
    if not args.ranking_only:
        for url in args.db or ["sqlite", POSTGRES]:
            met &= bench_database(
                url, ideas=args.ideas, voters=args.voters, history=args.history, picks=args.picks
            )
    if not args.no_ranking:
        met &= bench_ranking(ideas=args.ideas, choices=args.choices)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
