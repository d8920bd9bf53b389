"""Gallery and similar-ideas latency with 100,000 approved ideas in one campaign.

    python -m benchmarks.ideas_gallery --db sqlite
    python -m benchmarks.ideas_gallery --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres

For PostgreSQL the URL names a server (and a database to connect to first): the benchmark
creates a database of its own there and drops it at the end. For SQLite, `sqlite` means a
fresh file in a temporary folder; `sqlite:///path.db` must not exist yet.

Requests go through the real app (middleware, routing, access wrapper, templates) with
Starlette's TestClient; "server time" is measured around the ASGI app, from the request
entering to the last byte of the response leaving, so the client's own overhead is not in it.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine, make_url
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from cocreate.accounts.models import User
from cocreate.app import create_app
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.clock import FrozenClock
from cocreate.db import make_engine
from cocreate.ideas.models import Idea, IdeaStatus, IdeaTerm
from cocreate.ideas.search import index_rows
from cocreate.ideas.similarity import fold
from cocreate.migrate import upgrade
from cocreate.settings import Settings

SLUG = "bench"
PAGE_SIZE = 24
TARGET_P95_MS = 50.0

FLAVOURS = """salt vinegar paprika smoky chili chilli lime lemon garlic onion cheese cheddar
    chive sour cream pepper black truffle mushroom tomato basil oregano thyme rosemary honey
    mustard barbecue bbq ketchup mayo wasabi ginger soy sesame teriyaki curry masala tikka
    mango coconut pineapple strawberry raspberry cherry apple cinnamon caramel chocolate
    vanilla coffee mint sea seaweed prawn cocktail bacon ham chicken beef steak lamb kebab
    pizza taco nacho jalapeno sriracha harissa za'atar sumac olive feta halloumi goat
    fraise framboise pomme poire cerise citron vert ail oignon fromage poivre piment
    fumé moutarde miel caramel beurre salé crème brûlée chèvre herbes provence tapenade
    cornichon aneth betterave noisette pistache amande café menthe gingembre sésame
    épices paella chorizo jambon poulet rôti bœuf bourguignon raclette tartiflette
    crêpe galette madeleine calisson nougat praliné réglisse violette lavande""".split()
FILLER = """crunchy light fresh bold subtle tangy sweet spicy hot mild rich creamy zesty
    summer winter picnic party family kids adults evening breakfast lunch snack share
    perfect balance flavour taste bite texture crisp thin thick wavy ridged kettle baked
    idea would love everyone this that with like really great best new classic twist
    délicieux croustillant léger frais épicé doux fondant parfait goût saveur apéro
    soirée été hiver famille enfants partage recette tradition région terroir""".split()
CATEGORIES = ["Sweet", "Savoury", "Spicy", "Herby", "Cheesy", "Seasonal"]


@dataclass(frozen=True)
class Result:
    name: str
    timings_ms: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.timings_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]

    def line(self) -> str:
        p50, p95 = self.percentile(50), self.percentile(95)
        verdict = "ok" if p95 < TARGET_P95_MS else "SLOW"
        return (
            f"{self.name:<34} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   "
            f"max {max(self.timings_ms):6.1f} ms   n={len(self.timings_ms)}   {verdict}"
        )


class ServerTimer:
    """ASGI wrapper: time from the request entering the app to the response's last byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.last_ms = (time.perf_counter() - started) * 1000


# --- database of its own -------------------------------------------------------------------


