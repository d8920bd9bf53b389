"""The hooks that let voting and results ask what is built on them (results, the jury) without
importing it: loading the tables registers both, and asking with nothing registered is an
error, never a silent answer. Each case runs in a fresh interpreter, where nothing else has
imported the features yet."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sqlmodel import Session

from cocreate.results.certify import certify_round
from cocreate.voting import hooks
from tests.results_support import DAY, T0, make_contest, write_votes


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_loading_the_tables_registers_what_results_and_the_jury_lend() -> None:
    done = _run(
        """
        from datetime import UTC, datetime

        from sqlalchemy import create_engine
        from sqlmodel import Session, SQLModel

        import cocreate.models  # every table: what the job worker and the commands import
        from cocreate.campaigns.models import Stage, StageKind
        from cocreate.results.advancement import stage_outcome
        from cocreate.voting import hooks

        engine = create_engine("sqlite://")
        SQLModel.metadata.create_all(engine)
        with Session(engine) as session:
            when = datetime(2030, 1, 1, tzinfo=UTC)
            stage = Stage(
                id=7, campaign_id=1, kind=StageKind.JURY, position=1, opens_at=when,
                closes_at=when,
            )
            print(stage_outcome(session=session, stage=stage))
            print(hooks.published_order(session=session, round_id=1, idea_ids=[1, 2]))
            print(hooks.published_order(session=session, round_id=1, first=20))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["StageOutcome(ready=False, ideas=[])", "[]", "[]"]


def test_a_jury_stage_without_the_jury_feature_is_an_error() -> None:
    done = _run(
        """
        from cocreate.campaigns.models import Stage, StageKind
        from cocreate.results.advancement import stage_outcome

        stage_outcome(session=None, stage=Stage(kind=StageKind.JURY))
        """
    )
    assert done.returncode == 1
    assert "RuntimeError: No reader of jury stages' choices is registered" in done.stderr


def test_a_certified_order_without_the_results_feature_is_an_error() -> None:
    done = _run(
        """
        from cocreate.voting.methods.ranked import pairwise_matrix

        class Rows:
            def all(self):
                return [type("Row", (), {"idea_id": 1})()]

        class Session:
            def exec(self, statement):
                return Rows()

        pairwise_matrix(session=Session(), round_id=1)
        """
    )
    assert done.returncode == 1
    assert "RuntimeError: No reader of certified results is registered" in done.stderr


def test_the_published_order_is_the_certified_one(session: Session) -> None:
    contest = make_contest(session, voters=3, advancement_value=1)
    v, (a, b, c, d, e) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], c, 1), (v[1], c, 1), (v[2], c, 1)])
    write_votes(session, contest.round, [(v[0], e, 1), (v[1], e, 1), (v[2], a, 1)])
    certify_round(session=session, round_=contest.round, now=T0 + 11 * DAY)

    def order(**only: object) -> list[tuple[str, int, int, bool | None]]:
        rows = hooks.published_order(session=session, round_id=contest.round.id, **only)  # type: ignore[arg-type]
        return [(r.title[-1], r.position, r.rank, r.advanced) for r in rows]

    assert order(first=3) == [("C", 1, 1, True), ("E", 2, 2, False), ("A", 3, 3, False)]
    assert order(idea_ids=[d.id, c.id, b.id]) == [
        ("C", 1, 1, True),
        ("B", 4, 4, False),
        ("D", 5, 4, False),
    ]
    assert [row[0] for row in order()] == ["C", "E", "A", "B", "D"]
