"""Certification's memory as a job: the peak RSS of the worker process that runs it.

One approval round on PostgreSQL (the loader of `results_scale`: 10 votes per voter over
10,000 ideas, about 1 % held and 1 % withdrawn), for each size given. For each, three jobs
queued through `Jobs.enqueue` as the pages queue them, each run by a fresh
`cocreate jobs --once` process, whose own peak RSS (`wait4`) is reported:

- `fraud.scan`: the round's fraud scan alone (what "scan now" runs);
- `results.certify`: the whole certification job (the scan, then the recount and digest
  streamed from a server-side cursor);
- and, for the streamed part alone, `cocreate verify-results` (the same recount and digest
  over the same cursor, without the scan).

    python -m benchmarks.certify_memory [--votes 1000000,3000000] [--ideas 10000]

Extrapolation to 10 M votes is linear in the votes from the two largest sizes. Not part of
pytest. The administrative connection comes from COCREATE_BENCH_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from benchmarks.results_scale import SLUG, load, log, scratch_database

TARGET_MIB = 1024


def environment(url: str, data_dir: Path) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("COCREATE_")}
    return {
        **inherited,
        "COCREATE_DATABASE_URL": url,
        "COCREATE_SECRET_KEY": "bench-" + "x" * 40,
        "COCREATE_DATA_DIR": str(data_dir),
        "COCREATE_OUTBOX_INTERVAL": "0",
    }


def measured(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `command`; its wall time, exit code and own peak RSS (MiB)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _pid, status, usage = os.wait4(process.pid, 0)
    output = process.stdout.read().decode(errors="replace") if process.stdout else ""
    return {
        "seconds": round(time.perf_counter() - start, 1),
        "exit": os.waitstatus_to_exitcode(status),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
        "output": output[-2000:],
    }


def run_job(url: str, env: dict[str, str], task: str, args: dict[str, Any]) -> dict[str, Any]:
    import cocreate.models  # noqa: F401  (every table, for the ORM's foreign keys)
    from cocreate.clock import system_clock
    from cocreate.db import make_engine
    from cocreate.jobs.models import Job
    from cocreate.jobs.service import make_jobs
    from cocreate.settings import Settings
    from cocreate.storage import make_storage

    settings = Settings(database_url=url, data_dir=Path(env["COCREATE_DATA_DIR"]))
    engine = make_engine(url)
    jobs = make_jobs(
        settings=settings, engine=engine, clock=system_clock, storage=make_storage(settings)
    )
    with Session(engine) as session:
        job = jobs.enqueue(session=session, task=task, args=args)
    jobs.close()
    found = measured([sys.executable, "-m", "cocreate", "jobs", "--once"], env)
    with Session(engine) as session:
        done = session.get(Job, job.id)
        assert done is not None
        found.update(status=done.status, message=done.message or done.error)
    engine.dispose()
    if done.status != "succeeded":
        raise RuntimeError(f"{task} did not succeed: {found}")
    del found["output"]
    return found


def one_size(votes: int, ideas: int) -> dict[str, Any]:
    from cocreate.db import make_engine

    report: dict[str, Any] = {"votes": votes}
    with scratch_database() as url:
        engine = make_engine(url)
        from cocreate.migrate import upgrade

        upgrade(engine)
        start = time.perf_counter()
        round_id = load(engine, votes=votes, ideas=ideas)
        with engine.begin() as conn:  # held votes block certification: a moderator voids them
            conn.execute(
                text("UPDATE votes SET status = 'void' WHERE round_id = :r AND status = 'held'"),
                {"r": round_id},
            )
        engine.dispose()
        log(f"{votes:,} votes loaded in {time.perf_counter() - start:.0f} s")
        env = environment(url, Path(tempfile.mkdtemp(prefix="cocreate-bench-")))
        report["scan_job"] = run_job(url, env, "fraud.scan", {"round_id": round_id})
        log(f"scan job: {report['scan_job']}")
        report["certify_job"] = run_job(url, env, "results.certify", {"round_id": round_id})
        log(f"certification job: {report['certify_job']}")
        verify = measured(
            [sys.executable, "-m", "cocreate", "verify-results", SLUG, "--round", "1"], env
        )
        report["verify_results"] = {k: v for k, v in verify.items() if k != "output"}
        log(f"verify-results (recount and digest streamed): {report['verify_results']}")
        if verify["exit"] != 0:
            raise RuntimeError(verify["output"])
    report["load_average"] = round(os.getloadavg()[0], 1)
    return report


def extrapolate(reports: list[dict[str, Any]], key: str, votes: int) -> float:
    (a, b) = reports[-2:]
    slope = (b[key]["peak_rss_mib"] - a[key]["peak_rss_mib"]) / (b["votes"] - a["votes"])
    return round(b[key]["peak_rss_mib"] + slope * (votes - b["votes"]), 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", default="1000000,3000000", help="comma-separated sizes")
    parser.add_argument("--ideas", type=int, default=10_000)
    parser.add_argument("--json", help="write the report to this file")
    args = parser.parse_args(argv)
    sizes = sorted(int(v) for v in args.votes.split(","))
    reports = [one_size(votes, args.ideas) for votes in sizes]
    summary: dict[str, Any] = {"sizes": reports}
    if len(reports) >= 2:
        summary["at_10M_mib"] = {
            key: extrapolate(reports, key, 10_000_000)
            for key in ("scan_job", "certify_job", "verify_results")
        }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    # The goal is at 10 M votes: judged on the extrapolation when there are two sizes.
    peak = summary.get("at_10M_mib", {}).get(
        "certify_job", reports[-1]["certify_job"]["peak_rss_mib"]
    )
    log(f"certification job at 10 M votes: {peak:.0f} MiB (goal: at most {TARGET_MIB} MiB)")
    return 0 if peak <= TARGET_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
