"""Results at scale on PostgreSQL: one round, 10,000,000 votes over 10,000 ideas.

Creates a database of its own (dropped at the end), loads it with set-based SQL
(`INSERT ... SELECT generate_series`, indexes built after the load), then measures:

- the results page while the round is open (live tallies) and once certified: server time
  per request through the ASGI app in-process, p50 / p95 (target p95 < 50 ms);
- a full recount in SQL (`GROUP BY` over the vote log);
- certification: one streamed pass (server-side cursor) over the log that recounts and
  computes the SHA-256 digest of the anonymised log, run in a child process so that its
  peak memory (max RSS) is its own;
- `cocreate verify-results` on the certified round.

    python -m benchmarks.results_scale [--votes 10000000] [--ideas 10000] [--requests 300]

The administrative connection comes from COCREATE_BENCH_DATABASE_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/postgres). Not part of pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

ADMIN_URL = os.environ.get(
    "COCREATE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
VOTES_PER_VOTER = 10  # approval, up to 10 ideas each: 1,000,000 voters for 10,000,000 votes
ROUND_OPENS = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
ROUND_CLOSES = ROUND_OPENS + timedelta(days=10)
SLUG = "bench-results"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextmanager
def timed(label: str) -> Iterator[dict[str, float]]:
    found: dict[str, float] = {}
    start = time.perf_counter()
    yield found
    found["seconds"] = time.perf_counter() - start
    log(f"{label}: {found['seconds']:.1f} s")


@contextmanager
def scratch_database() -> Iterator[str]:
    from cocreate.db import make_engine

    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"cocreate_bench_results_{os.getpid()}_{secrets.token_hex(3)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        log(f"dropped database {name}")


def load(engine: Engine, *, votes: int, ideas: int) -> int:
    """The campaign, its round, voters, ideas and votes. Returns the round's id."""
    from cocreate.voting.models import Vote

    voters = votes // VOTES_PER_VOTER
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO brands (name, slug, primary_color, created_at) "
                "VALUES ('Bench', 'bench', '#b3261e', now())"
            )
        )
        conn.execute(
            text(
                "INSERT INTO campaigns (brand_id, slug, title, summary, brief, rules, prizes, "
                "primary_color, categories, languages, submission_limit, timezone, status, "
                "created_at, published_at) SELECT id, :slug, 'Bench', '', '', '', '', "
                "'#b3261e', '[]', '[\"en\"]', 3, 'UTC', 'published', now(), now() "
                "FROM brands WHERE slug = 'bench'"
            ),
            {"slug": SLUG},
        )
        campaign_id = conn.execute(text("SELECT id FROM campaigns")).scalar_one()
        for position, (kind, opens, closes) in enumerate(
            [
                ("submission", ROUND_OPENS - timedelta(days=30), ROUND_OPENS),
                ("voting", ROUND_OPENS, ROUND_CLOSES),
                ("announcement", ROUND_CLOSES, ROUND_CLOSES + timedelta(days=30)),
            ]
        ):
            conn.execute(
                text(
                    "INSERT INTO stages (campaign_id, position, kind, title, opens_at, "
                    "closes_at, config) VALUES (:c, :p, :k, '', :o, :e, '{}')"
                ),
                {"c": campaign_id, "p": position, "k": kind, "o": opens, "e": closes},
            )
        conn.execute(
            text(
                "INSERT INTO rounds (stage_id, campaign_id, method, max_votes, points_budget, "
                "frequency, require_verified_email, min_account_age_days, countries, "
                "advancement, advancement_value, tie_break, visibility, fraud_policy) "
                "SELECT id, campaign_id, 'approval', :n, 0, 'once', true, 0, '[]', 'top_n', "
                "100, 'earlier_submission', 'live', '{}' FROM stages WHERE kind = 'voting'"
            ),
            {"n": VOTES_PER_VOTER},
        )
        round_id = conn.execute(text("SELECT id FROM rounds")).scalar_one()

    with timed(f"{voters:,} voters"):
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (email, display_name, is_admin, disabled, created_at, "
                    "email_verified_at, session_version) "
                    "SELECT 'v' || g || '@bench.invalid', 'Voter ' || g, false, false, "
                    ":t, :t, 0 FROM generate_series(1, :n) g"
                ),
                {"n": voters, "t": ROUND_OPENS - timedelta(days=60)},
            )
    with timed(f"{ideas:,} ideas"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ideas (campaign_id, author_id, title, description, status, "
                "search_key, vote_count, random_key, created_at, submitted_at, updated_at) "
                "SELECT :c, 1, 'Idea number ' || g, '', 'approved', '', 0, "
                "(g * 7919) % 1000003, :t, :t + g * interval '1 minute', :t "
                "FROM generate_series(1, :n) g"
            ),
            {"c": campaign_id, "n": ideas, "t": ROUND_OPENS - timedelta(days=30)},
        )

    vote_indexes = [i for i in Vote.__table__.indexes]  # type: ignore[attr-defined]
    with timed(f"{votes:,} votes (indexes dropped during the load)"):
        with engine.begin() as conn:
            for index in vote_indexes:
                conn.execute(text(f'DROP INDEX IF EXISTS "{index.name}"'))
            # Foreign keys hold by construction here; replica mode skips their per-row checks.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            # Voter v casts 10 votes on ten consecutive ideas from a skewed starting point (a
            # few ideas are popular, most are not); about 1 % held, 1 % withdrawn. One series
            # in id order, so nothing is sorted.
            conn.execute(
                text(
                    """
                    INSERT INTO votes (round_id, voter_id, idea_id, period, weight, status,
                                       cast_at, withdrawn_at, risk_score, risk_signals)
                    SELECT :r,
                           s.voter,
                           1 + (s.base + s.j) % :ideas,
                           0, 1,
                           CASE WHEN (s.voter + s.j) % 97 = 0 THEN 'held' ELSE 'counted' END,
                           :opens + s.g * (:step_ms * interval '1 millisecond'),
                           CASE WHEN (s.voter * 7 + s.j) % 89 = 0
                                THEN :opens + interval '9 days' END,
                           0, '{}'
                    FROM (SELECT g,
                                 g / :per_voter + 1 AS voter,
                                 g % :per_voter AS j,
                                 floor((:ideas - :per_voter)
                                       * power((((g / :per_voter + 1) * 2654435761) % 1000003)
                                               / 1000003.0, 3))::int AS base
                          FROM generate_series(0::bigint, :votes - 1) g) s
                    """
                ),
                {
                    "r": round_id,
                    "ideas": ideas,
                    "per_voter": VOTES_PER_VOTER,
                    "opens": ROUND_OPENS,
                    # votes spread over 95 % of the round, in id order
                    "step_ms": (ROUND_CLOSES - ROUND_OPENS).total_seconds() * 950 / votes,
                    "votes": votes,
                },
            )
    with timed("vote indexes rebuilt"):
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            for index in vote_indexes:
                index.create(conn)
    with timed("idea tallies, VACUUM (ANALYZE)"):
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO idea_tallies (round_id, idea_id, votes, points) "
                    "SELECT round_id, idea_id, count(*), sum(weight) FROM votes "
                    "WHERE status = 'counted' AND withdrawn_at IS NULL "
                    "GROUP BY round_id, idea_id"
                )
            )
        # As a long-running database would be: vacuumed (visibility map set, so no autovacuum
        # runs during the measurements) and analysed.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_size_pretty(pg_total_relation_size('votes'))")).scalar()
    log(f"votes table with its indexes: {size}")
    return int(round_id)


