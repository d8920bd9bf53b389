"""What rendering costs on the vote path: the htmx answer to a vote, and the ballot page.

1. The answer alone (`voting/_vote_response.html`), rendered with timeit from the app's own
   Jinja environment with the context `_vote` gives it (an approval round with live counts,
   a counted vote, its message); no database, no request.
2. The ballot page, `GET /c/<slug>/vote`, for a signed-in voter, with the ASGI app called
   in-process (as `vote_inprocess` does) on the data of `vote_load.prepare`: one open approval
   round with live counts and `--entrants` ideas, each drawn with its vote block.

Times are the process's CPU time (`time.process_time`): on a machine shared with other work
they move far less than wall-clock time. The answer's figure is the best of 5 batches.

Usage: python -m benchmarks.vote_render [--backend sqlite|postgresql] [--entrants 3000]
    [--renders 20000] [--pages 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from benchmarks.vote_inprocess import call, platform_app
from benchmarks.vote_load import SLUG, database, prepare, voter_cookies


def answer_context() -> dict[str, Any]:
    """What `_vote` hands the answer after a counted approval vote, with live counts."""
    from cocreate.campaigns.models import Campaign
    from cocreate.voting.ballots import BallotState, EntrantView
    from cocreate.voting.models import Round

    campaign = Campaign(id=1, brand_id=1, slug="bench-vote", title="Benchmark")
    round_ = Round(id=1, stage_id=1, campaign_id=1, method="approval", max_votes=5)
    state = BallotState(
        votes_left=3, points_left=0, max_votes=5, points_budget=0, my_votes={1234: 1}
    )
    return {
        "campaign": campaign,
        "round": round_,
        "entrant": EntrantView(
            idea_id=1234, title="Idea 1234", description="", my_weight=1, count=17, rank=None
        ),
        "state": state,
        "counter": "3 votes left",
        "can_vote": True,
        "message": "Your vote for “Idea 1234” is counted.",
        "refused": False,
        "csrf_token": lambda: "k" * 43,
    }


def time_answer(renders: int) -> None:
    from cocreate.web import make_templates

    template = make_templates().get_template("voting/_vote_response.html")
    context = answer_context()
    runs = [timeit.timeit(lambda: template.render(context), number=renders // 5) for _ in range(5)]
    best = min(runs) / (renders // 5) * 1e6
    median = statistics.median(runs) / (renders // 5) * 1e6
    print(f"{'render _vote_response.html':<36} median {median:7.1f} us  best {best:7.1f} us")


def time_ballot(backend: str, pg_url: str, entrants: int, pages: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, database(backend, pg_url, Path(tmp)) as url:
        from cocreate.db import make_engine

        engine = make_engine(url)
        world = prepare(engine, ideas=entrants, voters=1)
        app = platform_app(url, tmp)
        cookie, _csrf = voter_cookies(world.voter_ids[0])
        headers = {"cookie": cookie, "host": "127.0.0.1:8000"}

        async def run() -> list[float]:
            times = []
            for i in range(pages + 3):
                start = time.process_time()
                status, body = await call(app, "GET", f"/c/{SLUG}/vote", headers)
                if i >= 3:  # the first pages warm the caches
                    times.append(time.process_time() - start)
                if status != 200 or body.count(b'class="entrant"') != entrants:
                    raise RuntimeError(f"ballot: {status} {body[:300]!r}")
            return times

        times = asyncio.run(run())
        label = f"GET /c/{{slug}}/vote, {entrants} entrants"
        print(
            f"{label:<36} median {statistics.median(times) * 1000:7.1f} ms"
            f"  best {min(times) * 1000:7.1f} ms"
        )
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.vote_render")
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--entrants", type=int, default=3000)
    parser.add_argument("--renders", type=int, default=20000)
    parser.add_argument("--pages", type=int, default=30)
    args = parser.parse_args(argv)
    time_answer(args.renders)
    time_ballot(args.backend, args.pg_url, args.entrants, args.pages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
