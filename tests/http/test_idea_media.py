"""Uploads under load and attack: decoded last, counted per account, bounded per process;
an idea's image follows the idea's visibility and goes when the idea does."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image, ImageFile
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.app import create_app
from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign
from cocreate.clock import FrozenClock
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.moderation import purge, rules
from cocreate.moderation.brand_settings import get_settings
from cocreate.moderation.decisions.decide import decide
from cocreate.moderation.models import Action
from cocreate.settings import Settings
from tests.conftest import log_in, post_form, reload
from tests.http.test_idea_submission import ideas_of, submit
from tests.ideas_fixtures import jpeg_bytes, png_bytes

MakeCampaign = Callable[..., Campaign]


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every size at which Pillow decodes pixels in this test (ImageFile.load)."""
    seen: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def counting_load(self: ImageFile.ImageFile) -> Any:
        if self.tile:
            seen.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return seen


def bomb() -> bytes:
    """6000 x 6000 pixels in about 100 KB of PNG: 540 MB to decode and copy before."""
    return png_bytes((6000, 6000))


def test_an_invalid_form_never_decodes_its_image(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    session: Session,
    loads: list[tuple[int, int]],
) -> None:
    campaign = make_campaign()
    user = make_user()
    log_in(client, user)
    for image in (bomb(), jpeg_bytes((4000, 3000))):
        response = submit(client, campaign, title="x" * 121, image=("a.png", image, "image/png"))
        assert response.status_code == 400
        assert "Use at most 120 characters." in response.text
        assert "Please choose the image again." in response.text
    assert loads == []
    assert ideas_of(session, user) == []


def test_the_bomb_is_refused_undecoded_and_a_phone_photo_decodes_at_half_size(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    session: Session,
    loads: list[tuple[int, int]],
) -> None:
    campaign = make_campaign()
    user = make_user()
    log_in(client, user)
    response = submit(client, campaign, image=("bomb.png", bomb(), "image/png"))
    assert response.status_code == 400
    assert "The image has too many pixels. The most we take is 12 megapixels" in response.text
    assert loads == []
    photo = jpeg_bytes((4000, 3000))
    assert submit(client, campaign, image=("p.jpg", photo, "image/jpeg")).status_code == 303
    assert loads == [(2000, 1500)]  # libjpeg's 1/2 scale, not 12 megapixels
    [idea] = ideas_of(session, user)
    assert idea.image_key


@pytest.fixture
def strict_settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, upload_rate_limit="2/hour", image_decodes=1, image_decode_wait_seconds=0.2
    )


@pytest.fixture
def strict_client(
    strict_settings: Settings, engine: Engine, clock: FrozenClock
) -> Iterator[TestClient]:
    app = create_app(strict_settings, clock=clock)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


def test_uploads_past_the_hourly_limit_get_a_form_error_in_the_persons_language(
    strict_client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    session: Session,
    loads: list[tuple[int, int]],
) -> None:
    campaign = make_campaign(limit=5)
    user = make_user()
    log_in(strict_client, user)
    for n in range(2):
        image = (f"{n}.png", png_bytes(), "image/png")
        assert submit(strict_client, campaign, title=f"Idea {n}", image=image).status_code == 303
    assert len(loads) == 2
    response = submit(strict_client, campaign, title="Third", image=("3.png", png_bytes(), "x"))
    assert response.status_code == 400
    assert "You have sent many images in a short time. Please try again later." in response.text
    assert 'value="Third"' in response.text
    strict_client.headers["Accept-Language"] = "fr"
    response = submit(strict_client, campaign, title="Quatre", image=("4.png", png_bytes(), "x"))
    assert "Vous avez envoyé beaucoup d’images en peu de temps." in response.text
    assert len(loads) == 2  # refused before decoding
    # Ideas without an image are not counted.
    assert submit(strict_client, campaign, title="Plain").status_code == 303


