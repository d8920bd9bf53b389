"""Share cards through the app: linked from the pages' og:image, drawn once, kept, drawn
again when what they show changes, and only for what the public may see."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from PIL import Image
from sqlmodel import Session
from starlette.testclient import TestClient

from cocreate.campaigns.models import Campaign, CampaignStatus
from cocreate.clock import FrozenClock
from cocreate.ideas.models import IdeaStatus
from cocreate.settings import Settings
from cocreate.sharing.serve import TEXT_KEY
from cocreate.voting.results import certify_round
from tests.conftest import reload
from tests.http.test_results_pages import CLOSED, voted
from tests.ideas_fixtures import jpeg_bytes


def og_image(page: str) -> str:
    found = re.search(r'<meta property="og:image" content="http://testserver([^"]+)">', page)
    assert found is not None, "no og:image"
    return found.group(1)


def card_of(client: TestClient, page_path: str) -> tuple[str, Any]:
    address = og_image(client.get(page_path).text)
    answer = client.get(address)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    return address, answer


def test_the_campaign_card_is_drawn_once_kept_and_drawn_again_when_the_title_changes(
    client: TestClient,
    session: Session,
    make_campaign: Callable[..., Campaign],
    settings: Settings,
) -> None:
    campaign = make_campaign("crisps")
    address, answer = card_of(client, "/c/crisps")
    assert address.startswith("/c/crisps/card.png?v=")
    image = Image.open(io.BytesIO(answer.content))
    assert image.size == (1200, 630)
    assert answer.headers["cache-control"].startswith("public")
    kept = settings.data_dir / "media" / "cards" / f"campaign-{campaign.id}-en.png"
    assert kept.is_file()
    drawn_at = kept.stat().st_mtime_ns
    tag = Image.open(kept).text[TEXT_KEY]  # type: ignore[attr-defined]

    again = client.get(address)
    assert again.content == answer.content and kept.stat().st_mtime_ns == drawn_at
    etag = answer.headers["etag"]
    assert client.get(address, headers={"if-none-match": etag}).status_code == 304

    campaign.title = "Winter flavours"
    session.add(campaign)
    session.commit()
    new_address, new_answer = card_of(client, "/c/crisps")
    assert new_address != address and new_answer.content != answer.content
    assert new_answer.headers["etag"] != etag
    assert Image.open(kept).text[TEXT_KEY] != tag  # type: ignore[attr-defined]
    # The old address is the same card's address: it answers with the card as it is now.
    assert client.get(address).content == new_answer.content


def test_each_language_has_its_own_card(
    client: TestClient, make_campaign: Callable[..., Campaign], settings: Settings
) -> None:
    campaign = make_campaign("crisps")
    english = card_of(client, "/c/crisps")[1].content
    client.cookies.clear()
    french_page = client.get("/c/crisps", headers={"accept-language": "fr"}).text
    french = client.get(og_image(french_page), headers={"accept-language": "fr"})
    assert french.status_code == 200 and french.content != english
    folder = settings.data_dir / "media" / "cards"
    assert {p.name for p in folder.iterdir()} == {
        f"campaign-{campaign.id}-en.png",
        f"campaign-{campaign.id}-fr.png",
    }


def test_no_card_for_a_draft_campaign(
    client: TestClient, make_campaign: Callable[..., Campaign]
) -> None:
    make_campaign("secret", status=CampaignStatus.DRAFT)
    assert client.get("/c/secret/card.png").status_code == 404


def test_an_idea_card_shows_its_photo_and_exists_only_while_the_idea_is_public(
    client: TestClient,
    session: Session,
    make_campaign: Callable[..., Campaign],
    make_user: Any,
    make_idea: Any,
    settings: Settings,
) -> None:
    campaign = make_campaign("crisps")
    idea = make_idea(campaign, make_user(), "Smoked chipotle")
    key = "ideas/0123456789abcdef01234567"
    photo = settings.data_dir / "media" / key / "large.jpg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(jpeg_bytes((1200, 900)))
    idea.image_key = key
    session.add(idea)
    session.commit()
    address, answer = card_of(client, f"/c/crisps/ideas/{idea.id}")
    assert address.startswith(f"/c/crisps/ideas/{idea.id}/card.png?v=")
    card = Image.open(io.BytesIO(answer.content)).convert("RGB")
    assert card.getpixel((1190, 315)) == Image.open(photo).convert("RGB").getpixel((1190, 450))

    idea.status = IdeaStatus.REJECTED
    session.add(idea)
    session.commit()
    assert client.get(address).status_code == 404
    assert client.get(f"/c/crisps/ideas/{idea.id}/card.png").status_code == 404


def test_the_winners_card_exists_once_the_winners_are_known(
    client: TestClient, session: Session, clock: FrozenClock
) -> None:
    contest = voted(session, advancement_value=1, later=())
    page = client.get("/c/flavour/winners").text
    assert "og:image" not in page
    assert client.get("/c/flavour/winners/card.png").status_code == 404

    clock.at = CLOSED
    certify_round(session=session, round_=contest.round, now=CLOSED)
    page = client.get("/c/flavour/winners").text
    assert '<meta property="og:title" content="The winners of' in page
    address, answer = card_of(client, "/c/flavour/winners")
    assert address.startswith("/c/flavour/winners/card.png?v=")
    assert Image.open(io.BytesIO(answer.content)).size == (1200, 630)
    reload(session, contest.campaign)
