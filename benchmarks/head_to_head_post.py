"""A head-to-head choice through the real application: `POST /c/{slug}/choice` as htmx sends
it, at 100,000 entrants, on SQLite and PostgreSQL.

    python -m benchmarks.head_to_head_post                 # both databases
    python -m benchmarks.head_to_head_post --db sqlite     # one (or a PostgreSQL server URL)

The round is `benchmarks.head_to_head`'s (100,000 ideas with statistics, 2,000 voters who
judged 100 pairs each), made a `head_to_head` round open now. The app is the platform's ASGI
app (`benchmarks.vote_inprocess.platform_app`: every middleware, the signed session cookie,
CSRF) driven by Starlette's TestClient, one request at a time. Each timed request is one
choice: the signed pair checked, eligibility, the rate limit, the fraud screen, the choice
and both ideas' statistics written and committed, then the voter's next pair chosen, signed
and rendered (the htmx answer). The pair posted was chosen and signed before the clock
starts, as the ballot page does. A few ballot pages are timed too: the first brings the
round's ideas up to date (all 100,000 read), the next ones within 30 s do not. Not part of pytest.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session
from starlette.testclient import TestClient

from benchmarks.head_to_head import POSTGRES, load, log, percentiles
from benchmarks.ideas_gallery import own_database
from benchmarks.vote_inprocess import platform_app
from benchmarks.vote_load import SECRET_KEY, voter_cookies
from cocreate.db import make_engine
from cocreate.headtohead import chooser, offer
from cocreate.migrate import upgrade

SLUG = "battle"  # benchmarks.head_to_head's campaign


def bench(url: str, *, ideas: int, voters: int, posts: int, pages: int) -> None:
    with own_database(url, keep=False) as db_url:
        engine = make_engine(db_url)
        upgrade(engine)
        round_id = load(engine, ideas=ideas, voters=voters, history=100)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE rounds SET method = 'head_to_head', max_votes = 120, "
                    "require_verified_email = false WHERE id = :id"
                ),
                {"id": round_id},
            )
            conn.execute(
                text("UPDATE stages SET opens_at = :opens, closes_at = :closes WHERE id = 2"),
                {"opens": now - timedelta(days=10), "closes": now + timedelta(days=10)},
            )
        rng = random.Random(7)
        with (
            tempfile.TemporaryDirectory() as data_dir,
            TestClient(platform_app(db_url, data_dir), base_url="http://127.0.0.1") as client,
        ):
            timings: list[float] = []
            outcomes: dict[int, int] = {}
            for n in range(posts):
                voter_id = 1 + (n * 7) % voters
                with Session(engine) as session:
                    pair = chooser.next_pair(
                        session=session, round_id=round_id, voter_id=voter_id, rng=rng
                    )
                assert pair is not None
                token = offer.sign_pair(
                    secret_key=SECRET_KEY, round_id=round_id, voter_id=voter_id, pair=pair
                )
                cookie, csrf = voter_cookies(voter_id)
                started = time.perf_counter()
                answer = client.post(
                    f"/c/{SLUG}/choice",
                    data={"pair": token, "outcome": rng.choice(["left", "right", "tie"])},
                    headers={"Cookie": cookie, "X-CSRFToken": csrf, "HX-Request": "true"},
                )
                timings.append((time.perf_counter() - started) * 1000)
                outcomes[answer.status_code] = outcomes.get(answer.status_code, 0) + 1
                if n == 0:
                    assert 'id="battle"' in answer.text, answer.text[:500]
            log(f"{engine.dialect.name}: choice POST (htmx, next pair) {percentiles(timings)}")
            with engine.connect() as conn:
                stored = conn.execute(
                    text("SELECT count(*) FROM head_to_head_choices WHERE cast_at > :t"),
                    {"t": now},
                ).scalar_one()
            log(f"  answers by status: {outcomes}; choices stored by them: {stored}")
            page_times = []
            for n in range(pages):
                cookie, _csrf = voter_cookies(1 + n)
                started = time.perf_counter()
                page = client.get(f"/c/{SLUG}/vote", headers={"Cookie": cookie})
                page_times.append((time.perf_counter() - started) * 1000)
                assert page.status_code == 200 and 'name="pair"' in page.text
            log(
                f"{engine.dialect.name}: ballot page GET, {pages} in a row (the first brings "
                f"the round's ideas up to date): "
                + ", ".join(f"{t:.0f}" for t in page_times)
                + " ms"
            )
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", action="append", help="'sqlite' or a PostgreSQL server URL")
    parser.add_argument("--ideas", type=int, default=100_000)
    parser.add_argument("--voters", type=int, default=2_000)
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--pages", type=int, default=3)
    args = parser.parse_args(argv)
    for url in args.db or ["sqlite", POSTGRES]:
        bench(url, ideas=args.ideas, voters=args.voters, posts=args.posts, pages=args.pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