def page_times(app: Any, paths: list[str], requests: int) -> dict[str, Any]:
    """Server time per request: the ASGI app called in-process (routing, middleware, the
    handler's queries, rendering), no network and no HTTP client. p50 / p95 / max in ms."""

    async def call(path: str) -> float:
        route, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": route,
            "raw_path": route.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"testserver")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "app": app,
        }
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        start = time.perf_counter()
        await app(scope, receive, send)
        elapsed = (time.perf_counter() - start) * 1000
        assert status == [200], (path, status)
        return elapsed

    async def measure() -> dict[str, list[float]]:
        for path in paths:  # warm the caches and the connection pool
            await call(path)
        found: dict[str, list[float]] = {path: [] for path in paths}
        for n in range(requests):
            path = paths[n % len(paths)]
            found[path].append(await call(path))
        return found

    by_path = asyncio.run(measure())
    every = sorted(t for times in by_path.values() for t in times)
    first = sorted(by_path[paths[0]])
    return {
        "p50_ms": round(statistics.median(every), 1),
        "p95_ms": round(every[int(len(every) * 0.95) - 1], 1),
        "max_ms": round(every[-1], 1),
        "first_page_p95_ms": round(first[int(len(first) * 0.95) - 1], 1),
        "requests": requests,
        "load_average": round(os.getloadavg()[0], 1),
    }


