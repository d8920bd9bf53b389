"""Withdrawing an idea asks first: a confirmation page (no script needed) whose form posts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from starlette.testclient import TestClient

from cocreate.campaigns.models import Campaign
from cocreate.clock import FrozenClock
from cocreate.ideas.models import IdeaStatus
from tests.conftest import csrf_from, log_in, post_form, reload

MakeCampaign = Callable[..., Campaign]


def test_withdrawing_asks_for_confirmation_then_withdraws(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    session: Session,
) -> None:
    campaign = make_campaign()
    author = make_user()
    idea = make_idea(campaign, author, "Smoky paprika", status=IdeaStatus.PENDING)
    log_in(client, author)
    confirm = f"/c/{campaign.slug}/ideas/{idea.id}/withdraw"
    # The idea page and the author's list link to the confirmation, they do not post.
    for page in (f"/c/{campaign.slug}/ideas/{idea.id}", "/me/ideas"):
        html = client.get(page).text
        assert f'href="{confirm}"' in html
        assert f'action="{confirm}"' not in html
    page = client.get(confirm)
    assert page.status_code == 200
    assert "Withdraw your idea?" in page.text and "Smoky paprika" in page.text
    assert "Its place in the campaign becomes free" in page.text
    assert re.search(rf'<form method="post" action="{re.escape(confirm)}"', page.text)
    reload(session, idea)
    assert idea.status == IdeaStatus.PENDING  # looking at the question changed nothing

    token = csrf_from(client, confirm)
    response = client.post(confirm, data={"csrf_token": token})
    assert response.status_code == 303
    reload(session, idea)
    assert idea.status == IdeaStatus.WITHDRAWN
    # Asked again once withdrawn: back to the idea with a clear word, no second question.
    response = client.get(confirm)
    assert response.status_code == 303
    assert "can no longer be withdrawn" in client.get(response.headers["location"]).text


def test_the_confirmation_is_the_authors_alone_and_only_while_withdrawing_is_possible(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    clock: FrozenClock,
) -> None:
    campaign = make_campaign()
    author, other = make_user(), make_user()
    idea = make_idea(campaign, author, "Approved", status=IdeaStatus.APPROVED)
    confirm = f"/c/{campaign.slug}/ideas/{idea.id}/withdraw"
    log_in(client, other)
    assert client.get(confirm).status_code == 403
    post_form(client, "/logout", page="/account")
    log_in(client, author)
    assert client.get(confirm).status_code == 200
    clock.advance(days=8)  # submission closed: an approved idea stays
    response = client.get(confirm)
    assert response.status_code == 303
    assert "can no longer be withdrawn" in client.get(response.headers["location"]).text
