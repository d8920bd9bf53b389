"""Submitting, editing and withdrawing ideas, through the pages a person uses."""

from __future__ import annotations

import io
import re
import threading
import zipfile
from collections.abc import Callable
from typing import Any

from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.campaigns.models import Campaign
from cocreate.clock import FrozenClock
from cocreate.ideas import service
from cocreate.ideas.models import Idea, IdeaStatus, IdeaTerm
from cocreate.settings import Settings
from tests.conftest import log_in, post_form, reload
from tests.ideas_fixtures import jpeg_bytes, png_bytes

MakeCampaign = Callable[..., Campaign]


def new_path(campaign: Campaign) -> str:
    return f"/c/{campaign.slug}/ideas/new"


def submit(
    client: TestClient,
    campaign: Campaign,
    *,
    title: str = "Smoky paprika",
    description: str = "Sweet and smoky.",
    action: str = "submit",
    image: tuple[str, bytes, str] | None = None,
    path: str | None = None,
    **fields: str,
) -> Any:
    data = {"title": title, "description": description, "action": action, **fields}
    files = {"image": image} if image else {"image": ("", b"", "application/octet-stream")}
    return post_form(
        client, path or new_path(campaign), data, page=path or new_path(campaign), files=files
    )


def ideas_of(session: Session, user: User) -> list[Idea]:
    session.rollback()
    return list(session.exec(select(Idea).where(Idea.author_id == user.id)).all())


def test_the_form_needs_a_signed_in_verified_person(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any
) -> None:
    campaign = make_campaign()
    response = client.get(new_path(campaign))
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=/c/{campaign.slug}/ideas/new"
    log_in(client, make_user(verified=False))
    response = client.get(new_path(campaign))
    assert response.status_code == 403
    assert "Please verify your email" in response.text


def test_submit_an_idea_it_waits_for_moderation_and_is_listed_in_my_ideas(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, session: Session
) -> None:
    campaign = make_campaign(categories=["Sweet", "Savoury"])
    user = make_user()
    log_in(client, user)
    page = client.get(new_path(campaign))
    assert page.status_code == 200
    assert "You can submit 3 more ideas to this campaign." in page.text
    # The title asks for look-alikes as one types (htmx), 300 ms after the last key.
    assert f'hx-get="/c/{campaign.slug}/ideas/similar"' in page.text
    assert 'hx-trigger="input changed delay:300ms"' in page.text

    response = submit(client, campaign, category="Savoury")
    assert response.status_code == 303
    [idea] = ideas_of(session, user)
    assert response.headers["location"] == f"/c/{campaign.slug}/ideas/{idea.id}"
    assert (idea.status, idea.title, idea.category) == ("pending", "Smoky paprika", "Savoury")
    assert idea.submitted_at is not None and idea.search_key == "smoky paprika"
    assert 0 <= idea.random_key < 2**31

    page = client.get(response.headers["location"])
    assert "sent to the moderators" in page.text
    assert "Waiting for moderation" in page.text
    assert "<p>Sweet and smoky.</p>" in page.text
    mine = client.get("/me/ideas")
    assert "Smoky paprika" in mine.text and "Waiting for moderation" in mine.text
    assert client.get(f"/c/{campaign.slug}/ideas").text.count("Smoky paprika") == 0


def test_a_category_must_be_one_of_the_campaign(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, session: Session
) -> None:
    campaign = make_campaign(categories=["Sweet", "Savoury"])
    user = make_user()
    log_in(client, user)
    response = submit(client, campaign, title="Lime", category="Bitter")
    assert response.status_code == 400
    assert "Choose one of the options." in response.text
    assert 'value="Lime"' in response.text  # what was typed is kept
    assert ideas_of(session, user) == []


def test_a_title_is_required_and_bounded(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, session: Session
) -> None:
    campaign = make_campaign()
    user = make_user()
    log_in(client, user)
    assert "This field is required." in submit(client, campaign, title="   ").text
    response = submit(client, campaign, title="x" * 121)
    assert response.status_code == 400 and "Use at most 120 characters." in response.text
    response = submit(client, campaign, description="y" * 5001)
    assert "Use at most 5000 characters." in response.text
    assert ideas_of(session, user) == []


