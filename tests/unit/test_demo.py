from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.campaigns.timeline import is_open, timeline_problems
from cocreate.clock import FrozenClock
from cocreate.demo import CAMPAIGN_SLUG, IDEAS, load_demo
from cocreate.ideas.models import Idea, IdeaStatus, IdeaTerm
from tests.conftest import post_form


def test_the_demo_campaign_is_open_for_ideas_and_loading_twice_adds_nothing(
    session: Session,
) -> None:
    clock = FrozenClock(datetime(2026, 5, 4, 15, 37, tzinfo=UTC))
    load_demo(session, clock=clock)
    tables = (Campaign, Stage, Idea, IdeaTerm)
    counts = [session.exec(select(func.count()).select_from(t)).one() for t in tables]
    assert counts[2] == len(IDEAS)
    clock.advance(days=1)
    load_demo(session, clock=clock)
    assert [session.exec(select(func.count()).select_from(t)).one() for t in tables] == counts
    campaign = session.exec(select(Campaign).where(Campaign.slug == CAMPAIGN_SLUG)).one()
    stages = session.exec(select(Stage).where(Stage.campaign_id == campaign.id)).all()
    assert timeline_problems(stages) == []
    kinds = [s.kind for s in sorted(stages, key=lambda s: s.position)]
    assert kinds[0] == StageKind.SUBMISSION and kinds[-1] == StageKind.ANNOUNCEMENT
    assert StageKind.VOTING in kinds
    submission = is_open(stages, StageKind.SUBMISSION, clock.now())
    assert submission is not None
    assert submission.closes_at - clock.now() > timedelta(days=18)


def test_every_demo_account_can_log_in(client: TestClient, session: Session) -> None:
    for account in load_demo(session):
        response = post_form(
            client, "/login", {"email": account.email, "password": account.password}
        )
        assert response.status_code == 303, account.email
        client.cookies.clear()


def test_the_demo_campaign_page_leads_to_its_approved_ideas_and_to_submitting(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    load_demo(session, clock=clock)
    page = client.get(f"/c/{CAMPAIGN_SLUG}").text
    assert f'href="/c/{CAMPAIGN_SLUG}/ideas/new">Submit an idea</a>' in page
    assert f'href="/c/{CAMPAIGN_SLUG}/ideas">Browse the ideas</a>' in page

    gallery = client.get(f"/c/{CAMPAIGN_SLUG}/ideas").text
    for title, _category, _description in IDEAS:
        assert html.escape(title) in gallery
    statuses = session.exec(select(Idea.status)).all()
    assert set(statuses) == {IdeaStatus.APPROVED}

    hint = client.get(f"/c/{CAMPAIGN_SLUG}/ideas/similar", params={"title": "fraises"})
    assert "Fraise des bois" in hint.text