def test_when_every_decode_slot_is_taken_the_form_answers_503_with_retry_after(
    strict_client: TestClient, make_campaign: MakeCampaign, make_user: Any, session: Session
) -> None:
    campaign = make_campaign()
    user = make_user()
    log_in(strict_client, user)
    gate = strict_client.app.state.uploads.gate  # type: ignore[attr-defined]
    with gate.slot():  # another upload is decoding
        response = submit(strict_client, campaign, title="Busy", image=("a.png", png_bytes(), "x"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "Many images are being processed right now." in response.text
    assert 'value="Busy"' in response.text
    assert ideas_of(session, user) == []


@pytest.fixture
def people(make_user: Any) -> dict[str, User]:
    return {
        "author": make_user(),
        "stranger": make_user(),
        "moderator": make_user(),
        "admin": make_user(admin=True),
    }


def _idea_with_image(
    client: TestClient, campaign: Campaign, author: User, session: Session
) -> tuple[Idea, list[str]]:
    log_in(client, author)
    response = submit(client, campaign, image=("a.jpg", jpeg_bytes((800, 600)), "image/jpeg"))
    assert response.status_code == 303
    [idea] = ideas_of(session, author)
    assert idea.status == IdeaStatus.PENDING and idea.image_key
    urls = [f"/media/{idea.image_key}/large.jpg", f"/media/{idea.image_key}/thumb.webp"]
    client.cookies.clear()
    return idea, urls


def _fetch(client: TestClient, url: str, user: User | None) -> Any:
    client.cookies.clear()
    if user is not None:
        log_in(client, user)
    return client.get(url)


def test_a_pending_ideas_image_goes_only_to_who_may_see_the_idea_then_rejection_deletes_it(
    client: TestClient,
    make_campaign: MakeCampaign,
    people: dict[str, User],
    session: Session,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    campaign = make_campaign(staff=[(people["moderator"], Role.MODERATOR)])
    idea, urls = _idea_with_image(client, campaign, people["author"], session)
    for url in urls:
        assert _fetch(client, url, None).status_code == 404
        assert _fetch(client, url, people["stranger"]).status_code == 404
        for who in ("author", "moderator", "admin"):
            response = _fetch(client, url, people[who])
            assert response.status_code == 200, who
            assert response.headers["cache-control"] == "private, no-cache", who
    folder = settings.data_dir / "media" / str(idea.image_key)
    assert folder.is_dir()

    brand = session.get(Brand, campaign.brand_id)
    assert brand is not None
    decide(
        session=session,
        brand=brand,
        idea_id=idea.id or 0,
        actor=people["moderator"],
        action=Action.REJECT,
        reason="off_topic",
        clock=clock,
    )
    storage = client.app.state.storage  # type: ignore[attr-defined]
    # Within the undo window (and its margin) the files stay, for the author and staff only.
    assert purge.purge_rejected_images(session=session, storage=storage, clock=clock) == 0
    assert folder.is_dir()
    assert _fetch(client, urls[0], people["stranger"]).status_code == 404
    assert _fetch(client, urls[0], people["author"]).headers["cache-control"].startswith("private")
    clock.advance(seconds=rules.UNDO_SECONDS + 61)
    assert purge.purge_rejected_images(session=session, storage=storage, clock=clock) == 1
    assert not folder.exists()
    session.rollback()
    rejected = session.get(Idea, idea.id)
    assert rejected is not None
    assert rejected.image_key is None and rejected.status == IdeaStatus.REJECTED
    assert _fetch(client, urls[0], people["author"]).status_code == 404


def test_an_automatic_rejection_keeps_the_image_a_moderator_may_still_approve(
    client: TestClient,
    make_campaign: MakeCampaign,
    people: dict[str, User],
    session: Session,
    clock: FrozenClock,
) -> None:
    campaign = make_campaign()
    brand_settings = get_settings(session=session, brand_id=campaign.brand_id)
    brand_settings.auto_reject_spam = True
    session.add(brand_settings)
    session.commit()
    log_in(client, people["author"])
    image = ("a.jpg", jpeg_bytes((800, 600)), "image/jpeg")
    spam = "Write to deals@spam.example for the best prices on crisps!!"
    response = submit(client, campaign, description=spam, image=image)
    assert response.status_code == 303
    [idea] = ideas_of(session, people["author"])
    assert idea.status == IdeaStatus.REJECTED and idea.image_key
    clock.advance(hours=1)
    storage = client.app.state.storage  # type: ignore[attr-defined]
    assert purge.purge_rejected_images(session=session, storage=storage, clock=clock) == 0
    reload(session, idea)
    assert idea.image_key is not None


def test_public_ideas_images_are_cached_hidden_ones_are_not(
    client: TestClient, make_campaign: MakeCampaign, people: dict[str, User], session: Session
) -> None:
    campaign = make_campaign()
    idea, urls = _idea_with_image(client, campaign, people["author"], session)
    idea.status = IdeaStatus.APPROVED
    session.add(idea)
    session.commit()
    response = _fetch(client, urls[0], None)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    idea.hidden_at = idea.updated_at  # reports hid it until a moderator decides
    session.add(idea)
    session.commit()
    assert _fetch(client, urls[0], None).status_code == 404
    assert _fetch(client, urls[0], people["author"]).headers["cache-control"] == (
        "private, no-cache"
    )


def test_withdrawing_an_idea_deletes_its_image(
    client: TestClient,
    make_campaign: MakeCampaign,
    people: dict[str, User],
    session: Session,
    settings: Settings,
) -> None:
    campaign = make_campaign()
    idea, urls = _idea_with_image(client, campaign, people["author"], session)
    folder = settings.data_dir / "media" / str(idea.image_key)
    log_in(client, people["author"])
    response = post_form(client, f"/c/{campaign.slug}/ideas/{idea.id}/withdraw", page="/me/ideas")
    assert response.status_code == 303
    reload(session, idea)
    assert idea.status == IdeaStatus.WITHDRAWN and idea.image_key is None
    assert not folder.exists()
    assert client.get(urls[0]).status_code == 404


def test_files_no_idea_names_are_nobodys(
    client: TestClient, people: dict[str, User], settings: Settings, session: Session
) -> None:
    stray = settings.data_dir / "media" / "ideas" / ("a" * 24)
    stray.mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(stray / "large.jpg")
    other = settings.data_dir / "media" / "elsewhere" / "x"
    other.mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(other / "large.jpg")
    for url in (f"/media/ideas/{'a' * 24}/large.jpg", "/media/elsewhere/x/large.jpg"):
        assert _fetch(client, url, None).status_code == 404
        assert _fetch(client, url, people["admin"]).status_code == 404
    assert session.exec(select(Idea)).first() is None
    assert re.fullmatch(r"a{24}", stray.name)