def make_app(url: str, at: datetime) -> Any:
    from cocreate.app import create_app
    from cocreate.clock import FrozenClock
    from cocreate.settings import Settings

    settings = Settings(
        database_url=url,
        secret_key="bench-" + "x" * 40,
        base_url="http://testserver",
        data_dir=Path(tempfile.mkdtemp(prefix="cocreate-bench-")),
        outbox_interval_seconds=0,
    )
    return create_app(settings, clock=FrozenClock(at))


def certify_in_child(url: str, round_id: int) -> dict[str, Any]:
    """Certification in a process of its own: its time and its own peak memory."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.results_scale", "--certify", url, str(round_id)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"certification failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def certify_here(url: str, round_id: int) -> None:
    from sqlalchemy import text
    from sqlmodel import Session

    import cocreate.models  # noqa: F401  (every table, for the ORM's foreign keys)
    from cocreate.db import make_engine
    from cocreate.results.certify import certify_round
    from cocreate.voting.models import Round

    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        round_ = session.get(Round, round_id)
        assert round_ is not None
        # Undecided held votes block certification: the generated ones are voided first, as
        # a moderator would on the held votes page (void keeps them in the log, uncounted).
        session.execute(
            text("UPDATE votes SET status = 'void' WHERE round_id = :r AND status = 'held'"),
            {"r": round_id},
        )
        session.commit()
        start = time.perf_counter()
        done = certify_round(session=session, round_=round_, now=ROUND_CLOSES + timedelta(hours=1))
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "seconds": round(seconds, 1),
                "peak_rss_mib": round(peak / 1024, 1),
                "votes_in_log": done.votes_in_log,
                "digest": done.digest,
            }
        )
    )


def run(votes: int, ideas: int, requests: int) -> dict[str, Any]:
    from sqlmodel import Session

    from cocreate.db import make_engine
    from cocreate.migrate import upgrade
    from cocreate.voting.service import recount

    report: dict[str, Any] = {"votes": votes, "ideas": ideas, "cpus": os.cpu_count()}
    with scratch_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        with timed("load") as loading:
            round_id = load(engine, votes=votes, ideas=ideas)
        report["load_seconds"] = round(loading["seconds"], 1)

        pages = [f"/c/{SLUG}/results"] + [
            f"/c/{SLUG}/results?round=1&page={p}" for p in (2, 7, 40, 200)
        ]
        live = make_app(url, ROUND_OPENS + timedelta(days=5))
        report["live_page"] = page_times(live, pages, requests)
        log(f"live results page: {report['live_page']}")

        with Session(engine) as session, timed("full recount (SQL GROUP BY)") as counting:
            counted = recount(session=session, round_id=round_id)
        report["recount_seconds"] = round(counting["seconds"], 1)
        report["counted_votes"] = sum(v for v, _ in counted.values())

        log("certifying (child process) ...")
        report["certification"] = certify_in_child(url, round_id)
        report["certification"]["load_average"] = round(os.getloadavg()[0], 1)
        log(f"certification: {report['certification']}")

        certified = make_app(url, ROUND_CLOSES + timedelta(days=1))
        report["certified_page"] = page_times(certified, pages, requests)
        log(f"certified results page: {report['certified_page']}")

        env = {**os.environ, "COCREATE_DATABASE_URL": url}
        env.setdefault("COCREATE_DATA_DIR", tempfile.mkdtemp(prefix="cocreate-bench-"))
        with timed("cocreate verify-results") as verifying:
            check = subprocess.run(
                [sys.executable, "-m", "cocreate", "verify-results", SLUG],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        report["verify_seconds"] = round(verifying["seconds"], 1)
        report["verify_exit_code"] = check.returncode
        log(check.stdout.strip())
        engine.dispose()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--votes", type=int, default=10_000_000)
    parser.add_argument("--ideas", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--certify", nargs=2, metavar=("URL", "ROUND_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.certify:
        certify_here(args.certify[0], int(args.certify[1]))
        return 0
    report = run(args.votes, args.ideas, args.requests)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
