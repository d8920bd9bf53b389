"""`make bench`: every benchmark on SQLite and on the local PostgreSQL server."""

from __future__ import annotations

import os
import sys

from benchmarks import (
    certify_memory,
    fraud_cases,
    head_to_head,
    ideas_gallery,
    moderation_queue,
    results_scale,
    storm,
    vote_load,
)
from benchmarks.fraud import report as fraud_scan

POSTGRES = os.environ.get(
    "COCREATE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def main() -> int:
    failures = 0
    for url in ("sqlite", POSTGRES):
        failures += ideas_gallery.main(["--db", url])
        failures += moderation_queue.main(["--db", url])
    failures += vote_load.main()
    failures += storm.main([])  # voters during 200 log-ins in 10 s (issue 17)
    failures += results_scale.main([])  # PostgreSQL only: 10 M votes
    failures += certify_memory.main([])  # PostgreSQL: the certification job's peak memory
    failures += fraud_scan.main([])  # no database: the detectors on a generated log
    failures += fraud_cases.main([])  # PostgreSQL: loading 1 M votes and `cocreate fraud-scan`
    failures += head_to_head.main([])  # pair choice at 100,000 ideas (both); 10 M choices ranked
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
