"""Per-request cost of the signed-in path and the vote, with the ASGI app called directly.

No HTTP server, no load generator, one request at a time: the figures measure only the
application's own work (middleware, authentication, handler, statements, rendering), so
they move far less with the machine's load than `vote_load`'s. Same data as `vote_load`.
On PostgreSQL each line also gives the server's CPU per request (every `postgres` process
of this machine, read from /proc: use a server nothing else is using).
The last line sends the votes 16 at a time on one event loop, as a loaded worker receives
them (they then make batches: cocreate/group_commit.py).

Usage: python -m benchmarks.vote_inprocess [--backend sqlite|postgresql] [--requests 2000]
    [--profile]   (with pyinstrument installed: a profile of the vote requests)
    [--cprofile N]   (cProfile: calls per vote, the top N functions by own and total time)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchmarks.vote_load import SECRET_KEY, SLUG, database, prepare, voter_cookies

Send = Callable[[dict[str, Any]], Awaitable[None]]


def platform_app(url: str, data_dir: str) -> Any:
    """The platform's ASGI app on the benchmark's database, with its settings from the
    environment as uvicorn's workers get them."""
    os.environ.update(
        COCREATE_DATABASE_URL=url,
        COCREATE_SECRET_KEY=SECRET_KEY,
        COCREATE_DATA_DIR=data_dir,
        COCREATE_OUTBOX_INTERVAL="0",
    )
    from cocreate.app import create_app
    from cocreate.settings import Settings

    return create_app(Settings.from_env())


def scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(app: Any, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    sent = False
    status = 0
    body = b""

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(scope(method, path, headers), receive, send)
    return status, body


def server_cpu_seconds() -> float | None:
    """CPU time of every `postgres` process on this machine (Linux: /proc), or None: on a
    local PostgreSQL, what the server spent on the requests in between (its background
    processes included; nothing else should be using it)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = 0
    for entry in proc.iterdir():
        try:
            raw = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue  # the process ended
        if "(postgres)" in raw:
            fields = raw[raw.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


async def timed(
    label: str,
    n: int,
    make: Callable[[int], tuple[str, str, dict[str, str]]],
    app: Any,
    expect: bytes | None = None,
    server_cpu: Callable[[], float | None] | None = None,
) -> float:
    """`n` requests one at a time: the median and best time per request over the second
    half, the worker's CPU per request and, with `server_cpu`, the database server's."""
    times = []
    cpu = 0.0
    server = None
    for i in range(n):
        if i == n // 2:
            cpu = time.process_time()
            server = server_cpu() if server_cpu else None
        method, path, headers = make(i)
        start = time.perf_counter()
        status, body = await call(app, method, path, headers)
        times.append(time.perf_counter() - start)
        if status >= 400 or (expect is not None and expect not in body):
            raise RuntimeError(f"{label}: {status} {body[:300]!r}")
    cpu_ms = (time.process_time() - cpu) / (n - n // 2) * 1000
    server_after = server_cpu() if server_cpu else None
    server_ms = ""
    if server is not None and server_after is not None:
        server_ms = f"  PostgreSQL CPU {(server_after - server) / (n - n // 2) * 1000:6.3f} ms"
    # The second half: the first requests warm the caches and the pool. The best batch of
    # 100 and the CPU time move less than the median when other processes share the cores.
    rest = times[n // 2 :]
    median = statistics.median(rest) * 1000
    best = min(statistics.fmean(rest[i : i + 100]) for i in range(0, len(rest) - 99, 100)) * 1000
    print(
        f"{label:<36} p50 {median:6.3f} ms  best {best:6.3f} ms  CPU {cpu_ms:6.3f} ms"
        f"  {1000 / best:6.0f} /s{server_ms}"
    )
    return best


async def timed_together(
    label: str,
    n: int,
    together: int,
    make: Callable[[int], tuple[str, str, dict[str, str]]],
    app: Any,
    expect: bytes,
) -> float:
    """`n` requests sent `together` at a time (one event loop, as a worker under load, where
    the votes then make batches: cocreate/group_commit.py): the time per request."""
    starts = range(0, n - together + 1, together)
    if len(starts) < 2:
        raise SystemExit(f"{label}: give --requests of at least {2 * together}")
    counted = starts[len(starts) // 2]  # CPU time over the second half, as in `timed`
    times = []
    cpu = 0.0
    for first in starts:
        if first == counted:
            cpu = time.process_time()
        start = time.perf_counter()
        answers = await asyncio.gather(
            *(call(app, *make(i)) for i in range(first, first + together))
        )
        times.append((time.perf_counter() - start) / together)
        for status, body in answers:
            if status >= 400 or expect not in body:
                raise RuntimeError(f"{label}: {status} {body[:300]!r}")
    cpu_ms = (time.process_time() - cpu) / (starts[-1] + together - counted) * 1000
    rest = times[len(times) // 2 :]
    median = statistics.median(rest) * 1000
    print(f"{label:<36} p50 {median:6.3f} ms  CPU {cpu_ms:6.3f} ms  {1000 / median:6.0f} /s")
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vote_inprocess")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--cprofile", type=int, default=0, metavar="N", help="cProfile: print the top N by own time"
    )
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(args.backend, args.pg_url, Path(tmp)) as url,
    ):
        from sqlalchemy import text

        from cocreate.db import make_engine

        engine = make_engine(url)
        world = prepare(engine, ideas=max(3001, 2 * args.requests + 1), voters=4)
        app = platform_app(url, tmp)
        cookie, csrf = voter_cookies(world.voter_ids[0])
        signed_in = {"cookie": cookie, "host": "127.0.0.1:8000"}
        vote_headers = {**signed_in, "hx-request": "true", "x-csrftoken": csrf}
        ceiling_engine = make_engine(url)
        server_cpu = server_cpu_seconds if args.backend == "postgresql" else None

        async def run() -> None:
            from benchmarks import ceiling_app

            ceiling_app.engine = ceiling_engine
            ceiling_app._insert = (  # noqa: SLF001
                ceiling_app.pg_insert if args.backend == "postgresql" else ceiling_app.sqlite_insert
            )
            n = args.requests
            await timed(
                "ceiling: bare INSERT endpoint",
                n,
                lambda i: ("POST", f"/insert/{i}", {}),
                ceiling_app.app,
                server_cpu=server_cpu,
            )
            await timed("GET /healthz, anonymous", n, lambda i: ("GET", "/healthz", {}), app)
            await timed(
                "GET /healthz, signed in (floor)",
                n,
                lambda i: ("GET", "/healthz", signed_in),
                app,
                server_cpu=server_cpu,
            )

            def vote(i: int) -> tuple[str, str, dict[str, str]]:
                return ("POST", f"/c/{SLUG}/vote/{world.first_idea + i}", vote_headers)

            if args.profile:
                from pyinstrument import Profiler

                with Profiler(async_mode="disabled") as profiler:
                    await timed("vote (profiled)", n, vote, app, b"is counted")
                profiler.print(show_all=False)
            elif args.cprofile:
                import cProfile
                import pstats

                profile = cProfile.Profile()
                profile.enable()
                await timed("vote (cProfile)", n, vote, app, b"is counted")
                profile.disable()
                stats = pstats.Stats(profile)
                print(f"{stats.total_calls / n:.0f} function calls per vote")  # type: ignore[attr-defined]
                stats.sort_stats("tottime").print_stats(args.cprofile)
                stats.sort_stats("cumulative").print_stats(args.cprofile)
            else:
                await timed(
                    "POST /c/{slug}/vote/{idea} (htmx)",
                    n,
                    vote,
                    app,
                    b"is counted",
                    server_cpu=server_cpu,
                )

                def later_vote(i: int) -> tuple[str, str, dict[str, str]]:
                    return vote(n + i)

                await timed_together(
                    "the same, 16 at a time", n, 16, later_vote, app, b"is counted"
                )

        asyncio.run(run())
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM votes")).scalar()
        print(f"votes stored: {stored}")
        engine.dispose()
        ceiling_engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
