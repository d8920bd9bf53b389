"""Voters during a log-in storm: 200 log-ins in 10 s while 64 voters vote (issue 17).

For each database, the world of `benchmarks.vote_load` (a fresh database, migrated, an open
approval round, `--ideas` approved ideas, verified voters with crafted session cookies) plus
`--logins` accounts with a password, served by `cocreate serve` (SQLite 1 worker, PostgreSQL
2) with the proxy at 127.0.0.1 trusted, so that each log-in comes from an address of its own
(X-Forwarded-For): a botnet, or a crowd arriving at once, which the per-address limit does not
stop. Then, on 127.0.0.1 only:

1. calm: 64 voters vote through wrk (vote_load.lua, `--connections` connections) for
   `--seconds` seconds;
2. storm: 64 other voters vote the same way for the same time while `--logins` log-ins arrive
   at an even pace over it (each a POST /login with the form's CSRF token, fetched
   beforehand), every other one with the right password, each of a different account.

Reported for each period: the voters' votes/s (answers a second), p50/p99/max latency of
the answered votes, errors (non-2xx/3xx answers, socket errors, answers after wrk's 10 s
timeout), votes stalled (still unanswered at the end, sent over 2 s before: wrk counts them
nowhere, see vote_load.lua) and what the log-ins got. The target: during the storm, no voter
error, no stalled vote and a voters' p99 within 2 s (exit 1 when missed).

Usage: python -m benchmarks.storm [--backends sqlite,postgresql] [--seconds 10] ...
Needs wrk (`apt-get install -y wrk`) and, for PostgreSQL, a server at --pg-url (trust auth).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from benchmarks import vote_load

PASSWORD = "storm-benchmark-password"
BAR_MS = 2000.0  # the voters' p99 during the storm must stay within this
LOGIN_TIMEOUT = 30.0  # a log-in not answered by then counts as a timeout


@dataclass
class Logins:
    outcomes: Counter[str] = field(default_factory=Counter)  # outcome -> count
    ms: list[float] = field(default_factory=list)  # the answered log-ins' latencies


@dataclass
class Period:
    backend: str
    name: str  # calm or storm
    workers: int
    votes: vote_load.Run
    timeouts: int  # answers after wrk's 10 s timeout
    stalled: int  # votes still unanswered at the end, sent over 2 s before (a lower bound)
    logins: Logins | None = None
    server_errors: Counter[str] = field(default_factory=Counter)  # the log's exceptions


def add_login_accounts(engine: Engine, count: int) -> list[str]:
    """`count` verified accounts sharing one password hash (argon2 costs ~0.2 s a hash; a
    hash of the same password verifies as any other would)."""
    from cocreate.accounts.models import User
    from cocreate.security.passwords import hash_password

    hashed = hash_password(PASSWORD)
    now = datetime.now(UTC)
    emails = [f"storm{n}@bench.example.com" for n in range(count)]
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {
                    "email": email,
                    "canonical_mailbox": email,
                    "display_name": f"Storm {n}",
                    "password_hash": hashed,
                    "email_verified_at": now - timedelta(days=20),
                    "created_at": now - timedelta(days=30),
                    "is_admin": False,
                    "disabled": False,
                    "session_version": 0,
                }
                for n, email in enumerate(emails)
            ],
        )
    return emails


async def _login_form(client: httpx2.AsyncClient) -> str:
    page = await client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if page.status_code != 200 or not found:
        raise RuntimeError(f"no log-in form: {page.status_code}")
    return found.group(1)


async def storm_with_voters(
    served: vote_load.Served, emails: list[str], data: Path, load: dict[str, int]
) -> tuple[dict[str, Any], Logins]:
    """Fetch every log-in form first; then start the voters (wrk, in a thread) and send the
    log-ins at an even pace over the voters' period."""
    seconds = load["seconds"]
    logins = Logins()
    clients = [
        httpx2.AsyncClient(
            base_url=served.url,
            timeout=LOGIN_TIMEOUT,
            headers={"X-Forwarded-For": f"10.{n // 250}.{n % 250}.1"},
        )
        for n in range(len(emails))
    ]

    async def log_in(n: int, started: float) -> None:
        await asyncio.sleep(max(0.0, started + n * seconds / len(emails) - time.monotonic()))
        right = n % 2 == 1
        sent = time.monotonic()
        try:
            answer = await clients[n].post(
                "/login",
                data={
                    "csrf_token": tokens[n],
                    "email": emails[n],
                    "password": PASSWORD if right else "not-the-password",
                },
            )
        except httpx2.TimeoutException:
            logins.outcomes["timeouts"] += 1
            return
        except httpx2.HTTPError as exc:
            logins.outcomes[type(exc).__name__] += 1
            return
        logins.ms.append((time.monotonic() - sent) * 1000)
        expected = {(True, 303): "303 logged in", (False, 400): "400 wrong password"}
        label = expected.get((right, answer.status_code))
        logins.outcomes[label or f"{answer.status_code} ({'right' if right else 'wrong'})"] += 1

    try:
        tokens = await asyncio.gather(*(_login_form(client) for client in clients))
        with ThreadPoolExecutor(1) as pool:
            voting = asyncio.get_running_loop().run_in_executor(
                pool, lambda: vote_load.run_wrk(served, mode="vote", data=data, **load)
            )
            started = time.monotonic()
            await asyncio.gather(*(log_in(n, started) for n in range(len(emails))))
            raw = await voting
    finally:
        for client in clients:
            await client.aclose()
    return raw, logins


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[Period]:
    from cocreate.db import make_engine

    workers = args.sqlite_workers if backend == "sqlite" else args.pg_workers
    load = {"seconds": args.seconds, "connections": args.connections, "threads": args.threads}
    logs: list[str] = []
    with vote_load.database(backend, args.pg_url, workdir) as url:
        engine = make_engine(url)
        try:
            world = vote_load.prepare(engine, ideas=args.ideas, voters=2 * args.voters)
            emails = add_login_accounts(engine, args.logins)
        finally:
            engine.dispose()
        # Two crowds of voters, so that the storm's voters cast new votes as the calm ones did.
        calm_data, storm_data = workdir / f"calm-{backend}.lua", workdir / f"storm-{backend}.lua"
        calm_voters = vote_load.write_voters(
            calm_data, replace(world, voter_ids=world.voter_ids[: args.voters])
        )
        vote_load.write_voters(storm_data, replace(world, voter_ids=world.voter_ids[args.voters :]))
        with vote_load.server(
            "cocreate.asgi:app",
            database_url=url,
            workers=workers,
            workdir=workdir,
            extra_env={"COCREATE_TRUSTED_PROXIES": "127.0.0.1"},
            on_log=logs.append,
        ) as served:
            vote_load.check_login(served.url, calm_voters[0][0], world.ideas)
            raw = vote_load.run_wrk(served, mode="vote", data=calm_data, **load)
            calm = _period(backend, "calm", workers, raw)
            raw, logins = asyncio.run(storm_with_voters(served, emails, storm_data, load))
            storm = _period(backend, "storm", workers, raw, logins)
    calm.server_errors = storm.server_errors = logged_exceptions("".join(logs))
    return [calm, storm]


