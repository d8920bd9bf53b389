"""The certified results as CSV, in published order (the vote log's CSV is
`digest.vote_log_csv`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlmodel import Session, col, select

from cocreate.csv_cells import neutral_row
from cocreate.ideas.models import Idea
from cocreate.results.models import RoundResult
from cocreate.voting.models import Round


def results_csv(*, session: Session, round_: Round) -> Iterator[str]:
    """The certified results as CSV text chunks, in published order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["position", "rank", "tied", "idea_id", "title", "votes", "points", "score", "advanced"]
    )  # titles are anyone's text: every row goes through `neutral_row`
    last = 0
    while True:
        rows = session.exec(
            select(RoundResult, Idea.title)
            .join(Idea, col(Idea.id) == RoundResult.idea_id)
            .where(RoundResult.round_id == round_.id, RoundResult.position > last)
            .order_by(col(RoundResult.position))
            .limit(2000)
        ).all()
        if not rows:
            break
        for r, title in rows:
            advanced = {True: "yes", False: "no", None: "undecided"}[r.advanced]
            writer.writerow(
                neutral_row(
                    [
                        r.position,
                        r.rank,
                        int(r.tied),
                        r.idea_id,
                        title,
                        r.votes,
                        r.points,
                        r.score,
                        advanced,
                    ]
                )
            )
            last = r.position
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()
