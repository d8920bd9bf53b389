"""The moderation queue through HTTP: pages, decisions, undo, bulk, reports, permissions."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.header import decode_header, make_header
from typing import Any

import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation import brand_settings, claims, history, reports, rules, screening
from cocreate.moderation.models import (
    MergeCredit,
    ModerationClaim,
    ModerationDecision,
    ModerationFlag,
    Report,
)
from cocreate.notifications.models import OutboxEmail
from tests.conftest import Mailbox, csrf_from, log_in, reload
from tests.moderation_support import World, build_world, make_campaign, make_idea

HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(session: Session, make_user: Callable[..., User]) -> World:
    return build_world(session, make_user)


QUEUE = "/brands/crispy-co/moderation"


def decide(
    client: TestClient, idea: Idea, action: str, *, htmx: bool = False, **fields: Any
) -> Any:
    token = csrf_from(client, QUEUE)
    return client.post(
        f"{QUEUE}/ideas/{idea.id}/decide",
        data={"csrf_token": token, "action": action, **fields},
        headers=HTMX if htmx else {},
    )


def decisions(session: Session, idea: Idea) -> list[ModerationDecision]:
    session.rollback()
    return list(
        session.exec(
            select(ModerationDecision)
            .where(ModerationDecision.idea_id == idea.id)
            .order_by(col(ModerationDecision.id))
        ).all()
    )


def undo_ids(html: str) -> list[str]:
    return re.findall(r'name="decision" value="(\d+)"', html)


def test_queue_lists_pending_ideas_oldest_first(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    newer = make_idea(
        session, world.campaign, world.author, "Honey mustard", clock=clock, minutes_ago=5
    )
    older = make_idea(
        session, world.campaign, world.author, "Sea salt", clock=clock, minutes_ago=500
    )
    make_idea(session, world.other_campaign, world.author, "Cola crisps", clock=clock)
    make_idea(
        session,
        world.campaign,
        world.author,
        "Already fine",
        clock=clock,
        status=IdeaStatus.APPROVED,
    )
    log_in(client, world.moderator)

    page = client.get(QUEUE)

    assert page.status_code == 200
    assert page.text.index(older.title) < page.text.index(newer.title)
    assert "Cola crisps" not in page.text  # another brand's idea
    assert "Already fine" not in page.text
    assert "2 items in this view, oldest first." in page.text


def test_queue_filters_by_campaign_flag_and_age(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    second = make_campaign(session, world.brand, "second-campaign")
    make_idea(session, world.campaign, world.author, "Paprika twist", clock=clock, minutes_ago=10)
    old = make_idea(
        session, second, world.author, "Truffle and salt", clock=clock, minutes_ago=3000
    )
    spam = make_idea(
        session,
        world.campaign,
        world.author,
        "Cheap pills",
        clock=clock,
        description="Buy now at www.cheap-pills.example.com or call +33 6 12 34 56 78",
        minutes_ago=20,
    )
    screening.prescreen_idea(session=session, idea=spam, clock=clock)
    session.commit()
    log_in(client, world.moderator)

    by_campaign = client.get(QUEUE + "?campaign=second-campaign")
    assert "Truffle and salt" in by_campaign.text and "Paprika twist" not in by_campaign.text
    by_flag = client.get(QUEUE + "?flag=spam")
    assert "Cheap pills" in by_flag.text and "Paprika twist" not in by_flag.text
    assert "Link (spam?)" in by_flag.text
    by_age = client.get(QUEUE + "?age=1d")
    assert old.title in by_age.text and "Paprika twist" not in by_age.text
    unknown = client.get(QUEUE + "?flag=nonsense&age=forever&view=zzz")
    assert unknown.status_code == 200 and "Paprika twist" in unknown.text


def test_opening_an_item_claims_it_and_the_queue_shows_who(
    client: TestClient,
    app: Any,
    session: Session,
    world: World,
    clock: FrozenClock,
) -> None:
    idea = make_idea(session, world.campaign, world.author, "Salt and vinegar", clock=clock)
    log_in(client, world.moderator)
    opened = client.get(f"{QUEUE}/ideas/{idea.id}")
    assert opened.status_code == 200
    assert "You are reviewing this idea" in opened.text

    with TestClient(app, base_url="http://testserver", follow_redirects=False) as other:
        log_in(other, world.second_moderator)
        assert "Mo Derator" in other.get(QUEUE).text  # the queue shows who holds what
        blocked = other.get(f"{QUEUE}/ideas/{idea.id}")
        assert "Mo Derator is reviewing this idea." in blocked.text
        assert 'data-shortcut="approve"' not in blocked.text
        refused = decide(other, idea, "approve")
        assert refused.status_code == 409
        assert "Mo Derator is reviewing this idea." in refused.text

        clock.advance(minutes=claims.CLAIM_MINUTES + 1)  # the claim expired
        taken = other.get(f"{QUEUE}/ideas/{idea.id}")
        assert "You are reviewing this idea" in taken.text
    claim = session.get(ModerationClaim, idea.id)
    assert claim is not None and claim.moderator_id == world.second_moderator.id


def test_approve_with_htmx_loads_the_next_item_in_place(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    first = make_idea(
        session, world.campaign, world.author, "Sea salt", clock=clock, minutes_ago=90
    )
    second = make_idea(
        session, world.campaign, world.author, "Honey BBQ", clock=clock, minutes_ago=30
    )
    log_in(client, world.moderator)
    client.get(f"{QUEUE}/ideas/{first.id}")

    response = decide(client, first, "approve", htmx=True)

    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="moderation-item"')  # a fragment
    assert "Honey BBQ" in response.text
    assert "Approved: Sea salt" in response.text  # with its undo offer
    assert response.headers["HX-Push-Url"] == f"{QUEUE}/ideas/{second.id}"
    reload(session, first)
    assert first.status == IdeaStatus.APPROVED
    [decision] = decisions(session, first)
    assert (decision.action, decision.actor_id, decision.automatic) == (
        "approve",
        world.moderator.id,
        False,
    )
    assert (decision.status_before, decision.status_after) == ("pending", "approved")
    assert session.get(ModerationClaim, first.id) is None  # released on decision
    claim = session.get(ModerationClaim, second.id)
    assert claim is not None and claim.moderator_id == world.moderator.id


def test_approve_without_javascript_redirects_to_the_next_item(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    first = make_idea(
        session, world.campaign, world.author, "Sea salt", clock=clock, minutes_ago=90
    )
    make_idea(session, world.campaign, world.author, "Honey BBQ", clock=clock, minutes_ago=30)
    log_in(client, world.moderator)

    response = decide(client, first, "approve")

    assert response.status_code == 303
    assert response.headers["location"] == f"{QUEUE}/next?after={first.id}"
    page = client.get(response.headers["location"])
    assert "Honey BBQ" in page.text and "Approved: Sea salt" in page.text


def test_second_decision_on_the_same_idea_is_refused(
    client: TestClient, app: Any, session: Session, world: World, clock: FrozenClock
) -> None:
    idea = make_idea(session, world.campaign, world.author, "Sea salt", clock=clock)
    log_in(client, world.moderator)
    assert decide(client, idea, "approve").status_code == 303
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as other:
        log_in(other, world.second_moderator)
        late = decide(other, idea, "reject", reason="off_topic")
    assert late.status_code == 409
    assert "This idea has already been decided." in late.text
    assert [d.action for d in decisions(session, idea)] == ["approve"]


def test_reject_mails_the_reason_in_the_authors_language_after_the_undo_window(
    client: TestClient,
    session: Session,
    world: World,
    clock: FrozenClock,
    deliver: Callable[[], int],
    mailbox: Mailbox,
) -> None:
    world.author.locale = "fr"
    session.add(world.author)
    session.commit()
    idea = make_idea(session, world.campaign, world.author, "Chips au chocolat", clock=clock)
    log_in(client, world.moderator)

    response = decide(client, idea, "reject", reason="off_topic", note="Merci, mais non.")

    assert response.status_code == 303
    reload(session, idea)
    assert idea.status == IdeaStatus.REJECTED
    [decision] = decisions(session, idea)
    assert (decision.reason, decision.note) == ("off_topic", "Merci, mais non.")
    assert deliver() == 0  # held while the moderator can still undo
    clock.advance(seconds=rules.UNDO_SECONDS + 1)
    assert deliver() == 1
    [mail] = mailbox.to("author@example.com")
    assert str(make_header(decode_header(mail["Subject"]))) == "Votre idée n’a pas été retenue"
    body = mail.get_payload(decode=True).decode()
    assert "Motif : Ne concerne pas cette campagne" in body
    assert "Merci, mais non." in body


def test_reject_needs_a_reason_from_the_brands_list(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    idea = make_idea(session, world.campaign, world.author, clock=clock)
    log_in(client, world.moderator)
    missing = decide(client, idea, "reject", htmx=True)
    assert missing.status_code == 400
    assert "Choose a reason for the rejection." in missing.text
    invented = decide(client, idea, "reject", reason="because I say so")
    assert invented.status_code == 400
    reload(session, idea)
    assert idea.status == IdeaStatus.PENDING and decisions(session, idea) == []


def test_request_changes_returns_the_idea_and_a_resubmission_comes_back(
    client: TestClient,
    session: Session,
    world: World,
    clock: FrozenClock,
    deliver: Callable[[], int],
    mailbox: Mailbox,
) -> None:
    idea = make_idea(session, world.campaign, world.author, "Spicy", clock=clock)
    log_in(client, world.moderator)
    missing = decide(client, idea, "request_changes")
    assert missing.status_code == 400 and "Tell the author what to change." in missing.text

    response = decide(client, idea, "request_changes", note="Which spice? Tell us more.")
    assert response.status_code == 303
    reload(session, idea)
    assert idea.status == IdeaStatus.DRAFT
    request = history.changes_requested(session=session, idea_id=idea.id or 0)
    assert request is not None and request.note == "Which spice? Tell us more."
    clock.advance(seconds=31)
    deliver()
    body = mailbox.to("author@example.com")[0].get_payload(decode=True).decode()
    assert "Which spice? Tell us more." in body

    # The ideas feature calls the hook when the author edits and submits again.
    idea.description = "Smoked paprika and chipotle, medium heat, for the summer range."
    session.add(idea)
    reload(session, idea)  # a fresh transaction: the outbox sender wrote meanwhile
    idea.description = "Smoked paprika and chipotle, medium heat, for the summer range."
    assert screening.resubmit_after_changes(session=session, idea=idea, clock=clock)
    session.commit()
    assert idea.status == IdeaStatus.PENDING
    assert "Spicy" in client.get(QUEUE).text
    assert [d.action for d in decisions(session, idea)] == ["request_changes", "resubmit"]


def test_merge_into_an_approved_idea_credits_the_author(
    client: TestClient,
    session: Session,
    world: World,
    clock: FrozenClock,
    make_user: Callable[..., User],
) -> None:
    other_author = make_user("bea@example.com", name="Bea")
    target = make_idea(
        session, world.campaign, other_author, "Salt & vinegar", clock=clock, status="approved"
    )
    pending_twin = make_idea(session, world.campaign, other_author, "Vinegar salt", clock=clock)
    duplicate = make_idea(session, world.campaign, world.author, "Salt and vinegar", clock=clock)
    log_in(client, world.moderator)
    page = client.get(f"{QUEUE}/ideas/{duplicate.id}")
    assert f'<option value="{target.id}">Salt &amp; vinegar</option>' in page.text

    into_pending = decide(client, duplicate, "merge", merge_into=str(pending_twin.id))
    assert into_pending.status_code == 400
    response = decide(client, duplicate, "merge", merge_into=str(target.id))

    assert response.status_code == 303
    reload(session, duplicate)
    assert (duplicate.status, duplicate.merged_into_id) == (IdeaStatus.MERGED, target.id)
    credit = session.exec(select(MergeCredit)).one()
    assert (credit.target_idea_id, credit.user_id) == (target.id, world.author.id)
    assert [
        u.display_name for u in history.credited_authors(session=session, idea_id=target.id or 0)
    ] == ["Ada Author"]


def test_escalated_idea_waits_for_the_owner(
    client: TestClient,
    app: Any,
    session: Session,
    world: World,
    clock: FrozenClock,
    deliver: Callable[[], int],
    mailbox: Mailbox,
) -> None:
    idea = make_idea(session, world.campaign, world.author, "Borderline", clock=clock)
    log_in(client, world.moderator)
    assert decide(client, idea, "escalate", note="Is this on brand?").status_code == 303
    assert "Borderline" in client.get(QUEUE + "?view=escalated").text
    clock.advance(minutes=1)
    refused = decide(client, idea, "approve")
    assert refused.status_code == 403
    assert "only a brand owner can decide it" in refused.text
    deliver()
    assert (
        "Is this on brand?" in mailbox.to("owner@example.com")[0].get_payload(decode=True).decode()
    )

    with TestClient(app, base_url="http://testserver", follow_redirects=False) as owner:
        log_in(owner, world.owner)
        decided = decide(owner, idea, "approve")
        assert decided.status_code == 303, decided.text
    reload(session, idea)
    assert idea.status == IdeaStatus.APPROVED
    assert "Borderline" not in client.get(QUEUE + "?view=escalated").text


def test_undo_within_the_window_reverts_and_is_recorded(
    client: TestClient,
    session: Session,
    world: World,
    clock: FrozenClock,
    deliver: Callable[[], int],
) -> None:
    idea = make_idea(session, world.campaign, world.author, "Sea salt", clock=clock)
    log_in(client, world.moderator)
    decide(client, idea, "reject", reason="spam")
    page = client.get(QUEUE)
    [decision_id] = undo_ids(page.text)

    clock.advance(seconds=rules.UNDO_SECONDS - 1)
    token = csrf_from(client, QUEUE)
    response = client.post(
        f"{QUEUE}/undo", data={"csrf_token": token, "decision": decision_id}, headers=HTMX
    )

    assert response.status_code == 200
    assert "Undone." in response.text and "Sea salt" in response.text
    reload(session, idea)
    assert idea.status == IdeaStatus.PENDING
    assert [(d.action, d.status_before, d.status_after) for d in decisions(session, idea)] == [
        ("reject", "pending", "rejected"),
        ("undo", "rejected", "pending"),
    ]
    assert decisions(session, idea)[1].undoes_id == int(decision_id)
    clock.advance(minutes=5)
    assert deliver() == 0  # the rejection mail was withdrawn
    assert session.exec(select(OutboxEmail)).all() == []
    again = client.post(f"{QUEUE}/undo", data={"csrf_token": token, "decision": decision_id})
    assert again.status_code == 303
    assert len(decisions(session, idea)) == 2


def test_undo_after_the_window_is_refused(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    idea = make_idea(session, world.campaign, world.author, "Sea salt", clock=clock)
    log_in(client, world.moderator)
    decide(client, idea, "approve")
    [decision_id] = undo_ids(client.get(QUEUE).text)

    clock.advance(seconds=rules.UNDO_SECONDS + 1)
    assert undo_ids(client.get(QUEUE).text) == []  # the button is gone
    token = csrf_from(client, QUEUE)
    response = client.post(
        f"{QUEUE}/undo",
        data={"csrf_token": token, "decision": decision_id, "current": str(idea.id)},
        headers=HTMX,
    )

    assert response.status_code == 409
    assert "It is too late to undo this decision." in response.text
    reload(session, idea)
    assert idea.status == IdeaStatus.APPROVED
    assert [d.action for d in decisions(session, idea)] == ["approve"]


def test_undo_a_merge_removes_the_credit(
    client: TestClient, session: Session, world: World, clock: FrozenClock, make_user: Any
) -> None:
    target = make_idea(session, world.campaign, make_user(), "Salt", clock=clock, status="approved")
    duplicate = make_idea(session, world.campaign, world.author, "Salt!", clock=clock)
    log_in(client, world.moderator)
    decide(client, duplicate, "merge", merge_into=str(target.id))
    [decision_id] = undo_ids(client.get(QUEUE).text)
    token = csrf_from(client, QUEUE)
    client.post(f"{QUEUE}/undo", data={"csrf_token": token, "decision": decision_id})
    reload(session, duplicate)
    assert (duplicate.status, duplicate.merged_into_id) == ("pending", None)
    assert session.exec(select(MergeCredit)).all() == []


def test_bulk_approve_and_reject_without_javascript(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    ideas = [make_idea(session, world.campaign, world.author, clock=clock) for _ in range(4)]
    decided_elsewhere = make_idea(session, world.campaign, world.author, clock=clock)
    decided_elsewhere.status = IdeaStatus.APPROVED
    session.add(decided_elsewhere)
    session.commit()
    log_in(client, world.moderator)
    token = csrf_from(client, QUEUE)

    approved = client.post(
        f"{QUEUE}/bulk",
        data={
            "csrf_token": token,
            "bulk_action": "approve",
            "idea": [str(ideas[0].id), str(ideas[1].id), str(decided_elsewhere.id)],
        },
    )
    assert approved.status_code == 303
    page = client.get(approved.headers["location"])
    assert "1 ideas were not changed" in page.text
    no_reason = client.post(
        f"{QUEUE}/bulk",
        data={"csrf_token": token, "bulk_action": "reject", "idea": [str(ideas[2].id)]},
    )
    assert "Choose a reason for the rejection." in client.get(no_reason.headers["location"]).text
    client.post(
        f"{QUEUE}/bulk",
        data={
            "csrf_token": token,
            "bulk_action": "reject",
            "reason": "spam",
            "idea": [str(ideas[2].id), str(ideas[3].id)],
        },
    )
    page = client.get(QUEUE)
    assert "2 ideas rejected." in page.text and len(undo_ids(page.text)) == 2
    statuses = []
    for idea in ideas:
        reload(session, idea)
        statuses.append(idea.status)
    assert statuses == ["approved", "approved", "rejected", "rejected"]

    undone = client.post(
        f"{QUEUE}/undo", data={"csrf_token": token, "decision": undo_ids(page.text)}
    )
    assert "2 decisions undone." in client.get(undone.headers["location"]).text
    reload(session, ideas[3])
    assert ideas[3].status == IdeaStatus.PENDING


MODERATOR_PAGES = [
    ("GET", "/brands/{brand}/moderation"),
    ("GET", "/brands/{brand}/moderation/next"),
    ("GET", "/brands/{brand}/moderation/ideas/{idea}"),
    ("POST", "/brands/{brand}/moderation/ideas/{idea}/decide"),
    ("POST", "/brands/{brand}/moderation/undo"),
    ("POST", "/brands/{brand}/moderation/bulk"),
    ("GET", "/brands/{brand}/moderation/ideas/{idea}/history"),
    ("GET", "/brands/{brand}/moderation/health"),
    ("GET", "/brands/{brand}/moderation/settings"),
    ("POST", "/brands/{brand}/moderation/settings"),
]


@pytest.mark.parametrize(("method", "path"), MODERATOR_PAGES)
def test_a_moderator_of_another_brand_can_do_nothing(
    client: TestClient,
    session: Session,
    world: World,
    clock: FrozenClock,
    method: str,
    path: str,
) -> None:
    idea = make_idea(session, world.campaign, world.author, "Sea salt", clock=clock)
    log_in(client, world.other_moderator)
    url = path.format(brand="crispy-co", idea=idea.id)
    token = csrf_from(client, "/account")
    data = {
        "csrf_token": token,
        "action": "approve",
        "bulk_action": "approve",
        "idea": str(idea.id),
        "decision": "1",
        "report_threshold": "1",
    }
    response = client.request(method, url, data=data if method == "POST" else None)
    assert response.status_code == 403
    assert "You do not have permission to see this page." in response.text
    reload(session, idea)
    assert idea.status == IdeaStatus.PENDING
    assert session.exec(select(ModerationDecision)).all() == []
    assert session.exec(select(ModerationClaim)).all() == []


def test_an_idea_of_another_brand_is_not_found_through_my_brand(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    foreign = make_idea(session, world.other_campaign, world.author, "Cola", clock=clock)
    log_in(client, world.moderator)
    assert client.get(f"{QUEUE}/ideas/{foreign.id}").status_code == 404
    assert decide(client, foreign, "approve").status_code == 404
    assert client.get(f"{QUEUE}/ideas/{foreign.id}/history").status_code == 404
    reload(session, foreign)
    assert foreign.status == IdeaStatus.PENDING


@pytest.mark.parametrize("who", ["consumer", "marketer", "anonymous"])
def test_only_owners_and_moderators_see_the_queue(
    client: TestClient, world: World, who: str
) -> None:
    if who != "anonymous":
        log_in(client, getattr(world, who))
    response = client.get(QUEUE)
    if who == "anonymous":
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    else:
        assert response.status_code == 403


def test_history_for_brand_staff(
    client: TestClient, app: Any, session: Session, world: World, clock: FrozenClock
) -> None:
    idea = make_idea(session, world.campaign, world.author, "Sea salt", clock=clock)
    log_in(client, world.moderator)
    decide(client, idea, "reject", reason="duplicate")
    [decision_id] = undo_ids(client.get(QUEUE).text)
    token = csrf_from(client, QUEUE)
    client.post(f"{QUEUE}/undo", data={"csrf_token": token, "decision": decision_id})
    decide(client, idea, "approve")

    with TestClient(app, base_url="http://testserver", follow_redirects=False) as marketer:
        log_in(marketer, world.marketer)
        fragment = marketer.get(f"{QUEUE}/ideas/{idea.id}/history", headers=HTMX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("<section")
    text = re.sub(r"\s+", " ", fragment.text)
    assert "Rejected</strong> by Mo Derator" in text
    assert "Reason: Already proposed by someone else" in text
    assert "Undone</strong> by Mo Derator" in text
    assert "Approved</strong> by Mo Derator" in text
    assert "undone</span>" in text
    full = client.get(f"{QUEUE}/ideas/{idea.id}/history")
    assert "<html" in full.text


def test_queue_health(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    log_in(client, world.moderator)
    for minutes in (10, 20, 30, 40):
        idea = make_idea(session, world.campaign, world.author, clock=clock, minutes_ago=minutes)
        decide(client, idea, "approve")
    make_idea(session, world.campaign, world.author, clock=clock, minutes_ago=180)
    page = client.get(f"{QUEUE}/health")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert '<dd data-metric="pending">1</dd>' in text
    assert '<dd data-metric="oldest">3 h</dd>' in text
    assert '<dd data-metric="p50">20 min</dd>' in text
    assert '<dd data-metric="p95">40 min</dd>' in text
    assert f"<td>{clock.now().date().isoformat()}</td><td>Mo Derator</td><td>4</td>" in text


def test_owner_edits_settings_and_moderators_cannot(
    client: TestClient, app: Any, session: Session, world: World, clock: FrozenClock
) -> None:
    log_in(client, world.moderator)
    assert client.get(f"{QUEUE}/settings").status_code == 403
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as owner:
        log_in(owner, world.owner)
        token = csrf_from(owner, f"{QUEUE}/settings")
        bad = owner.post(
            f"{QUEUE}/settings",
            data={"csrf_token": token, "report_threshold": "zero", "custom_reasons": ""},
        )
        assert bad.status_code == 400
        assert "Enter a whole number from 1 to 1000." in bad.text
        assert "Keep at least one reason for rejections." in bad.text
        saved = owner.post(
            f"{QUEUE}/settings",
            data={
                "csrf_token": token,
                "report_threshold": "2",
                "auto_reject_spam": "yes",
                "blocklist": "Pineapple\n\npineapple\nsoggy chips",
                "builtin_reasons": ["spam", "offensive"],
                "custom_reasons": "Not a crisp flavour",
                f"mode_{world.campaign.id}": "post",
            },
        )
        assert saved.status_code == 303
    settings = brand_settings.get_settings(session=session, brand_id=world.brand.id or 0)
    assert settings.report_threshold == 2 and settings.auto_reject_spam
    assert settings.blocklist == ["Pineapple", "pineapple", "soggy chips"]
    assert settings.builtin_reasons == ["offensive", "spam"]
    assert settings.custom_reasons == ["Not a crisp flavour"]
    reload(session, world.campaign)
    assert world.campaign.moderation_mode == "post"
    idea = make_idea(session, world.campaign, world.author, clock=clock)
    reasons = re.findall(r'<option value="([^"]+)">', client.get(f"{QUEUE}/ideas/{idea.id}").text)
    assert reasons[:3] == ["offensive", "spam", "Not a crisp flavour"]


# ---------------------------------------------------------------------------------------
# Reports


def report(client: TestClient, idea: Idea, reason: str = "offensive", note: str = "") -> Any:
    page = f"/ideas/{idea.id}/report"
    token = csrf_from(client, page)
    return client.post(page, data={"csrf_token": token, "reason": reason, "note": note})


def test_reports_reaching_the_threshold_hide_the_idea_until_a_moderator_decides(
    client: TestClient,
    app: Any,
    session: Session,
    world: World,
    clock: FrozenClock,
    make_user: Callable[..., User],
) -> None:
    idea = make_idea(
        session, world.campaign, world.author, "Rude idea", clock=clock, status="approved"
    )
    reporters = [make_user() for _ in range(3)]
    for n, reporter in enumerate(reporters, start=1):
        with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
            log_in(c, reporter)
            response = report(c, idea, note=f"report {n}")
            assert response.status_code == 200
            assert "Thank you for your report" in response.text
        reload(session, idea)
        assert (idea.hidden_at is not None) == (n >= 3)  # the default threshold is 3
    assert reports.reportable_idea(session=session, idea_id=idea.id or 0) is None
    hide = decisions(session, idea)[-1]
    assert (hide.action, hide.automatic, hide.actor_id) == ("hide", True, None)

    log_in(client, world.moderator)
    queue = client.get(QUEUE + "?view=reported")
    assert "Rude idea" in queue.text and "3 reports" in queue.text
    item = client.get(f"{QUEUE}/ideas/{idea.id}?view=reported")
    assert "report 2" in item.text
    assert decide(client, idea, "approve", view="reported").status_code == 303  # keep it
    reload(session, idea)
    assert idea.status == IdeaStatus.APPROVED and idea.hidden_at is None
    assert {r.status for r in session.exec(select(Report)).all()} == {"dismissed"}
    assert "0 items in this view" in client.get(QUEUE + "?view=reported").text


def test_one_report_per_person_and_not_on_ones_own_idea(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    idea = make_idea(
        session, world.campaign, world.author, "Sea salt", clock=clock, status="approved"
    )
    log_in(client, world.consumer)
    assert report(client, idea).status_code == 200
    twice = report(client, idea, reason="spam")
    assert twice.status_code == 409
    assert "You have already reported this idea." in twice.text
    assert len(session.exec(select(Report)).all()) == 1
    bad = report(client, idea, reason="i-dont-like-it")
    assert bad.status_code == 400 and "Choose one of the options." in bad.text

    with TestClient(client.app, base_url="http://testserver", follow_redirects=False) as own:
        log_in(own, world.author)
        mine = report(own, idea)
    assert mine.status_code == 400 and "You cannot report your own idea." in mine.text


def test_only_published_ideas_can_be_reported(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    pending = make_idea(session, world.campaign, world.author, clock=clock)
    post_campaign = make_campaign(session, world.brand, mode="post")
    public_at_once = make_idea(session, post_campaign, world.author, clock=clock)
    log_in(client, world.consumer)
    assert client.get(f"/ideas/{pending.id}/report").status_code == 404
    assert client.get(f"/ideas/{public_at_once.id}/report").status_code == 200
    assert client.get("/ideas/999999/report").status_code == 404


def test_reporting_needs_an_account(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    idea = make_idea(session, world.campaign, world.author, clock=clock, status="approved")
    response = client.get(f"/ideas/{idea.id}/report")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_reports_are_rate_limited(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    ideas = [
        make_idea(session, world.campaign, world.author, clock=clock, status="approved")
        for _ in range(21)
    ]
    log_in(client, world.consumer)
    statuses = [report(client, idea).status_code for idea in ideas]
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429
    assert len(session.exec(select(Report)).all()) == 20


# ---------------------------------------------------------------------------------------
# Pre-screen, automatic decisions


def test_auto_rejected_spam_is_labelled_automatic_and_can_be_overturned(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    settings = brand_settings.get_settings(session=session, brand_id=world.brand.id or 0)
    settings.auto_reject_spam = True
    session.add(settings)
    session.commit()
    spam = make_idea(
        session,
        world.campaign,
        world.author,
        "Great deal",
        clock=clock,
        description="Write to deals@spam.example for the best prices on crisps!!",
    )
    screening.prescreen_idea(session=session, idea=spam, clock=clock)
    session.commit()
    assert spam.status == IdeaStatus.REJECTED
    [automatic] = decisions(session, spam)
    assert (automatic.automatic, automatic.actor_id, automatic.reason) == (True, None, "spam")

    log_in(client, world.moderator)
    listed = client.get(QUEUE + "?view=automatic")
    assert "Great deal" in listed.text
    history = client.get(f"{QUEUE}/ideas/{spam.id}/history")
    assert "automatic</span>" in history.text
    assert decide(client, spam, "approve", view="automatic").status_code == 303
    reload(session, spam)
    assert spam.status == IdeaStatus.APPROVED
    assert "0 items in this view" in client.get(QUEUE + "?view=automatic").text


def test_a_moderators_rejection_cannot_be_approved_later(
    client: TestClient, session: Session, world: World, clock: FrozenClock
) -> None:
    idea = make_idea(session, world.campaign, world.author, clock=clock)
    log_in(client, world.moderator)
    decide(client, idea, "reject", reason="spam")
    clock.advance(minutes=2)
    assert decide(client, idea, "approve").status_code == 409


def test_prescreen_flags_each_kind(session: Session, world: World, clock: FrozenClock) -> None:
    settings = brand_settings.get_settings(session=session, brand_id=world.brand.id or 0)
    settings.blocklist = ["soggy"]
    session.add(settings)
    session.commit()
    existing = make_idea(
        session, world.campaign, world.author, "Crème brûlée crisps", clock=clock, status="approved"
    )
    cases = {
        "blocklist": ("Une idée de merde", "Vraiment, une très mauvaise saveur pour l'été."),
        "link": ("Visit us", "The best recipe is on https://example.com/recipe today."),
        "phone": ("Call me", "Ring me on 06 12 34 56 78 to discuss the new flavour."),
        "email": ("Write me", "Send the samples to ada.author@example.org please thanks."),
        "duplicate": ("CREME BRULEE crisps", "Sweet custard with caramelised sugar on top."),
        "too_short": ("Salt", "Yes"),
        "all_caps": ("BEST CRISPS EVER", "PUT MORE SALT ON EVERYTHING PLEASE NOW"),
    }
    pending_twin = make_idea(
        session, world.campaign, world.author, "Honey mustard crisps", clock=clock
    )
    cases["pending twin"] = ("Honey & mustard crisps!", "Sweet and sharp for barbecues.")
    for kind, (title, description) in cases.items():
        idea = make_idea(
            session, world.campaign, world.author, title, clock=clock, description=description
        )
        flags = screening.prescreen_idea(session=session, idea=idea, clock=clock)
        session.commit()
        expected = "duplicate" if kind == "pending twin" else kind
        assert expected in {f.kind for f in flags}, (kind, [f.kind for f in flags])
        assert idea.status == IdeaStatus.PENDING  # flagged for a person, not rejected
        if kind == "duplicate":
            [dup] = [f for f in flags if f.kind == "duplicate"]
            assert (dup.similar_idea_id, dup.suggested_action) == (existing.id, "merge")
        if kind == "pending twin":
            [dup] = [f for f in flags if f.kind == "duplicate"]
            assert (dup.similar_idea_id, dup.suggested_action) == (pending_twin.id, "reject")
    brand_word = make_idea(
        session, world.campaign, world.author, "Soggy ones", clock=clock, description="x" * 40
    )
    flags = screening.prescreen_idea(session=session, idea=brand_word, clock=clock)
    assert [(f.kind, f.detail, f.suggested_action) for f in flags] == [
        ("blocklist", "soggy", "reject")
    ]
    session.commit()
    stored = session.exec(select(ModerationFlag).where(ModerationFlag.idea_id == brand_word.id))
    assert [f.kind for f in stored] == ["blocklist"]
