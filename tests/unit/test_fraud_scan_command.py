"""`cocreate fraud-scan`, run as the operator runs it (a real process on a real database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from cocreate.fraud import cases
from tests.fraud_support import make_attacked
from tests.results_support import DAY, T0


def run_scan(engine: Engine, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COCREATE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "COCREATE_DATA_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "cocreate", "fraud-scan", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fraud_scan_reports_each_round_and_its_open_cases(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    attacked = make_attacked(session)
    loaded = cases.read_round_log(session=session, round_id=attacked.contest.round.id or 0)
    cases.store_findings(
        session=session,
        round_=attacked.contest.round,
        loaded=loaded,
        findings=[attacked.finding(session)],
        now=T0 + 3 * DAY,
    )
    done = run_scan(engine, tmp_path, "flavour", "--round", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "flavour round 1 (Stage 1): 20 votes by 10 accounts;" in done.stdout
    assert "Lockstep ring: " in done.stdout and "(block certification)" in done.stdout
    assert "0.90" in done.stdout

    every = run_scan(engine, tmp_path, "flavour")
    assert every.returncode == 0, every.stdout + every.stderr
    assert "flavour round 2 (Stage 2): 0 votes by 0 accounts;" in every.stdout


def test_fraud_scan_refuses_an_unknown_campaign_or_round(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    make_attacked(session)
    missing = run_scan(engine, tmp_path, "no-such-campaign")
    assert missing.returncode == 1 and "no campaign 'no-such-campaign'" in missing.stderr
    no_round = run_scan(engine, tmp_path, "flavour", "--round", "9")
    assert no_round.returncode == 1 and "flavour has no round 9" in no_round.stderr
