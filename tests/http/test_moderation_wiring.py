"""Moderation wired into the ideas feature, through the pages people use: pre-screen on
submission, resubmission after a change request, what the public sees (pre- and
post-moderation, ideas hidden by reports), the idea page's history, credits and report link.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign
from cocreate.clock import FrozenClock
from cocreate.ideas import gallery as ideas_gallery
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation import brand_settings
from cocreate.moderation.models import MergeCredit, ModerationDecision, ModerationFlag
from cocreate.voting.gallery_counts import RoundVotes
from cocreate.voting.models import Vote
from tests.conftest import csrf_from, log_in, post_form, reload
from tests.ideas_fixtures import tally_round
from tests.voting_support import T0, make_voting_world

pytest_plugins = ["tests.ideas_fixtures"]

MakeCampaign = Callable[..., Campaign]
MakeIdea = Callable[..., Idea]


class People:
    def __init__(self, make_user: Callable[..., User]) -> None:
        self.moderator = make_user(name="Mo Derator")
        self.owner = make_user(name="Olive Owner")
        self.marketer = make_user(name="Mark Eter")
        self.juror = make_user(name="Judy Juror")
        self.author = make_user(name="Ada Author")
        self.consumer = make_user(name="Con Sumer")

    def staff(self) -> list[tuple[User, Role]]:
        return [
            (self.moderator, Role.MODERATOR),
            (self.owner, Role.OWNER),
            (self.marketer, Role.MARKETER),
            (self.juror, Role.JURY),
        ]


@pytest.fixture
def people(make_user: Callable[..., User]) -> People:
    return People(make_user)


def brand_of(session: Session, campaign: Campaign) -> Brand:
    brand = session.get(Brand, campaign.brand_id)
    assert brand is not None
    return brand


def queue_url(session: Session, campaign: Campaign) -> str:
    return f"/brands/{brand_of(session, campaign).slug}/moderation"


def submit(client: TestClient, path: str, title: str, description: str) -> Any:
    data = {"title": title, "description": description, "action": "submit"}
    files = {"image": ("", b"", "application/octet-stream")}
    return post_form(client, path, data, page=path, files=files)


def decide(client: TestClient, queue: str, idea_id: int, action: str, **fields: str) -> Any:
    token = csrf_from(client, queue)
    return client.post(
        f"{queue}/ideas/{idea_id}/decide", data={"csrf_token": token, "action": action, **fields}
    )


def the_idea(session: Session, author: User) -> Idea:
    session.rollback()
    return session.exec(
        select(Idea).where(Idea.author_id == author.id).order_by(col(Idea.id).desc())
    ).first()  # type: ignore[return-value]


def actions(session: Session, idea: Idea) -> list[tuple[str, bool]]:
    session.rollback()
    rows = session.exec(
        select(ModerationDecision)
        .where(ModerationDecision.idea_id == idea.id)
        .order_by(col(ModerationDecision.id))
    ).all()
    return [(d.action, d.automatic) for d in rows]


# --- submission -> pre-screen ----------------------------------------------------------------


def test_a_submission_is_prescreened_and_its_flags_are_in_the_queue(
    client: TestClient, session: Session, make_campaign: MakeCampaign, people: People
) -> None:
    campaign = make_campaign(staff=people.staff())
    log_in(client, people.author)
    response = submit(
        client,
        f"/c/{campaign.slug}/ideas/new",
        "Cheap crisps",
        "Order them at https://crisps.example before Friday.",
    )
    assert response.status_code == 303
    idea = the_idea(session, people.author)
    assert idea.status == IdeaStatus.PENDING  # the brand did not ask for auto-rejection
    flags = session.exec(select(ModerationFlag).where(ModerationFlag.idea_id == idea.id)).all()
    assert [f.kind for f in flags] == ["link"]

    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    log_in(client, people.moderator)
    queue = client.get(queue_url(session, campaign))
    assert "Cheap crisps" in queue.text and "Link (spam?)" in queue.text


def test_flagged_spam_is_rejected_automatically_when_the_brand_chose_it(
    client: TestClient, session: Session, make_campaign: MakeCampaign, people: People
) -> None:
    campaign = make_campaign(staff=people.staff())
    settings = brand_settings.get_settings(session=session, brand_id=campaign.brand_id)
    settings.auto_reject_spam = True
    session.add(settings)
    session.commit()
    log_in(client, people.author)
    response = submit(
        client, f"/c/{campaign.slug}/ideas/new", "Great deal", "Call +33 6 12 34 56 78 today!"
    )
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "not accepted automatically" in page.text
    idea = the_idea(session, people.author)
    assert idea.status == IdeaStatus.REJECTED
    assert actions(session, idea) == [("reject", True)]

    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    log_in(client, people.moderator)
    queue = queue_url(session, campaign)
    # Labelled automatic on the idea page's history, and a moderator can overturn it.
    history = client.get(f"/c/{campaign.slug}/ideas/{idea.id}")
    assert "Moderation history" in history.text and "automatic</span>" in history.text
    assert decide(client, queue, idea.id or 0, "approve", view="automatic").status_code == 303
    reload(session, idea)
    assert idea.status == IdeaStatus.APPROVED
    assert actions(session, idea) == [("reject", True), ("approve", False)]


def test_changes_requested_then_the_author_edits_and_it_is_back_in_the_queue(
    client: TestClient,
    session: Session,
    make_campaign: MakeCampaign,
    people: People,
    clock: FrozenClock,
) -> None:
    campaign = make_campaign(staff=people.staff())
    queue = queue_url(session, campaign)
    log_in(client, people.author)
    submit(client, f"/c/{campaign.slug}/ideas/new", "Spicy", "Something hot for the summer.")
    idea = the_idea(session, people.author)
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})

    log_in(client, people.moderator)
    response = decide(client, queue, idea.id or 0, "request_changes", note="Which spice?")
    assert response.status_code == 303
    reload(session, idea)
    assert idea.status == IdeaStatus.DRAFT
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})

    clock.advance(minutes=5)
    log_in(client, people.author)
    page = client.get(f"/c/{campaign.slug}/ideas/{idea.id}")
    assert "The moderators asked for changes:" in page.text and "Which spice?" in page.text
    edit = f"/c/{campaign.slug}/ideas/{idea.id}/edit"
    response = submit(client, edit, "Spicy", "Smoked paprika and chipotle, medium heat.")
    assert response.status_code == 303
    reload(session, idea)
    assert idea.status == IdeaStatus.PENDING
    assert actions(session, idea) == [("request_changes", False), ("resubmit", False)]
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})

    log_in(client, people.moderator)
    assert "Spicy" in client.get(queue).text


def test_editing_a_pending_idea_screens_it_again(
    client: TestClient, session: Session, make_campaign: MakeCampaign, people: People
) -> None:
    campaign = make_campaign(staff=people.staff())
    log_in(client, people.author)
    submit(client, f"/c/{campaign.slug}/ideas/new", "Sea salt", "Mail me at ada@example.com")
    idea = the_idea(session, people.author)
    kinds = session.exec(select(ModerationFlag.kind).where(ModerationFlag.idea_id == idea.id))
    assert list(kinds) == ["email"]
    submit(
        client,
        f"/c/{campaign.slug}/ideas/{idea.id}/edit",
        "Sea salt",
        "Just sea salt, from Guérande.",
    )
    session.rollback()
    kinds = session.exec(select(ModerationFlag.kind).where(ModerationFlag.idea_id == idea.id))
    assert list(kinds) == []


# --- what the public sees ----------------------------------------------------------------------


def public_pages(client: TestClient, campaign: Campaign, idea: Idea) -> dict[str, Any]:
    slug = campaign.slug
    return {
        "gallery": client.get(f"/c/{slug}/ideas").text,
        "most_voted": client.get(f"/c/{slug}/ideas?sort=votes").text,
        "search": client.get(f"/c/{slug}/ideas?q=vinegar").text,
        "similar": client.get(f"/c/{slug}/ideas/similar?title=Salt+vinegar").text,
        "page": client.get(f"/c/{slug}/ideas/{idea.id}").status_code,
    }


def assert_public(client: TestClient, campaign: Campaign, idea: Idea, visible: bool) -> None:
    seen = public_pages(client, campaign, idea)
    for name in ("gallery", "most_voted", "search", "similar"):
        assert (idea.title in seen[name]) is visible, name
    assert seen["page"] == (200 if visible else 404)


@pytest.mark.parametrize("mode", ["pre", "post"])
def test_pending_ideas_are_public_only_in_post_moderated_campaigns(
    client: TestClient,
    session: Session,
    make_campaign: MakeCampaign,
    make_idea: MakeIdea,
    people: People,
    mode: str,
) -> None:
    campaign = make_campaign(staff=people.staff())
    campaign.moderation_mode = mode
    session.add(campaign)
    session.commit()
    approved = make_idea(campaign, people.author, "Salt and vinegar crisps", votes=3)
    pending = make_idea(
        campaign, people.author, "Salt and vinegar waffles", status=IdeaStatus.PENDING
    )
    rejected = make_idea(
        campaign, people.author, "Salt and vinegar soup", status=IdeaStatus.REJECTED
    )
    assert_public(client, campaign, approved, True)
    assert_public(client, campaign, pending, mode == "post")
    assert_public(client, campaign, rejected, False)
    log_in(client, people.consumer)
    assert_public(client, campaign, pending, mode == "post")


@pytest.mark.parametrize("mode", ["pre", "post"])
def test_an_idea_hidden_by_reports_is_hidden_everywhere_public(
    client: TestClient,
    session: Session,
    make_campaign: MakeCampaign,
    make_idea: MakeIdea,
    people: People,
    clock: FrozenClock,
    mode: str,
) -> None:
    campaign = make_campaign(staff=people.staff())
    campaign.moderation_mode = mode
    session.add(campaign)
    session.commit()
    idea = make_idea(campaign, people.author, "Salt and vinegar crisps", votes=3)
    assert_public(client, campaign, idea, True)
    idea.hidden_at = clock.now()
    session.add(idea)
    session.commit()
    assert_public(client, campaign, idea, False)
    log_in(client, people.consumer)
    assert_public(client, campaign, idea, False)
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})

    # The author still has it, with its state, in "My ideas" and on its page.
    log_in(client, people.author)
    mine = client.get("/me/ideas").text
    assert "Salt and vinegar crisps" in mine and "Hidden after reports" in mine
    assert client.get(f"/c/{campaign.slug}/ideas/{idea.id}").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})

    # The brand's staff can open it; another brand's moderator cannot.
    for member in (people.moderator, people.owner, people.marketer, people.juror):
        log_in(client, member)
        page = client.get(f"/c/{campaign.slug}/ideas/{idea.id}")
        assert page.status_code == 200 and "Hidden after reports" in page.text, member.email
        client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    other = make_campaign(staff=[(people.consumer, Role.MODERATOR)])
    assert other.brand_id != campaign.brand_id
    log_in(client, people.consumer)
    assert client.get(f"/c/{campaign.slug}/ideas/{idea.id}").status_code == 404


# --- the idea page: history, credits, report link ------------------------------------------


def test_idea_page_history_for_the_brands_staff_only(
    client: TestClient,
    session: Session,
    make_campaign: MakeCampaign,
    make_idea: MakeIdea,
    people: People,
) -> None:
    campaign = make_campaign(staff=people.staff())
    idea = make_idea(campaign, people.author, "Sea salt", status=IdeaStatus.PENDING)
    queue = queue_url(session, campaign)
    log_in(client, people.moderator)
    assert decide(client, queue, idea.id or 0, "approve").status_code == 303
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    history_link = f"{queue}/ideas/{idea.id}/history"
    for member in (people.moderator, people.owner, people.marketer):
        log_in(client, member)
        page = client.get(f"/c/{campaign.slug}/ideas/{idea.id}").text
        assert "Moderation history" in page and "by Mo Derator" in page, member.email
        assert f'href="{history_link}"' in page
        client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    for outsider in (people.juror, people.consumer, None):
        if outsider is not None:
            log_in(client, outsider)
        page = client.get(f"/c/{campaign.slug}/ideas/{idea.id}").text
        assert "Moderation history" not in page and history_link not in page
        if outsider is not None:
            client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})


def test_merged_duplicates_authors_are_credited_on_the_public_page(
    client: TestClient,
    session: Session,
    make_campaign: MakeCampaign,
    make_idea: MakeIdea,
    people: People,
) -> None:
    campaign = make_campaign(staff=people.staff())
    target = make_idea(campaign, people.author, "Sea salt")
    duplicate = make_idea(campaign, people.consumer, "Sea salt crisps", status="pending")
    log_in(client, people.moderator)
    queue = queue_url(session, campaign)
    merge = decide(client, queue, duplicate.id or 0, "merge", merge_into=str(target.id))
    assert merge.status_code == 303, merge.text
    session.rollback()
    assert session.exec(select(MergeCredit)).one().user_id == people.consumer.id
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    page = client.get(f"/c/{campaign.slug}/ideas/{target.id}").text
    assert "Also proposed by Con Sumer" in page
    # The duplicate's address leads to the idea it joined.
    moved = client.get(f"/c/{campaign.slug}/ideas/{duplicate.id}")
    assert moved.headers["location"] == f"/c/{campaign.slug}/ideas/{target.id}"


def test_report_link_for_signed_in_people_but_not_the_author(
    client: TestClient,
    session: Session,
    make_campaign: MakeCampaign,
    make_idea: MakeIdea,
    people: People,
) -> None:
    campaign = make_campaign(staff=people.staff())
    published = make_idea(campaign, people.author, "Sea salt")
    waiting = make_idea(campaign, people.author, "Pepper", status=IdeaStatus.PENDING)
    link = f'href="/ideas/{published.id}/report"'
    assert link not in client.get(f"/c/{campaign.slug}/ideas/{published.id}").text
    log_in(client, people.consumer)
    assert link in client.get(f"/c/{campaign.slug}/ideas/{published.id}").text
    assert client.get(f"/ideas/{published.id}/report").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_from(client, "/account")})
    log_in(client, people.author)
    assert link not in client.get(f"/c/{campaign.slug}/ideas/{published.id}").text
    page = client.get(f"/c/{campaign.slug}/ideas/{waiting.id}").text
    assert "/report" not in page  # not published: nothing to report


# --- the ballot ----------------------------------------------------------------------------------


def test_the_ballot_leaves_out_ideas_hidden_by_reports_and_refuses_votes_for_them(
    client: TestClient, session: Session, make_user: Callable[..., User], clock: FrozenClock
) -> None:
    clock.at = T0
    world = make_voting_world(session, make_user(), method="approval", max_votes=2)
    apple, basil = world.ideas[:2]
    basil.hidden_at = clock.now()
    session.add(basil)
    session.commit()
    text = client.get(world.ballot_url).text
    assert apple.title in text and basil.title not in text
    log_in(client, make_user())
    csrf = csrf_from(client, world.ballot_url)
    refused = client.post(world.vote_url(basil), data={"csrf_token": csrf})
    assert refused.status_code in (303, 404, 409)
    session.rollback()
    assert session.exec(select(Vote).where(Vote.idea_id == basil.id)).all() == []
    assert client.post(world.vote_url(apple), data={"csrf_token": csrf}).status_code == 303
    session.rollback()
    assert len(session.exec(select(Vote).where(Vote.idea_id == apple.id)).all()) == 1


@pytest.mark.parametrize("sort", ["newest", "votes", "random"])
def test_post_moderated_gallery_pages_merge_both_statuses_in_order(
    session: Session,
    make_campaign: MakeCampaign,
    make_idea: MakeIdea,
    people: People,
    clock: FrozenClock,
    sort: str,
) -> None:
    campaign = make_campaign()
    made = [
        make_idea(
            campaign,
            people.author,
            f"Idea {n}",
            status=IdeaStatus.PENDING if n % 3 else IdeaStatus.APPROVED,
            votes=(n * 7) % 5,
            random_key=(n * 37) % 100,
            submitted_minutes_ago=(n * 13) % 11,
        )
        for n in range(11)
    ]
    hidden = make_idea(campaign, people.author, "Hidden one", status=IdeaStatus.PENDING)
    hidden.hidden_at = clock.now()
    session.add(hidden)
    session.commit()
    # The gallery's votes are the current round's: (n * 7) % 5 for idea n, 0 for the hidden.
    tallies = {i.id or 0: (n * 7) % 5 for n, i in enumerate(made)}
    votes = RoundVotes(tally_round(session, campaign, [(i, tallies[i.id or 0]) for i in made]))
    seed = 50
    keys: dict[str, Callable[[Idea], Any]] = {
        "newest": lambda i: (i.submitted_at, i.id),
        "votes": lambda i: (tallies.get(i.id or 0, 0), i.id),
        "random": lambda i: (-(i.random_key < seed), -i.random_key, -(i.id or 0)),
    }
    expected = [i.id for i in sorted(made, key=keys[sort], reverse=True)]
    seen: list[int | None] = []
    after = None
    for _page in range(10):
        page = service_gallery(
            session, campaign, sort=sort, after=after, seed=seed, limit=3, mode="post", votes=votes
        )
        seen += [i.id for i in page.ideas]
        after = page.next_cursor
        if after is None:
            break
    assert seen == expected
    # Pre-moderated: the approved ones only, in the same order.
    approved = [i.id for i in sorted(made, key=keys[sort], reverse=True) if i.status == "approved"]
    page = service_gallery(
        session, campaign, sort=sort, seed=seed, limit=20, mode="pre", votes=votes
    )
    assert [i.id for i in page.ideas] == approved


def service_gallery(
    session: Session, campaign: Campaign, *, mode: str, **query: Any
) -> ideas_gallery.GalleryPage:
    return ideas_gallery.gallery_page(
        session=session,
        query=ideas_gallery.GalleryQuery(
            campaign_id=campaign.id or 0, moderation_mode=mode, **query
        ),
    )