def test_save_a_draft_edit_it_then_submit_it(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, session: Session
) -> None:
    campaign = make_campaign(limit=1)
    user = make_user()
    log_in(client, user)
    response = submit(client, campaign, title="Half an idea", action="draft")
    assert response.status_code == 303
    [idea] = ideas_of(session, user)
    assert idea.status == "draft" and idea.submitted_at is None
    assert "Your draft is saved" in client.get(response.headers["location"]).text

    edit = f"/c/{campaign.slug}/ideas/{idea.id}/edit"
    form = client.get(edit)
    assert 'value="Half an idea"' in form.text and "Submit my idea" in form.text
    response = submit(client, campaign, title="A whole idea", action="draft", path=edit)
    assert response.status_code == 303
    reload(session, idea)
    assert (idea.title, idea.status, idea.search_key) == ("A whole idea", "draft", "whol idea")
    terms = session.exec(
        select(IdeaTerm.term, IdeaTerm.in_title).where(IdeaTerm.idea_id == idea.id)
    ).all()
    assert sorted(terms) == [("idea", True), ("smoky", False), ("sweet", False), ("whol", True)]

    response = submit(client, campaign, title="A whole idea", action="submit", path=edit)
    assert response.status_code == 303
    reload(session, idea)
    assert idea.status == "pending" and idea.submitted_at is not None
    # Pending ideas can still be edited, and stay pending.
    assert "Save changes" in client.get(edit).text
    submit(client, campaign, title="A whole idea, polished", action="save", path=edit)
    reload(session, idea)
    assert (idea.title, idea.status) == ("A whole idea, polished", "pending")


def test_drafts_do_not_count_against_the_limit_submitted_ideas_do(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, session: Session
) -> None:
    campaign = make_campaign(limit=2)
    user = make_user()
    log_in(client, user)
    for n in range(3):
        assert submit(client, campaign, title=f"Draft {n}", action="draft").status_code == 303
    assert submit(client, campaign, title="One").status_code == 303
    assert submit(client, campaign, title="Two").status_code == 303
    response = submit(client, campaign, title="Three")
    assert response.status_code == 409
    assert (
        "You have already submitted 2 ideas to this campaign, the most it allows." in response.text
    )
    # Submitting a draft is refused the same way.
    draft = next(i for i in ideas_of(session, user) if i.title == "Draft 0")
    edit = f"/c/{campaign.slug}/ideas/{draft.id}/edit"
    assert submit(client, campaign, title="Draft 0", path=edit).status_code == 409
    statuses = sorted(i.status for i in ideas_of(session, user))
    assert statuses == ["draft", "draft", "draft", "pending", "pending"]

    # Withdrawing one frees its place.
    one = next(i for i in ideas_of(session, user) if i.title == "One")
    response = post_form(client, f"/c/{campaign.slug}/ideas/{one.id}/withdraw", page="/me/ideas")
    assert response.status_code == 303
    assert "Your idea was withdrawn." in client.get("/me/ideas").text
    assert submit(client, campaign, title="Draft 0", path=edit).status_code == 303


def test_approved_ideas_count_rejected_and_withdrawn_ones_free_their_place(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
) -> None:
    # The rejection mail says "you are welcome to submit another": a rejected idea gives its
    # place back, like a withdrawn one.
    campaign = make_campaign(limit=2)
    user = make_user()
    make_idea(campaign, user, "Approved one", status=IdeaStatus.APPROVED)
    make_idea(campaign, user, "Rejected one", status=IdeaStatus.REJECTED)
    make_idea(campaign, user, "Withdrawn one", status=IdeaStatus.WITHDRAWN)
    log_in(client, user)
    assert "You can submit 1 more idea to this campaign." in client.get(new_path(campaign)).text
    assert submit(client, campaign, title="Second try").status_code == 303
    page = client.get(new_path(campaign)).text
    assert "You have no place left in this campaign" in page
    assert submit(client, campaign, title="Third").status_code == 409