@contextmanager
def own_database(url: str, keep: bool) -> Iterator[str]:
    if url == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cocreate-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if path.exists():
            raise SystemExit(f"{path} exists; give a new file (it is filled with test data)")
        try:
            yield url
        finally:
            if not keep:
                for suffix in ("", "-wal", "-shm"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
        return
    name = f"cocreate_bench_{secrets.token_hex(4)}"
    admin = make_engine(parsed.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- data ----------------------------------------------------------------------------------


def _title(rng: random.Random) -> str:
    words = rng.sample(FLAVOURS, rng.randint(2, 4))
    joiner = rng.choice([" ", " & ", " and ", " et ", " with ", " au "])
    return (words[0].capitalize() + joiner + " ".join(words[1:]))[:120]


def _description(rng: random.Random) -> str:
    count = rng.randint(12, 30)
    words = [rng.choice(FLAVOURS if rng.random() < 0.4 else FILLER) for _ in range(count)]
    return " ".join(words).capitalize() + "."


def generate(engine: Engine, ideas: int, now: datetime) -> float:
    """Brand, campaign, authors and `ideas` approved ideas with their terms; returns seconds."""
    started = time.perf_counter()
    rng = random.Random(20261123)
    with engine.begin() as conn:
        conn.execute(insert(Brand).values(id=1, name="Bench brand", slug="bench-brand"))
        conn.execute(
            insert(Campaign).values(
                id=1,
                brand_id=1,
                slug=SLUG,
                title="Benchmark campaign",
                status=CampaignStatus.PUBLISHED,
                categories=CATEGORIES,
                languages=["en", "fr"],
                created_at=now,
            )
        )
        conn.execute(
            insert(Stage).values(
                campaign_id=1,
                position=0,
                kind=StageKind.SUBMISSION,
                title="Ideas",
                opens_at=now - timedelta(days=30),
                closes_at=now + timedelta(days=30),
                config={},
            )
        )
        authors = 5000
        conn.execute(
            insert(User),
            [
                {
                    "id": n,
                    "email": f"author{n}@bench.invalid",
                    "display_name": f"Author {n}",
                    "created_at": now,
                    "is_admin": False,
                    "disabled": False,
                    "session_version": 0,
                }
                for n in range(1, authors + 1)
            ],
        )
    idea_rows: list[dict[str, Any]] = []
    term_rows: list[dict[str, Any]] = []
    for n in range(1, ideas + 1):
        when = now - timedelta(seconds=(ideas - n) * 30 + rng.randint(0, 20))
        title = _title(rng)
        row = {
            "id": n,
            "campaign_id": 1,
            "author_id": rng.randint(1, authors),
            "title": title,
            "description": _description(rng),
            "category": rng.choice(CATEGORIES),
            "image_key": None,
            "status": IdeaStatus.APPROVED,
            "merged_into_id": None,
            "search_key": fold(title),
            "vote_count": int(rng.paretovariate(1.2)) - 1,
            "random_key": rng.randrange(2**31),
            "created_at": when,
            "submitted_at": when,
            "updated_at": when,
        }
        idea_rows.append(row)
        term_rows += index_rows(Idea(**row))
    if engine.dialect.name == "postgresql":
        _copy_postgresql(engine, idea_rows, term_rows)
    else:
        with engine.begin() as conn:
            for chunk in _chunks(idea_rows, 10_000):
                conn.execute(insert(Idea), chunk)
            # Primary key order: SQLite appends to the B-tree instead of inserting at random.
            term_rows.sort(key=lambda r: (r["in_title"], r["term"], r["idea_id"]))
            for chunk in _chunks(term_rows, 50_000):
                conn.execute(insert(IdeaTerm), chunk)
    # Statistics for the planner, and (PostgreSQL) the visibility map that index-only scans
    # need: autovacuum does both in production; after a bulk load we do not wait for it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    print(f"  {ideas:,} ideas, {len(term_rows):,} look-up terms")
    return time.perf_counter() - started


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _copy_postgresql(
    engine: Engine, idea_rows: list[dict[str, Any]], term_rows: list[dict[str, Any]]
) -> None:
    """COPY is the bulk path on PostgreSQL (ten times faster than multi-row INSERT)."""
    idea_columns = list(idea_rows[0])
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY ideas ({', '.join(idea_columns)}) FROM STDIN") as copy:
            for row in idea_rows:
                copy.write_row([row[c] for c in idea_columns])
        with cursor.copy(
            "COPY idea_terms (campaign_id, term, idea_id, in_title) FROM STDIN"
        ) as copy:
            for row in term_rows:
                copy.write_row([row["campaign_id"], row["term"], row["idea_id"], row["in_title"]])
        cursor.execute("SELECT setval('ideas_id_seq', (SELECT max(id) FROM ideas))")
        cursor.execute("SELECT setval('users_id_seq', (SELECT max(id) FROM users))")
        raw.commit()
    finally:
        raw.close()


def cursor_at_page(engine: Engine, page: int, sort: str) -> str:
    """The `after` cursor that "More ideas" would carry to reach `page` (1-based)."""
    offset = (page - 1) * PAGE_SIZE - 1
    order = {
        "newest": "submitted_at DESC, id DESC",
        "votes": "vote_count DESC, id DESC",
    }[sort]
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT id, submitted_at, vote_count FROM ideas WHERE campaign_id = 1 "
                f"AND status = 'approved' ORDER BY {order} LIMIT 1 OFFSET :offset"
            ),
            {"offset": offset},
        ).one()
    if sort == "votes":
        return f"{row.vote_count}.{row.id}"
    submitted = row.submitted_at
    if isinstance(submitted, str):  # SQLite hands back text outside the ORM type
        submitted = datetime.fromisoformat(submitted)
    if submitted.tzinfo is None:
        submitted = submitted.replace(tzinfo=UTC)
    return f"{int(submitted.timestamp() * 1_000_000)}.{row.id}"


def _url(path: str, **params: str) -> str:
    return f"{path}?{urlencode(params)}"


