"""The vote endpoint under load, against its ceiling, on SQLite and PostgreSQL.

For each database: a fresh database (PostgreSQL: one created for the run and dropped after),
migrated, with a published campaign whose approval round is open, `--ideas` approved ideas and
`--voters` verified accounts. Each account gets a signed session cookie (with its CSRF token)
and a device cookie made with the server's secret key, as if it had logged in and opened the
ballot. Then, on 127.0.0.1 only:

1. the ceiling: a bare Starlette endpoint doing one INSERT into the same database
   (benchmarks/ceiling_app.py), served by `cocreate serve --app` with the same number of workers;
2. the vote endpoint: `POST /c/<slug>/vote/<idea>` as htmx sends it, served by `cocreate serve`
   running the platform (cocreate.asgi:app).

Both run as production does (`cocreate serve`); VOTE_LOAD_LAUNCHER=uvicorn serves both with
uvicorn's `--workers` (one shared socket) instead, VOTE_LOAD_LAUNCHER=gunicorn with gunicorn,
uvicorn-worker and `--reuse-port` called directly (see `launcher`).

Each is driven by wrk with `--connections` connections for `--seconds` seconds, then a short
drain (benchmarks/vote_load.lua). Reported: requests/s, p50/p90/p99 latency, errors; for the
votes, the check that every vote the server acknowledged is stored, and nothing else is
(stored == acknowledged), and that the live tally equals a recount of the vote log.

Usage: python -m benchmarks.vote_load [--backends sqlite,postgresql] [--seconds 30] ...
Needs wrk (`apt-get install -y wrk`) and, for PostgreSQL, a server at --pg-url (trust auth).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from itsdangerous import Signer, TimestampSigner
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "vote_load.lua"
SECRET_KEY = "vote-load-benchmark-secret-key-" + "s" * 24
SLUG = "bench-vote"
DRAIN_SECONDS = 2


@dataclass
class Run:
    backend: str
    endpoint: str
    workers: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    acknowledged: int
    repeated: int
    refused: int
    stored: int | None = None
    server_cpu_ms: float | None = None  # CPU time of the server's processes per request

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- Databases ------------------------------------------------------------------------------


@contextmanager
def database(backend: str, pg_url: str, workdir: Path) -> Iterator[str]:
    """A new, empty database URL; PostgreSQL databases are dropped afterwards."""
    from cocreate.db import make_engine

    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"cocreate_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = make_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class World:
    round_id: int
    first_idea: int
    ideas: int
    voter_ids: list[int]


def prepare(engine: Engine, *, ideas: int, voters: int) -> World:
    """Migrate, then make the campaign, its open approval round, ideas and voters."""
    import cocreate.models  # noqa: F401  (every table on the metadata)
    from benchmarks.ceiling_app import metadata as ceiling_metadata
    from cocreate.accounts.models import User
    from cocreate.brands.models import Brand
    from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
    from cocreate.ideas.models import Idea, IdeaStatus
    from cocreate.migrate import upgrade
    from cocreate.voting.models import Round

    upgrade(engine)
    ceiling_metadata.create_all(engine)
    now = datetime.now(UTC)
    with Session(engine) as session:
        brand = Brand(name="Bench", slug="bench")
        session.add(brand)
        session.flush()
        campaign = Campaign(
            brand_id=brand.id,  # type: ignore[arg-type]
            slug=SLUG,
            title="Benchmark",
            status=CampaignStatus.PUBLISHED,
            timezone="Europe/Paris",
        )
        session.add(campaign)
        session.flush()
        submission = Stage(
            campaign_id=campaign.id,  # type: ignore[arg-type]
            position=0,
            kind=StageKind.SUBMISSION,
            opens_at=now - timedelta(days=30),
            closes_at=now - timedelta(days=2),
        )
        stage = Stage(
            campaign_id=campaign.id,  # type: ignore[arg-type]
            position=1,
            kind=StageKind.VOTING,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=1),
        )
        author = User(email="author@bench.example.com", display_name="Author", created_at=now)
        session.add_all([submission, stage, author])
        session.flush()
        # Approval with an allowance as large as the ideas: no voter runs out in the run.
        round_ = Round(
            stage_id=stage.id,  # type: ignore[arg-type]
            campaign_id=campaign.id,  # type: ignore[arg-type]
            method="approval",
            max_votes=ideas,
            visibility="live",  # the costliest: the answer shows the idea's new count
            # 64 voters voting hundreds of times a minute from one address are exactly what
            # the fraud checks stop; thresholds of 100 keep every vote counted while the
            # checks still run in full (windows, mailbox lookup, score) and are measured.
            fraud_policy={"challenge_above": 100, "refuse_above": 100, "middle": "challenge"},
        )
        session.add(round_)
        session.commit()
        round_id, campaign_id, author_id = round_.id, campaign.id, author.id
    assert round_id is not None and campaign_id is not None and author_id is not None
    with engine.begin() as conn:
        conn.execute(
            insert(Idea),
            [
                {
                    "campaign_id": campaign_id,
                    "author_id": author_id,
                    "title": f"Idea {n}",
                    "description": f"Benchmark idea number {n}.",
                    "status": IdeaStatus.APPROVED.value,
                    "search_key": f"idea {n}",
                    "vote_count": 0,
                    "random_key": n,
                    "created_at": now,
                    "submitted_at": now - timedelta(days=3),
                    "updated_at": now,
                }
                for n in range(ideas)
            ],
        )
        conn.execute(
            insert(User),
            [
                {
                    "email": f"voter{n}@bench.example.com",
                    # A bulk insert skips the model's listener: set what sign-up would, so the
                    # fraud checks' mailbox lookup runs on every vote as it does in production.
                    "canonical_mailbox": f"voter{n}@bench.example.com",
                    "display_name": f"Voter {n}",
                    "email_verified_at": now - timedelta(days=20),
                    "created_at": now - timedelta(days=30),
                    "is_admin": False,
                    "disabled": False,
                    "session_version": 0,
                }
                for n in range(voters)
            ],
        )
        idea_ids = [
            row[0]
            for row in conn.execute(select(Idea.id).order_by(Idea.id))  # type: ignore[arg-type]
        ]
        voter_ids = [
            row[0]
            for row in conn.execute(
                select(User.id).where(User.email.like("voter%"))  # type: ignore[union-attr]
            )
        ]
    # The script computes idea ids by arithmetic: they must be consecutive.
    assert idea_ids == list(range(idea_ids[0], idea_ids[0] + ideas)), "idea ids not consecutive"
    return World(round_id, idea_ids[0], ideas, sorted(voter_ids))


def voter_cookies(voter_id: int) -> tuple[str, str]:
    """(Cookie header, CSRF token) of a voter who logged in and opened the ballot."""
    csrf = secrets.token_urlsafe(32)
    session = b64encode(json.dumps({"uid": voter_id, "sv": 0, "csrf": csrf}).encode())
    signed = TimestampSigner(SECRET_KEY).sign(session).decode()
    device = Signer(SECRET_KEY, salt="cocreate.device").sign(secrets.token_urlsafe(16)).decode()
    return f"cocreate_session={signed}; cocreate_device={device}", csrf


def write_voters(path: Path, world: World) -> list[tuple[str, str]]:
    """The Lua table the wrk script reads: each voter walks the ideas with its own stride
    (the number of ideas is prime, so every stride visits every idea once)."""
    made = []
    lines = [f'return {{slug = "{SLUG}", first_idea = {world.first_idea}, ideas = {world.ideas},']
    lines.append("voters = {")
    for n, voter_id in enumerate(world.voter_ids):
        cookie, csrf = voter_cookies(voter_id)
        made.append((cookie, csrf))
        offset = (n * 7919) % world.ideas
        step = 1 + (n * 104729) % (world.ideas - 1)
        lines.append(
            f'  {{cookie = "{cookie}", csrf = "{csrf}", offset = {offset}, step = {step}}},'
        )
    lines.append("}}")
    path.write_text("\n".join(lines))
    return made


def is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, int(n**0.5) + 1))


# --- Servers and load ---------------------------------------------------------------------------


def launcher(app: str, *, port: int, workers: int) -> list[str]:
    """The server command after `python -m`: as production serves (`cocreate serve`), or, for
    comparison, VOTE_LOAD_LAUNCHER=uvicorn (uvicorn's --workers, one shared socket) or
    VOTE_LOAD_LAUNCHER=gunicorn (gunicorn with uvicorn-worker and --reuse-port, called
    directly)."""
    chosen = os.environ.get("VOTE_LOAD_LAUNCHER", "cocreate")
    if os.environ.get("VOTE_LOAD_SHARED_SOCKET"):
        chosen = "uvicorn"
    address = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    quiet = ["--no-access-log", "--log-level", "warning"]
    if chosen == "cocreate":
        return ["cocreate", "serve", "--app", app, *address, *quiet]
    if chosen == "uvicorn":
        return ["uvicorn", app, *address, *quiet]
    if chosen == "gunicorn":
        return [
            "gunicorn",
            app,
            "--worker-class",
            "uvicorn_worker.UvicornWorker",
            "--reuse-port",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ]
    raise SystemExit(f"VOTE_LOAD_LAUNCHER={chosen!r}: cocreate, uvicorn or gunicorn")


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:`port` (Linux: /proc/net/tcp; 0A is LISTEN)."""
    wanted = f"0100007F:{port:04X}"
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return 0
    return sum(1 for line in lines if line.split()[1:4:2] == [wanted, "0A"])


def expected_sockets(workers: int) -> int:
    """Listening sockets once every worker listens: one each (SO_REUSEPORT, Linux), else 0
    (nothing to wait for)."""
    shared = os.environ.get("VOTE_LOAD_SHARED_SOCKET") or (
        os.environ.get("VOTE_LOAD_LAUNCHER") == "uvicorn"
    )
    return workers if sys.platform == "linux" and not shared else 0


@dataclass
class Served:
    url: str
    pid: int  # the server's first process (our parent, or gunicorn's arbiter)


def server_cpu_seconds(pid: int) -> float:
    """User and system CPU time of `pid` and its living descendants (its workers)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        times[child] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(times.get(member, 0.0) for member in tree)


@contextmanager
def server(
    app: str,
    *,
    database_url: str,
    workers: int,
    workdir: Path,
    extra_env: Mapping[str, str] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> Iterator[Served]:
    """`app` served as production serves it (see `launcher`) on a free port until the block
    ends. A traceback in its log raises, unless `on_log` is given: it then gets the whole log
    to judge."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("COCREATE_")}
    env = {
        **inherited,
        "COCREATE_ENV": "dev",
        "COCREATE_DATABASE_URL": database_url,
        "COCREATE_SECRET_KEY": SECRET_KEY,
        "COCREATE_BASE_URL": url,
        "COCREATE_DATA_DIR": str(workdir),
        "COCREATE_OUTBOX_INTERVAL": "0",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", *launcher(app, port=port, workers=workers)]
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            # Every worker must be serving before the load starts. gunicorn's workers bind
            # their sockets as they start: first every socket must listen. Then each check is
            # a new connection, which the kernel hands to a worker at random: 16 prompt answers
            # in a row leave a 2**-16 chance (two workers) that one worker has not answered yet.
            deadline = time.monotonic() + 60
            prompt = 0
            while prompt < 16 or listening_sockets(port) < expected_sockets(workers):
                if process.poll() is not None:
                    raise RuntimeError(f"{app} exited:\n{log_path.read_text()}")
                try:
                    with urllib.request.urlopen(f"{url}/readyz", timeout=0.5) as answer:
                        prompt = prompt + 1 if answer.status == 200 else 0
                except OSError:
                    prompt = 0
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{app} not ready:\n{log_path.read_text()}")
                if not prompt:
                    time.sleep(0.1)
            yield Served(url, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    output = log_path.read_text(errors="replace")
    if on_log is not None:
        on_log(output)
    elif "Traceback" in output:
        raise RuntimeError(f"{app} logged an error:\n{output[-4000:]}")


def run_wrk(
    served: Served, *, mode: str, seconds: int, connections: int, threads: int, data: Path | None
) -> dict[str, Any]:
    env = {
        **os.environ,
        "VOTE_LOAD_MODE": mode,
        "VOTE_LOAD_SECONDS": str(seconds),
        "VOTE_LOAD_THREADS": str(threads),
        "VOTE_LOAD_DATA": str(data or ""),
    }
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds + DRAIN_SECONDS}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        served.url,
    ]
    cpu_before = server_cpu_seconds(served.pid)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    cpu = server_cpu_seconds(served.pid) - cpu_before
    found = [line for line in done.stdout.splitlines() if line.startswith("VOTE_LOAD ")]
    if not found:
        raise RuntimeError(f"wrk said:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(found[0].removeprefix("VOTE_LOAD "))
    result["server_cpu_s"] = cpu
    result["samples"] = [
        line.removeprefix("VOTE_LOAD_SAMPLE ")
        for line in done.stdout.splitlines()
        if line.startswith("VOTE_LOAD_SAMPLE ")
    ]
    return result


def as_run(backend: str, endpoint: str, workers: int, raw: dict[str, Any]) -> Run:
    return Run(
        backend=backend,
        endpoint=endpoint,
        workers=workers,
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"],
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        acknowledged=raw["acknowledged"],
        repeated=raw["repeated"],
        refused=raw["refused"],
        server_cpu_ms=raw["server_cpu_s"] * 1000 / max(raw["requests"], 1),
    )


def stored_votes(engine: Engine, world: World) -> tuple[int, bool, int]:
    """(counted live votes, recount == live tally, votes spent according to the ballots)."""
    from cocreate.voting.models import Ballot, Vote
    from cocreate.voting.service import live_tally, recount

    with Session(engine) as session:
        stored = session.execute(
            select(func.count())
            .select_from(Vote)
            .where(
                Vote.round_id == world.round_id,  # type: ignore[arg-type]
                Vote.status == "counted",  # type: ignore[arg-type]
                Vote.withdrawn_at.is_(None),  # type: ignore[union-attr]
            )
        ).scalar_one()
        same = recount(session=session, round_id=world.round_id) == live_tally(
            session=session, round_id=world.round_id
        )
        spent = session.execute(
            select(func.coalesce(func.sum(world.ideas - Ballot.votes_left), 0)).where(
                Ballot.round_id == world.round_id  # type: ignore[arg-type]
            )
        ).scalar_one()
    return int(stored), same, int(spent)


def stored_inserts(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM bench_inserts")).scalar_one())


def check_login(url: str, cookie: str, ideas: int) -> None:
    """The crafted cookies log in: the ballot shows the voter's full allowance."""
    request = urllib.request.Request(f"{url}/c/{SLUG}/vote", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as answer:
        page = answer.read().decode()
    if f"Votes left: {ideas} of {ideas}" not in page:
        raise RuntimeError("the benchmark's session cookie does not log in")


# --- The run -------------------------------------------------------------------------------


def measure(
    backend: str, args: argparse.Namespace, workdir: Path
) -> tuple[Run, Run, dict[str, Any]]:
    from cocreate.db import make_engine

    workers = args.sqlite_workers if backend == "sqlite" else args.pg_workers
    with database(backend, args.pg_url, workdir) as url:
        engine = make_engine(url)
        try:
            world = prepare(engine, ideas=args.ideas, voters=args.voters)
            data = workdir / f"voters-{backend}.lua"
            cookies = write_voters(data, world)
            load = {
                "seconds": args.seconds,
                "connections": args.connections,
                "threads": args.threads,
            }
            with server(
                "benchmarks.ceiling_app:app", database_url=url, workers=workers, workdir=workdir
            ) as served:
                raw = run_wrk(served, mode="ceiling", data=None, **load)
            ceiling = as_run(backend, "bare INSERT (ceiling)", workers, raw)
            ceiling.stored = stored_inserts(engine)
            platform = "cocreate.asgi:app"
            with server(platform, database_url=url, workers=workers, workdir=workdir) as served:
                check_login(served.url, cookies[0][0], world.ideas)
                floor = as_run(
                    backend,
                    "GET /healthz signed in (floor)",
                    workers,
                    run_wrk(served, mode="floor", data=data, **load),
                )
                raw = run_wrk(served, mode="vote", data=data, **load)
            vote = as_run(backend, "POST /c/{slug}/vote/{idea}", workers, raw)
            vote.stored, tally_matches, spent = stored_votes(engine, world)
            checks = {
                "stored_equals_acknowledged": vote.stored == vote.acknowledged,
                "ballots_equal_votes": spent == vote.stored,
                "tally_equals_recount": tally_matches,
                "no_refused_votes": vote.refused == 0 and vote.errors == 0,
                "ceiling_stored_equals_acknowledged": ceiling.stored == ceiling.acknowledged,
                "samples": raw["samples"],
            }
        finally:
            engine.dispose()
    checks["floor"] = floor
    return ceiling, vote, checks


def table(runs: list[tuple[Run, Run, dict[str, Any]]]) -> str:
    lines = [
        "| database | endpoint | workers | requests/s | p50 ms | p90 ms | p99 ms | errors "
        "| acknowledged | stored | server CPU ms/request |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for ceiling, vote, checks in runs:
        for run in (ceiling, checks["floor"], vote):
            stored = "" if run.stored is None else f"{run.stored:,}"
            acknowledged = f"{run.acknowledged:,}" if run.stored is not None else ""
            lines.append(
                f"| {run.backend} | {run.endpoint} | {run.workers} | {run.rate:,.0f} "
                f"| {run.p50_ms:.1f} | {run.p90_ms:.1f} | {run.p99_ms:.1f} | {run.errors} "
                f"| {acknowledged} | {stored} | {run.server_cpu_ms or 0:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vote_load", description=__doc__)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--voters", type=int, default=64)
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
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    if not is_prime(args.ideas):
        parser.error("--ideas must be a prime number (each voter's stride visits every idea)")
    runs = []
    ok = True
    with tempfile.TemporaryDirectory(prefix="vote-load-") as tmp:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            ceiling, vote, checks = measure(backend, args, Path(tmp))
            runs.append((ceiling, vote, checks))
            share = vote.rate / ceiling.rate
            floor_share = checks["floor"].rate / ceiling.rate
            passed = [k for k, v in checks.items() if v is True]
            failed = [k for k, v in checks.items() if v is False]
            ok = ok and not failed
            print(
                f"\n{backend}: signed-in floor at {floor_share:.0%} and vote endpoint at "
                f"{share:.0%} of the ceiling, "
                f"p99 {vote.p99_ms:.1f} ms; checks passed: {', '.join(passed)}"
                + (f"; FAILED: {', '.join(failed)}" if failed else "")
            )
            for sample in checks["samples"]:
                print(f"  unexpected answer: {sample}")
    print()
    print(table(runs))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "ceiling": asdict(c),
                        "floor": asdict(k["floor"]),
                        "vote": asdict(v),
                        "checks": {name: x for name, x in k.items() if name != "floor"},
                    }
                    for c, v, k in runs
                ],
                indent=2,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