def test_rejections_cannot_be_used_to_flood_the_moderators(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    session: Session,
) -> None:
    # At most three times the limit ever go to moderation, whatever became of them.
    campaign = make_campaign(limit=2)
    user = make_user()
    for n in range(5):
        make_idea(campaign, user, f"Rejected {n}", status=IdeaStatus.REJECTED)
    log_in(client, user)
    assert "You can submit 1 more idea to this campaign." in client.get(new_path(campaign)).text
    assert submit(client, campaign, title="Sixth").status_code == 303
    response = submit(client, campaign, title="Seventh")
    assert response.status_code == 409
    assert "You have sent 6 ideas to this campaign, rejected and withdrawn ones" in response.text
    # Rejecting the sixth too frees a place under the limit, not under the ceiling.
    sixth = next(i for i in ideas_of(session, user) if i.title == "Sixth")
    sixth.status = IdeaStatus.REJECTED
    session.add(sixth)
    session.commit()
    page = client.get(new_path(campaign)).text
    assert "You have sent all the ideas this campaign takes from one person" in page
    assert submit(client, campaign, title="Seventh").status_code == 409
    # Drafts stay possible.
    assert submit(client, campaign, title="Kept for later", action="draft").status_code == 303


def test_with_no_place_left_the_form_says_so_first_and_offers_only_a_draft(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, make_idea: Any
) -> None:
    campaign = make_campaign(limit=1)
    user = make_user()
    make_idea(campaign, user, "Pending one", status=IdeaStatus.PENDING)
    log_in(client, user)
    page = client.get(new_path(campaign)).text
    notice = page.index("You have no place left in this campaign")
    assert notice < page.index('id="f-title"')  # above the form, before any typing
    assert 'value="draft"' in page
    assert 'value="submit"' not in page
    assert "Submit my idea" not in page
    # With a place, both buttons.
    other = make_campaign(limit=2)
    page = client.get(new_path(other)).text
    assert 'value="submit"' in page and 'value="draft"' in page
    assert "You have no place left" not in page


def test_the_limit_holds_when_one_person_submits_in_parallel(
    engine: Engine, make_campaign: MakeCampaign, make_user: Any, clock: FrozenClock
) -> None:
    campaign = make_campaign(limit=2)
    user = make_user()
    workers = 6
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        with Session(engine, expire_on_commit=False) as session:
            author = session.get(User, user.id)
            own_campaign = session.get(Campaign, campaign.id)
            assert author is not None and own_campaign is not None
            content = service.IdeaContent(f"Idea {n}", "", None, None)
            barrier.wait()
            try:
                service.create_idea(
                    session=session,
                    campaign=own_campaign,
                    author=author,
                    content=content,
                    submit=True,
                    now=clock.now(),
                )
                outcomes.append("saved")
            except service.IdeaRefused:
                outcomes.append("refused")
            except Exception as exc:  # noqa: BLE001  (any other error is the bug we look for)
                outcomes.append(f"error: {exc!r}")

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 4 + ["saved"] * 2
    with Session(engine) as session:
        assert service.places(session=session, campaign=campaign, author_id=user.id).used == 2


def test_submissions_are_refused_before_and_after_the_submission_stage(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    session: Session,
    clock: FrozenClock,
) -> None:
    campaign = make_campaign()
    user = make_user()
    log_in(client, user)
    form_page = client.get(new_path(campaign))  # read while open: the form a slow typist holds
    assert form_page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', form_page.text)
    assert token
    submit(client, campaign, title="In time", action="draft")
    [draft] = ideas_of(session, user)

    clock.advance(days=8)  # the submission stage closed; voting is open
    response = client.post(
        new_path(campaign),
        data={"csrf_token": token.group(1), "title": "Too late", "action": "submit"},
    )
    assert response.status_code == 403
    assert "This campaign is not taking ideas at the moment." in response.text
    page = client.get(new_path(campaign))
    assert page.status_code == 403 and "Ideas cannot be sent now" in page.text
    edit = f"/c/{campaign.slug}/ideas/{draft.id}/edit"
    assert client.get(edit).status_code == 403
    assert [i.title for i in ideas_of(session, user)] == ["In time"]

    clock.advance(days=-10)  # before the stage opened
    assert client.get(new_path(campaign)).status_code == 403