# --- measuring -----------------------------------------------------------------------------


def measure(
    client: TestClient,
    timer: ServerTimer,
    name: str,
    urls: list[str],
    runs: int,
    headers: dict[str, str] | None = None,
) -> Result:
    for url in urls[:5]:  # warm caches and the connection pool
        client.get(url, headers=headers)
    timings = []
    for n in range(runs):
        response = client.get(urls[n % len(urls)], headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{name}: {urls[n % len(urls)]} answered {response.status_code}")
        timings.append(timer.last_ms)
    return Result(name, timings)


def run(url: str, ideas: int, runs: int, keep: bool) -> list[Result]:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with own_database(url, keep) as database_url, tempfile.TemporaryDirectory() as data_dir:
        backend = make_url(database_url).get_backend_name()
        print(f"{backend}: creating {ideas:,} approved ideas ...")
        engine = make_engine(database_url)
        try:
            upgrade(engine)
            seconds = generate(engine, ideas, now)
            print(f"  generated in {seconds:.1f} s")
            settings = Settings(
                database_url=database_url,
                secret_key="benchmark-secret-key-" + "x" * 32,
                data_dir=Path(data_dir),
                outbox_interval_seconds=0,
            )
            app = create_app(settings, clock=FrozenClock(now))
            timer = ServerTimer(app)
            base = f"/c/{SLUG}/ideas"
            htmx = {"HX-Request": "true"}
            deep = min(500, ideas // PAGE_SIZE)  # page 500 needs 12,000 ideas
            page500 = cursor_at_page(engine, deep, "newest")
            votes500 = cursor_at_page(engine, deep, "votes")
            searches = ["chocolate", "fraise", "creme brulee", "smoky bacon", "pist", "kettle"]
            titles = [
                "Fraises au chocolat",
                "creme brulee",
                "Smoky bacon and maple",
                "Chili lime",
                "pistache",
                "Truffe et parmesan",
                "Salt and vinegar with a twist",
                "Sweet chilli & sour cream",
            ]
            scenarios: list[tuple[str, list[str], dict[str, str] | None]] = [
                ("gallery first page (newest)", [base], None),
                ("gallery first page (most voted)", [base + "?sort=votes"], None),
                ("gallery first page (random)", [base + "?sort=random&seed=123456"], None),
                (f"gallery page {deep} (newest)", [f"{base}?after={page500}"], None),
                (f"gallery page {deep} (votes)", [f"{base}?sort=votes&after={votes500}"], None),
                (f"gallery page {deep}, htmx fragment", [f"{base}?after={page500}"], htmx),
                ("gallery search (6 queries)", [_url(base, q=q) for q in searches], None),
                (
                    "gallery search + category",
                    [_url(base, q=q, category="Sweet") for q in searches],
                    None,
                ),
                (
                    "similar ideas (8 titles, htmx)",
                    [_url(base + "/similar", title=t) for t in titles],
                    htmx,
                ),
            ]
            # The same campaign post-moderated: the gallery shows approved and pending ideas
            # (the public-visibility rule), so its pages read two statuses.
            post_scenarios: list[tuple[str, list[str], dict[str, str] | None]] = [
                ("post-moderated: first page (newest)", [base], None),
                ("post-moderated: first page (most voted)", [base + "?sort=votes"], None),
                (f"post-moderated: page {deep} (newest)", [f"{base}?after={page500}"], None),
                ("post-moderated: search (6 queries)", [_url(base, q=q) for q in searches], None),
            ]
            load_before = os.getloadavg()[0]
            with TestClient(timer, base_url="http://127.0.0.1") as client:
                results = [
                    measure(client, timer, name, urls, runs, headers)
                    for name, urls, headers in scenarios
                ]
                with engine.begin() as conn:
                    conn.execute(
                        text("UPDATE campaigns SET moderation_mode = 'post' WHERE slug = :slug"),
                        {"slug": SLUG},
                    )
                results += [
                    measure(client, timer, name, urls, runs, headers)
                    for name, urls, headers in post_scenarios
                ]
            load_after = os.getloadavg()[0]
        finally:
            engine.dispose()
    # Other work on the machine shows in the tail: say how busy it was.
    print(f"  load average (1 min) {load_before:.1f} before, {load_after:.1f} after measuring")
    for result in results:
        print("  " + result.line())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", required=True, help="'sqlite', sqlite:///new.db or a PostgreSQL server URL"
    )
    parser.add_argument("--ideas", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200, help="requests per scenario")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)
    results = run(args.db, args.ideas, args.runs, args.keep)
    slow = [r.name for r in results if r.percentile(95) >= TARGET_P95_MS]
    if slow:
        print(f"p95 at or over {TARGET_P95_MS:.0f} ms: {', '.join(slow)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