def logged_exceptions(log: str) -> Counter[str]:
    """The last line of each traceback in a server's log (the exception), shortened."""
    found: Counter[str] = Counter()
    for traceback in log.split("Traceback (most recent call last):")[1:]:
        lines = [line for line in traceback.splitlines() if line and not line[0].isspace()]
        if lines:
            found[lines[0].split(" (Background on this error")[0][:160]] += 1
    return found


def _period(
    backend: str, name: str, workers: int, raw: dict[str, Any], logins: Logins | None = None
) -> Period:
    votes = vote_load.as_run(backend, "POST /c/{slug}/vote/{idea}", workers, raw)
    return Period(backend, name, workers, votes, raw["timeout"], raw["stalled"], logins)


def table(periods: list[Period]) -> str:
    lines = [
        "| database | workers | period | votes/s | p50 ms | p99 ms | max ms | errors "
        "| of which timeouts | stalled at the end | log-ins: outcomes | log-in p50 / p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in periods:
        votes, logins, login_ms = p.votes, "none", ""
        if p.logins is not None:
            logins = ", ".join(f"{n} {what}" for what, n in p.logins.outcomes.most_common())
            ms = p.logins.ms
            login_ms = f"{_percentile(ms, 0.5):,.0f} / {_percentile(ms, 0.99):,.0f}" if ms else ""
        lines.append(
            f"| {p.backend} | {p.workers} | {p.name} | {votes.rate:,.0f} "
            f"| {votes.p50_ms:,.1f} | {votes.p99_ms:,.1f} | {votes.max_ms:,.0f} "
            f"| {votes.errors} | {p.timeouts} | {p.stalled} | {logins} | {login_ms} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.storm", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=int, default=10, help="length of each period")
    parser.add_argument("--logins", type=int, default=200, help="log-ins during the storm")
    parser.add_argument("--voters", type=int, default=64, help="voters in each period")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--ideas", type=int, default=3001, help="a prime number of ideas")
    parser.add_argument("--sqlite-workers", type=int, default=1)
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "COCREATE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    if not vote_load.is_prime(args.ideas):
        parser.error("--ideas must be a prime number (each voter's stride visits every idea)")
    periods: list[Period] = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="storm-") as tmp:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            calm, storm = measure(backend, args, Path(tmp))
            periods += [calm, storm]
            failed = storm.votes.errors + storm.stalled
            missed = failed > 0 or storm.votes.p99_ms > BAR_MS
            ok = ok and not missed
            print(
                f"\n{backend}: voters' p99 {calm.votes.p99_ms:,.1f} ms calm, "
                f"{storm.votes.p99_ms:,.1f} ms during the storm; votes/s {calm.votes.rate:,.0f} "
                f"calm, {storm.votes.rate:,.0f} during the storm; failed votes (errors, stalled) "
                f"{calm.votes.errors + calm.stalled} calm, {failed} during the storm; "
                f"{storm.server_errors.total()} tracebacks in the server's log"
                + ("; TARGET MISSED" if missed else "")
            )
            for exception, count in storm.server_errors.most_common():
                print(f"  {count} x {exception}")
    print()
    print(table(periods))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