def test_a_campaign_without_a_submission_stage_or_unpublished_takes_no_ideas(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, session: Session
) -> None:
    draft_campaign = make_campaign(status="draft")
    log_in(client, make_user())
    assert client.get(new_path(draft_campaign)).status_code == 404
    assert client.get("/c/no-such-campaign/ideas/new").status_code == 404


def test_only_the_author_edits_or_withdraws(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, make_idea: Any
) -> None:
    campaign = make_campaign()
    author, other = make_user(), make_user()
    idea = make_idea(campaign, author, "Mine", status=IdeaStatus.PENDING)
    log_in(client, other)
    edit = f"/c/{campaign.slug}/ideas/{idea.id}/edit"
    assert client.get(edit).status_code == 403
    stolen = {"title": "Stolen", "action": "save"}
    response = post_form(client, edit, stolen, page=new_path(campaign))
    assert response.status_code == 403
    response = post_form(
        client, f"/c/{campaign.slug}/ideas/{idea.id}/withdraw", page=new_path(campaign)
    )
    assert response.status_code == 403
    assert "Edit" not in client.get("/me/ideas").text


def test_approved_ideas_cannot_be_edited_and_withdraw_only_while_submission_is_open(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    session: Session,
    clock: FrozenClock,
) -> None:
    campaign = make_campaign()
    author = make_user()
    idea = make_idea(campaign, author, "Approved", status=IdeaStatus.APPROVED)
    log_in(client, author)
    edit = f"/c/{campaign.slug}/ideas/{idea.id}/edit"
    response = client.get(edit)
    assert response.status_code == 403 and "can no longer be changed" in response.text
    response = post_form(client, edit, {"title": "Changed"}, page="/me/ideas")
    assert response.status_code == 403

    clock.advance(days=8)
    page = client.get(f"/c/{campaign.slug}/ideas/{idea.id}")
    assert "Withdraw this idea" not in page.text
    response = post_form(client, f"/c/{campaign.slug}/ideas/{idea.id}/withdraw", page="/me/ideas")
    assert response.status_code == 303
    assert "can no longer be withdrawn" in client.get(response.headers["location"]).text
    reload(session, idea)
    assert idea.status == "approved" and idea.title == "Approved"


def test_upload_an_image_it_is_reencoded_and_served_with_long_cache(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    session: Session,
    settings: Settings,
) -> None:
    campaign = make_campaign()
    user = make_user()
    log_in(client, user)
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}
    photo = jpeg_bytes((1600, 1200), exif=exif)
    response = submit(client, campaign, image=("holiday.php.jpg", photo, "image/gif"))
    assert response.status_code == 303
    [idea] = ideas_of(session, user)
    assert idea.image_key and re.fullmatch(r"ideas/[0-9a-f]{24}", idea.image_key)
    page = client.get(f"/c/{campaign.slug}/ideas/{idea.id}")
    src = re.search(r'<img class="idea-image" src="([^"]+)"', page.text)
    assert src and src.group(1) == f"/media/{idea.image_key}/large.jpg"
    image = client.get(src.group(1))
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    # Waiting for moderation: its author sees it, nobody keeps a shared copy.
    assert image.headers["cache-control"] == "private, no-cache"
    idea.status = IdeaStatus.APPROVED
    session.add(idea)
    session.commit()
    image = client.get(src.group(1))
    assert image.headers["cache-control"] == "public, max-age=31536000, immutable"
    idea.status = IdeaStatus.PENDING  # editable again, for what follows
    session.add(idea)
    session.commit()
    decoded = Image.open(io.BytesIO(image.content))
    assert decoded.size == (1200, 900) and not decoded.getexif()
    thumb = client.get(f"/media/{idea.image_key}/thumb.webp")
    assert thumb.headers["content-type"] == "image/webp"
    stored = sorted(p.name for p in (settings.data_dir / "media" / idea.image_key).iterdir())
    assert stored == ["large.jpg", "thumb.webp"]  # nothing of the upload itself is kept

    # Replacing the image removes the old files; removing it too.
    edit = f"/c/{campaign.slug}/ideas/{idea.id}/edit"
    old_key = idea.image_key
    submit(client, campaign, action="save", path=edit, image=("b.png", png_bytes(), "image/png"))
    reload(session, idea)
    assert idea.image_key != old_key and not (settings.data_dir / "media" / old_key).exists()
    assert client.get(f"/media/{old_key}/large.jpg").status_code == 404
    submit(client, campaign, action="save", path=edit, remove_image="yes")
    reload(session, idea)
    assert idea.image_key is None


