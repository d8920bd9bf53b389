"""The fraud scan's database side at scale on PostgreSQL: loading a round's vote log into the
columnar form, and the whole `cocreate fraud-scan` (load, detectors, case store).

Loads one round (by default 1,000,000 votes from 100,000 voters over 10,000 ideas) with the
set-based loader of `benchmarks.results_scale`, gives every vote hashed network, device and
user-agent signals (one /24 per 20 voters, one device per voter, 50 user agents), then
measures in child processes, so that each peak memory (max RSS) is its own:

- `read_round_log`: the DB-API stream and the factorisation of the text signals;
- `cocreate fraud-scan CAMPAIGN`: the command an operator runs (and certification runs).

    python -m benchmarks.fraud_cases [--votes 1000000] [--ideas 10000]

The administrative connection comes from COCREATE_BENCH_DATABASE_URL, as for results_scale.
Not part of pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import text

from benchmarks.results_scale import SLUG, load, log, scratch_database, timed


def add_signals(url: str) -> None:
    from cocreate.db import make_engine

    engine = make_engine(url)
    with timed("signals on every vote"), engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE votes SET "
                "ip_prefix_hash = md5('p' || (voter_id / 20)) || md5('q' || (voter_id / 20)), "
                "ip_hash = md5('i' || voter_id) || md5('j' || voter_id), "
                "device_id = md5('d' || voter_id), "
                "user_agent = 'Mozilla/5.0 (bench ' || (voter_id % 50) || ')'"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) votes"))
    engine.dispose()


def read_here(url: str, round_id: int) -> None:
    """Child process: load the round's log once; print seconds, sizes and peak memory."""
    import cocreate.models  # noqa: F401
    from cocreate.db import Database, make_engine
    from cocreate.fraud.cases import read_round_log

    database = Database(make_engine(url))
    with database.session() as session:
        start = time.perf_counter()
        loaded = read_round_log(session=session, round_id=round_id)
        seconds = time.perf_counter() - start
    arrays = sum(
        getattr(loaded.log, name).nbytes
        for name in ("vote_id", "voter", "idea", "at", "ip", "ip_prefix", "device", "user_agent")
    )
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "votes": len(loaded.log),
                "accounts": len(loaded.accounts),
                "distinct": {
                    name: int(getattr(source, name).max()) + 1
                    for source, names in (
                        (loaded.log, ("ip", "ip_prefix", "device", "user_agent")),
                        (loaded.accounts, ("mailbox", "mailbox_pattern", "email_domain")),
                    )
                    for name in names
                },
                "log_arrays_mb": round(arrays / 2**20, 1),
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
    )


def run(votes: int, ideas: int) -> dict[str, Any]:
    found: dict[str, Any] = {"votes": votes, "ideas": ideas}
    with scratch_database() as url:
        from cocreate.db import make_engine
        from cocreate.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)
        round_id = load(engine, votes=votes, ideas=ideas)
        engine.dispose()
        add_signals(url)
        here = [sys.executable, "-m", "benchmarks.fraud_cases", "--child-read", url, str(round_id)]
        with timed("read_round_log (child process)"):
            child = subprocess.run(here, capture_output=True, text=True, check=True)
        found["read_round_log"] = json.loads(child.stdout.strip().splitlines()[-1])
        env = {**os.environ, "COCREATE_DATABASE_URL": url}
        command = ["/usr/bin/time", "-f", "max_rss_kb=%M", sys.executable, "-m", "cocreate"]
        with timed("cocreate fraud-scan") as scan:
            done = subprocess.run(
                [*command, "fraud-scan", SLUG], capture_output=True, text=True, env=env, check=True
            )
        rss = [line for line in done.stderr.splitlines() if line.startswith("max_rss_kb=")]
        found["fraud_scan"] = {
            "seconds": round(scan["seconds"], 1),
            "output": done.stdout.strip().splitlines(),
            "max_rss_mb": round(int(rss[-1].split("=")[1]) / 1024) if rss else None,
        }
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--ideas", type=int, default=10_000)
    parser.add_argument("--child-read", nargs=2, metavar=("URL", "ROUND"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_read:
        read_here(args.child_read[0], int(args.child_read[1]))
        return 0
    result = run(args.votes, args.ideas)
    log(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
