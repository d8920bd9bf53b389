"""The campaign's cover image: uploaded in the console, re-encoded, shown and shared."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlmodel import Session
from starlette.testclient import TestClient

from cocreate.brands.models import Brand, Role
from cocreate.campaigns.models import Campaign, CampaignStatus
from cocreate.clock import FrozenClock
from cocreate.settings import Settings
from tests.campaigns_support import add_member, make_brand, make_campaign
from tests.conftest import csrf_from, log_in, reload
from tests.ideas_fixtures import jpeg_bytes, png_bytes

EDIT = "/brands/acme/campaigns/summer/edit"
TOO_MANY_PIXELS = (
    "The image has too many pixels. The most we take is 12 megapixels, "
    "or 64 megapixels for a JPEG photo."
)
DETAILS = {
    "title": "Summer flavours",
    "slug": "summer",
    "summary": "Invent the taste of summer.",
    "primary_color": "#1a5fb4",
    "languages": ["en"],
    "submission_limit": "2",
    "timezone": "Europe/Paris",
}


@pytest.fixture(autouse=True)
def frozen(clock: FrozenClock) -> FrozenClock:
    clock.at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return clock


@pytest.fixture
def acme(session: Session) -> Brand:
    return make_brand(session, "acme", "Acme")


@pytest.fixture
def campaign(session: Session, acme: Brand) -> Campaign:
    return make_campaign(session, acme, "summer", status=CampaignStatus.PUBLISHED)


@pytest.fixture
def as_marketer(client: TestClient, session: Session, make_user: Any, acme: Brand) -> TestClient:
    user = make_user("mia@example.com")
    add_member(session, acme, user, Role.MARKETER)
    log_in(client, user)
    return client


def save(client: TestClient, cover: tuple[str, bytes, str] | None = None, **changes: Any) -> Any:
    data = {**DETAILS, "csrf_token": csrf_from(client, EDIT), **changes}
    files = {"cover": cover} if cover else {"cover": ("", b"", "application/octet-stream")}
    return client.post(EDIT, data=data, files=files)


def media_folders(settings: Settings) -> list[Path]:
    covers = settings.data_dir / "media" / "covers"
    return sorted(covers.iterdir()) if covers.exists() else []


def test_upload_a_cover_it_is_shown_shared_replaced_and_removed(
    as_marketer: TestClient, session: Session, campaign: Campaign, settings: Settings
) -> None:
    photo = jpeg_bytes((2400, 1600))
    response = save(as_marketer, ("summer.jpg", photo, "image/jpeg"))
    assert response.status_code == 303, response.text
    reload(session, campaign)
    key = campaign.cover_image
    assert key and re.fullmatch(r"covers/[0-9a-f]{24}", key)

    page = as_marketer.get("/c/summer").text
    assert f'<img class="cover" src="/media/{key}/large.jpg" alt="">' in page
    card = re.search(
        r'<meta property="og:image" content="http://testserver(/c/summer/card\.png\?v=\w+)">', page
    )
    assert card is not None  # the share card, drawn with the cover
    image = as_marketer.get(f"/media/{key}/large.jpg")
    assert image.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(image.content)).size == (1200, 800)
    edit_page = as_marketer.get(EDIT).text
    assert f'src="/media/{key}/large.jpg"' in edit_page and "Remove the cover image" in edit_page

    # Saving other details without a file keeps the cover.
    assert save(as_marketer, title="Summer tastes").status_code == 303
    reload(session, campaign)
    assert campaign.cover_image == key and campaign.title == "Summer tastes"

    # A new cover replaces the old one, whose files are deleted.
    assert save(as_marketer, ("b.png", png_bytes(), "image/png")).status_code == 303
    reload(session, campaign)
    assert campaign.cover_image != key
    assert as_marketer.get(f"/media/{key}/large.jpg").status_code == 404
    assert media_folders(settings) == [settings.data_dir / "media" / str(campaign.cover_image)]

    assert save(as_marketer, remove_cover="yes").status_code == 303
    reload(session, campaign)
    assert campaign.cover_image is None and media_folders(settings) == []
    page = as_marketer.get("/c/summer").text
    assert 'class="cover"' not in page
    # The share card is drawn again, without the cover: a new address.
    assert card.group(1) not in page and "/c/summer/card.png?v=" in page


def test_bad_covers_get_the_same_clear_errors_as_idea_images(
    as_marketer: TestClient, session: Session, campaign: Campaign, settings: Settings
) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x.txt", "not a picture")
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")
    too_large = "The image is larger than 10 MB. Choose a smaller file."
    cases = [
        (archive.getvalue(), "This file is not a JPEG, PNG or WebP image."),
        (b"\x89PNG" + b"\0" * (11 * 1024 * 1024), too_large),
        (bomb.getvalue(), TOO_MANY_PIXELS),
        (png_bytes((5000, 3000), mode="1"), TOO_MANY_PIXELS),
    ]
    for data, message in cases:
        response = save(as_marketer, ("cover.png", data, "image/png"), title="Kept title")
        assert response.status_code == 400
        assert f'<p class="error" id="f-cover-error">{message}' in response.text
        assert 'value="Kept title"' in response.text  # the rest of the form is not lost
    as_marketer.headers["Accept-Language"] = "fr"
    response = save(as_marketer, ("cover.png", archive.getvalue(), "image/png"))
    assert "Ce fichier n’est pas une image JPEG, PNG ou WebP." in response.text
    reload(session, campaign)
    assert campaign.cover_image is None and campaign.title == "Summer"
    assert media_folders(settings) == []


def test_a_good_cover_with_another_field_wrong_is_not_kept_and_must_be_chosen_again(
    as_marketer: TestClient, session: Session, campaign: Campaign, settings: Settings
) -> None:
    response = save(as_marketer, ("c.png", png_bytes(), "image/png"), primary_color="red")
    assert response.status_code == 400
    assert "Enter a colour as # and six hex digits" in response.text
    assert "Please choose the image again." in response.text
    reload(session, campaign)
    assert campaign.cover_image is None and media_folders(settings) == []


def test_only_the_brands_marketers_change_the_cover(
    client: TestClient, make_user: Any, campaign: Campaign, settings: Settings
) -> None:
    log_in(client, make_user("someone@example.com"))
    token = csrf_from(client, "/")
    response = client.post(
        EDIT,
        data={**DETAILS, "csrf_token": token},
        files={"cover": ("c.png", png_bytes(), "image/png")},
    )
    assert response.status_code == 403
    assert media_folders(settings) == []


def test_a_draft_campaigns_cover_is_shown_only_to_its_brand(
    as_marketer: TestClient, session: Session, campaign: Campaign, make_user: Any
) -> None:
    assert save(as_marketer, ("c.jpg", jpeg_bytes((800, 600)), "image/jpeg")).status_code == 303
    reload(session, campaign)
    url = f"/media/{campaign.cover_image}/large.jpg"
    public = as_marketer.get(url)
    assert public.headers["cache-control"] == "public, max-age=31536000, immutable"
    campaign.status = CampaignStatus.DRAFT
    session.add(campaign)
    session.commit()
    private = as_marketer.get(url)
    assert private.status_code == 200 and private.headers["cache-control"] == "private, no-cache"
    as_marketer.cookies.clear()
    assert as_marketer.get(url).status_code == 404
    log_in(as_marketer, make_user("someone@example.com"))
    assert as_marketer.get(url).status_code == 404
