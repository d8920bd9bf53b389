"""A job's progress on the page that started it: who may see it, the htmx fragment that polls
until the job is done, the plain page with a refresh link, the outcome in the requester's
language; and certification through the console, watched while it waits."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate import i18n
from cocreate.accounts.models import User
from cocreate.brands.models import Membership, Role
from cocreate.clock import FrozenClock
from cocreate.jobs.models import Job, JobStatus
from tests.campaigns_support import visible_text
from tests.conftest import log_in, post_form, reload
from tests.jobs import handlers
from tests.results_support import DAY, T0, make_contest, write_votes

HTMX = {"HX-Request": "true"}
POLLS = re.compile(r'hx-trigger="every 1s"')


def queue(app: Any, session: Session, task: str, user: User | None, **args: Any) -> Job:
    assert handlers.echo  # the test handlers are registered in this process
    return app.state.jobs.enqueue(  # type: ignore[no-any-return]
        session=session, task=task, args=args, requested_by_id=user.id if user else None
    )


def test_the_requester_watches_a_job_until_it_is_done(
    app: Any,
    client: TestClient,
    session: Session,
    make_user: Callable[..., User],
    run_jobs: Callable[[], None],
) -> None:
    owner = make_user()
    log_in(client, owner)
    job = queue(app, session, "test.echo", owner, text="hello")
    fragment = client.get(f"/jobs/{job.id}?back=/account", headers=HTMX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and POLLS.search(fragment.text)
    assert "Waiting for a worker" in visible_text(fragment.text)
    page = client.get(f"/jobs/{job.id}")  # no script: a page with a refresh link
    assert "<html" in page.text and f'href="/jobs/{job.id}"' in page.text

    run_jobs()
    done = client.get(f"/jobs/{job.id}?back=/account", headers=HTMX)
    assert "echo: hello" in visible_text(done.text)
    assert not POLLS.search(done.text)  # finished: the polling stops
    assert 'href="/account"' in done.text  # reload the page that started it
    assert "https://" not in client.get(f"/jobs/{job.id}?back=https://evil.example").text
    reload(session, job)
    assert (job.status, job.attempts, job.progress) == (JobStatus.SUCCEEDED, 1, "echoing")


def test_others_do_not_see_someone_elses_job(
    app: Any, client: TestClient, session: Session, make_user: Callable[..., User]
) -> None:
    owner, other, admin = make_user(), make_user(), make_user(admin=True)
    job = queue(app, session, "test.echo", owner, text="secret")
    assert client.get(f"/jobs/{job.id}").headers["location"].startswith("/login?next=")
    log_in(client, other)
    assert client.get(f"/jobs/{job.id}").status_code == 404
    assert client.get("/jobs/999999").status_code == 404
    client.cookies.clear()
    log_in(client, admin)
    assert client.get(f"/jobs/{job.id}").status_code == 200


@pytest.mark.parametrize(
    ("task", "error"),
    [
        ("test.refuse", "Ce tour n’existe plus."),
        ("test.crash", "Le travail s’est arrêté sur une erreur inattendue"),
    ],
)
def test_a_failed_job_says_why_in_the_requesters_language(
    app: Any,
    client: TestClient,
    session: Session,
    make_user: Callable[..., User],
    run_jobs: Callable[[], None],
    task: str,
    error: str,
) -> None:
    owner = make_user()
    log_in(client, owner)
    with i18n.using_locale("fr"):  # as a request in French queues it
        job = queue(app, session, task, owner)
    run_jobs()
    reload(session, job)
    assert job.status == JobStatus.FAILED and job.message is None
    assert error in visible_text(client.get(f"/jobs/{job.id}").text)


def test_certification_runs_as_a_job_watched_from_the_console(
    client: TestClient,
    session: Session,
    make_user: Callable[..., User],
    clock: FrozenClock,
    run_jobs: Callable[[], None],
) -> None:
    clock.at = T0 + DAY
    contest = make_contest(session, voters=2)
    v, ideas = contest.voters, contest.ideas
    write_votes(session, contest.round, [(v[0], ideas[0], 1), (v[1], ideas[0], 1)])
    marketer = make_user()
    session.add(Membership(brand_id=contest.brand.id, user_id=marketer.id, role=Role.MARKETER))  # type: ignore[arg-type]
    session.commit()
    log_in(client, marketer)
    clock.at = T0 + 11 * DAY
    console = "/brands/crispy/campaigns/flavour/results"
    form = {"round_id": str(contest.round.id)}
    assert post_form(client, console + "/certify", form, page=console).status_code == 303
    assert post_form(client, console + "/certify", form, page=console).status_code == 303
    waiting = client.get(console).text
    assert "Waiting for a worker" in visible_text(waiting) and POLLS.search(waiting)
    assert "Certify the results" not in waiting  # one certification at a time
    jobs = session.exec(select(Job)).all()
    assert len(jobs) == 1 and jobs[0].subject == f"certify:round:{contest.round.id}"

    run_jobs()
    page = visible_text(client.get(console).text)
    assert "is certified. Digest:" in page and "by " + marketer.display_name in page
    reload(session, contest.round)
    assert contest.round.digest and contest.round.digest in page
    assert not POLLS.search(client.get(console).text)