def test_bad_images_get_a_clear_error_in_the_persons_language(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, session: Session
) -> None:
    campaign = make_campaign()
    user = make_user()
    log_in(client, user)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x.txt", "not a picture")
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")
    cases = [
        (b"\x89PNG" + b"\0" * (20 * 1024 * 1024), "The image is larger than 10 MB."),
        (archive.getvalue(), "This file is not a JPEG, PNG or WebP image."),
        (bomb.getvalue(), "The image has too many pixels. The most we take is 12 megapixels"),
    ]
    for data, message in cases:
        image = ("a.png", data, "image/png")
        response = submit(client, campaign, title="With a picture", image=image)
        assert response.status_code == 400
        assert message in response.text
        assert 'value="With a picture"' in response.text
    client.headers["Accept-Language"] = "fr"
    response = submit(client, campaign, image=("a.png", archive.getvalue(), "image/png"))
    assert "Ce fichier n’est pas une image JPEG, PNG ou WebP." in response.text
    assert ideas_of(session, user) == []


def test_a_body_over_the_ceiling_is_refused_with_413(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any
) -> None:
    campaign = make_campaign()
    log_in(client, make_user())
    huge = b"\0" * (33 * 1024 * 1024)
    response = submit(client, campaign, image=("a.png", huge, "image/png"))
    assert response.status_code == 413
    assert "What you sent is too large." in response.text


def test_script_tags_and_unicode_are_shown_as_text_everywhere(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    session: Session,
) -> None:
    xss = '<script>alert("x")</script>'
    campaign = make_campaign(categories=[f"Cat {xss}"])
    user = make_user(name=f"Zoë {xss}")
    log_in(client, user)
    title = f"Crème brûlée 🍮 مرحبا {xss}\u0000"
    description = f"Line *one* {xss}\n\n<img src=x onerror=alert(1)> [link](javascript:alert(1))"
    response = submit(client, campaign, title=title, description=description, category=f"Cat {xss}")
    assert response.status_code == 303, response.text
    [idea] = ideas_of(session, user)
    assert idea.title == f"Crème brûlée 🍮 مرحبا {xss}"  # the NUL byte is dropped
    pages = [
        client.get(f"/c/{campaign.slug}/ideas/{idea.id}/edit"),
        client.get("/me/ideas"),
    ]
    idea.status = IdeaStatus.APPROVED
    session.add(idea)
    session.commit()
    pages += [
        client.get(f"/c/{campaign.slug}/ideas"),
        client.get(f"/c/{campaign.slug}/ideas/similar", params={"title": "creme brulee"}),
        client.get(f"/c/{campaign.slug}/ideas/{idea.id}"),
    ]
    assert "Crème brûlée" in pages[3].text  # the look-alike was found
    for page in pages:
        assert page.status_code == 200, page.url
        assert "<script>" not in page.text, page.url
        assert "<img src=x" not in page.text, page.url
        assert 'href="javascript:' not in page.text, page.url
    idea_page = pages[-1].text
    assert "Crème brûlée 🍮 مرحبا &lt;script&gt;" in idea_page
    assert "<em>one</em>" in idea_page
    assert "By Zoë &lt;script&gt;" in idea_page
    assert "Cat &lt;script&gt;" in idea_page
    assert '<meta property="og:title" content="Crème brûlée 🍮 مرحبا &lt;script&gt;' in idea_page
