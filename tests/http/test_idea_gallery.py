"""The public side: gallery, idea pages, look-alike hints, media files."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from cocreate.accounts.models import User
from cocreate.brands.models import Role
from cocreate.campaigns.models import Campaign
from cocreate.clock import FrozenClock
from cocreate.ideas import search as ideas_search
from cocreate.ideas.models import IdeaStatus
from tests.conftest import log_in
from tests.ideas_fixtures import tally_round

MakeCampaign = Callable[..., Campaign]
HTMX = {"HX-Request": "true"}
_TITLE = re.compile(r'<h2><a href="/c/[^/]+/ideas/(\d+)">([^<]*)</a></h2>')
_MORE = re.compile(r'<li class="more">\s*<a class="button secondary" href="([^"]+)"')


def titles(html: str) -> list[str]:
    return [title for _id, title in _TITLE.findall(html)]


def next_link(html: str) -> str | None:
    found = _MORE.search(html)
    return found.group(1).replace("&amp;", "&") if found else None


def walk_gallery(client: TestClient, url: str, *, htmx: bool) -> list[str]:
    """Every title, following "More ideas" as a browser (or htmx) would."""
    seen: list[str] = []
    pages = 0
    while url:
        response = client.get(url, headers=HTMX if htmx else {})
        assert response.status_code == 200
        seen += titles(response.text)
        url = next_link(response.text) or ""
        pages += 1
        assert pages < 50
    return seen


@pytest.fixture
def gallery_campaign(
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    session: Session,
    clock: FrozenClock,
) -> tuple[Campaign, User]:
    """60 approved ideas; the voting round is open, with n % 7 votes for idea n."""
    campaign = make_campaign(slug="crisps", categories=["Sweet", "Savoury"])
    author = make_user(name="Ana")
    votes = {}
    for n in range(60):
        votes[n] = make_idea(
            campaign,
            author,
            f"Idea {n:02d}",
            category="Sweet" if n % 3 == 0 else "Savoury",
            votes=n % 7,
            submitted_minutes_ago=60 - n,
            random_key=(n * 7919) % 1000,
        )
    make_idea(campaign, author, "Pending one", status=IdeaStatus.PENDING)
    make_idea(campaign, author, "Rejected one", status=IdeaStatus.REJECTED)
    make_idea(campaign, author, "Draft one", status=IdeaStatus.DRAFT)
    tally_round(session, campaign, [(idea, n % 7) for n, idea in votes.items()])
    clock.at += timedelta(days=8)  # the voting stage opened a day ago
    return campaign, author


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("sort", ["newest", "votes", "random"])
def test_pages_of_the_gallery_show_every_approved_idea_once_in_order(
    client: TestClient, gallery_campaign: tuple[Campaign, User], sort: str, htmx: bool
) -> None:
    campaign, _author = gallery_campaign
    first = client.get(f"/c/{campaign.slug}/ideas?sort={sort}")
    assert first.status_code == 200 and len(titles(first.text)) == 24
    start = f"/c/{campaign.slug}/ideas?sort={sort}"
    if sort == "random":
        more = next_link(first.text)
        assert more
        seed = parse_qs(urlsplit(more).query)["seed"][0]
        start += f"&seed={seed}"
    seen = walk_gallery(client, start, htmx=htmx)
    assert sorted(seen) == [f"Idea {n:02d}" for n in range(60)]  # no repeat, none missing
    if sort == "newest":
        assert seen == [f"Idea {n:02d}" for n in reversed(range(60))]
    if sort == "votes":
        votes = [int(t.split()[1]) % 7 for t in seen]
        assert votes == sorted(votes, reverse=True)
    if sort == "random":
        # Stable: the same seed gives the same order; the order is not the newest one.
        assert walk_gallery(client, start, htmx=htmx) == seen
        assert seen != sorted(seen) and seen != sorted(seen, reverse=True)


def test_random_order_starts_somewhere_else_for_another_seed(
    client: TestClient, gallery_campaign: tuple[Campaign, User]
) -> None:
    campaign, _author = gallery_campaign
    one = walk_gallery(client, f"/c/{campaign.slug}/ideas?sort=random&seed=0", htmx=False)
    other = walk_gallery(client, f"/c/{campaign.slug}/ideas?sort=random&seed=500", htmx=False)
    # The largest seed still pages through everything (it is carried in every link).
    last = walk_gallery(client, f"/c/{campaign.slug}/ideas?sort=random&seed=2147483647", htmx=False)
    assert last == one  # every random key (below 1000 here) is under that seed: a full lap
    assert sorted(one) == sorted(other) and one != other
    # A rotation: the same cycle, started elsewhere.
    at = one.index(other[0])
    assert one[at:] + one[:at] == other


# Both ways of searching: ids of the few matches read first, or membership tests per word.
@pytest.mark.parametrize("id_list_max", [1, 1000], ids=["many-matches", "few-matches"])
def test_filter_by_category_and_search_with_folded_words(
    client: TestClient,
    gallery_campaign: tuple[Campaign, User],
    make_idea: Any,
    monkeypatch: pytest.MonkeyPatch,
    id_list_max: int,
) -> None:
    monkeypatch.setattr(ideas_search, "SEARCH_ID_LIST_MAX", id_list_max)
    campaign, author = gallery_campaign
    make_idea(campaign, author, "Crème brûlée", description="Caramel on top", category="Sweet")
    make_idea(campaign, author, "Fraises des bois", description="Wild", category="Sweet")
    make_idea(campaign, author, "Strawberry", description="Like fraise, in English")
    make_idea(campaign, author, "Secret fraise", status=IdeaStatus.PENDING)
    base = f"/c/{campaign.slug}/ideas"
    sweet = walk_gallery(client, base + "?category=Sweet", htmx=False)
    assert len(sweet) == 22 and "Idea 01" not in sweet and "Idea 03" in sweet

    def search(q: str, **extra: str) -> list[str]:
        response = client.get(base, params={"q": q, **extra})
        assert response.status_code == 200
        return titles(response.text)

    assert search("creme BRULEES") == ["Crème brûlée"]
    assert search("caramel") == ["Crème brûlée"]
    assert sorted(search("FRAISE")) == ["Fraises des bois", "Strawberry"]
    assert search("fraise", category="Sweet") == ["Fraises des bois"]
    assert search("fra bois") == ["Fraises des bois"]  # every word, each as a prefix
    assert search("nothing like it") == []
    assert "No idea matches your search." in client.get(base, params={"q": "zzz"}).text
    assert len(search("the")) == 24  # only stop words: no filter


def test_bad_gallery_parameters_fall_back_instead_of_failing(
    client: TestClient, gallery_campaign: tuple[Campaign, User]
) -> None:
    campaign, _author = gallery_campaign
    base = f"/c/{campaign.slug}/ideas"
    for query in [
        "?sort=drop%20table",
        "?after=nonsense",
        "?after=99999999999999999999999.1",
        "?after=-5.-5",
        "?after=4611686018427387904.1",  # a time past the year 9999
        "?sort=votes&after=999999999999999999.1",  # more votes than an integer column holds
        "?sort=random&seed=5&after=999999999999999999.999999999999999999",
        "?after=%E2%91%A0.1",  # a digit that int() takes but is not ASCII
        "?after=1.2.3",
        "?sort=random&seed=-1",
        "?sort=random&seed=99999999999999999999",
        "?sort=random&seed=%E2%91%A0",
        "?category=%3Cscript%3E",
        "?q=" + "x" * 5000,
        "?q=%00%01",
        "?sort=votes&after=3.abc",
    ]:
        response = client.get(base + query)
        assert response.status_code == 200, query
        assert "<script>" not in response.text


def test_htmx_gets_fragments_and_everyone_else_the_page(
    client: TestClient, gallery_campaign: tuple[Campaign, User]
) -> None:
    campaign, _author = gallery_campaign
    base = f"/c/{campaign.slug}/ideas"
    page = client.get(base)
    assert page.text.startswith("<!doctype html>") and "HX-Request" in page.headers["vary"]
    assert 'hx-get="/c/crisps/ideas"' in page.text and 'hx-push-url="true"' in page.text
    results = client.get(base + "?q=idea", headers=HTMX)
    assert results.text.startswith('<div id="gallery-results">')
    more = next_link(page.text)
    assert more
    items = client.get(more, headers=HTMX)
    assert items.text.lstrip().startswith('<li class="card idea-card">')
    # Without htmx, a later page is a whole page with a way back to the start.
    later = client.get(more)
    assert "<!doctype html>" in later.text and "Back to the first ideas" in later.text
    assert '<meta name="robots" content="noindex">' in later.text


def test_an_empty_gallery_says_so(client: TestClient, make_campaign: MakeCampaign) -> None:
    campaign = make_campaign()
    assert "No idea has been published yet." in client.get(f"/c/{campaign.slug}/ideas").text
    assert client.get("/c/nope/ideas").status_code == 404
    hidden = make_campaign(status="draft")
    assert client.get(f"/c/{hidden.slug}/ideas").status_code == 404


def test_the_idea_page_has_share_links_open_graph_and_a_canonical_url(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, make_idea: Any
) -> None:
    campaign = make_campaign(slug="crisps")
    idea = make_idea(
        campaign,
        make_user(name="Ana"),
        "Salt & vinegar",
        description="**Sharp** & tangy, like the seaside.",
    )
    page = client.get(f"/c/crisps/ideas/{idea.id}")
    assert page.status_code == 200
    html = page.text
    url = f"http://testserver/c/crisps/ideas/{idea.id}"
    assert f'<link rel="canonical" href="{url}">' in html
    assert '<meta property="og:title" content="Salt &amp; vinegar">' in html
    assert '<meta property="og:description" content="Sharp &amp; tangy, like the seaside.">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    # Even without a photo the link shows a large picture: the idea's share card.
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    assert "<strong>Sharp</strong> &amp; tangy" in html
    assert "By Ana" in html
    encoded = f"http%3A//testserver/c/crisps/ideas/{idea.id}"
    for link in [
        f"https://www.facebook.com/sharer/sharer.php?u={encoded}",
        f"https://x.com/intent/tweet?url={encoded}&amp;text=Salt%20%26%20vinegar",
        f"https://www.linkedin.com/sharing/share-offsite/?url={encoded}",
        f"https://wa.me/?text=Salt%20%26%20vinegar%20{encoded}",
        f"mailto:?subject=Salt%20%26%20vinegar&amp;body={encoded}",
    ]:
        assert f'href="{link}"' in html, link


def test_an_image_is_in_the_open_graph_tags_with_an_absolute_url(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    session: Session,
) -> None:
    campaign = make_campaign(slug="crisps")
    idea = make_idea(campaign, make_user(), "Pictured")
    idea.image_key = "ideas/0123456789abcdef01234567"
    session.add(idea)
    session.commit()
    html = client.get(f"/c/crisps/ideas/{idea.id}").text
    # The idea's share card (its photo, title and the brand's colours), versioned by content.
    found = re.search(r'<meta property="og:image" content="([^"]+)">', html)
    assert found is not None
    image = found.group(1)
    assert re.fullmatch(
        rf"http://testserver/c/crisps/ideas/{idea.id}/card\.png\?v=[0-9a-f]{{16}}", image
    )
    assert f'<meta name="twitter:image" content="{image}">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html


def test_a_deleted_account_shows_a_neutral_label(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    session: Session,
    clock: FrozenClock,
) -> None:
    campaign = make_campaign()
    author = make_user(name="Zoé Martin")
    idea = make_idea(campaign, author, "Orphan idea")
    author.display_name = "—"
    author.email = None
    author.deleted_at = clock.now()
    session.add(author)
    session.commit()
    html = client.get(f"/c/{campaign.slug}/ideas/{idea.id}").text
    assert "By a former member" in html and "Zoé" not in html


@pytest.mark.parametrize(
    "status", [IdeaStatus.DRAFT, IdeaStatus.PENDING, IdeaStatus.REJECTED, IdeaStatus.WITHDRAWN]
)
def test_unpublished_ideas_are_seen_only_by_their_author_and_brand_staff(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    status: str,
) -> None:
    author, stranger, moderator, jury = make_user(), make_user(), make_user(), make_user()
    other_brand_staff = make_user()
    campaign = make_campaign(staff=[(moderator, Role.MODERATOR), (jury, Role.JURY)])
    make_campaign(staff=[(other_brand_staff, Role.OWNER)])
    idea = make_idea(campaign, author, "Not yet public", status=status)
    path = f"/c/{campaign.slug}/ideas/{idea.id}"
    assert client.get(path).status_code == 404
    for viewer, allowed in [
        (stranger, False),
        (other_brand_staff, False),
        (author, True),
        (moderator, True),
        (jury, True),
        (make_user(admin=True), True),
    ]:
        client.cookies.clear()
        log_in(client, viewer)
        response = client.get(path)
        assert response.status_code == (200 if allowed else 404), viewer.display_name
        if allowed:
            assert '<meta name="robots" content="noindex">' in response.text
            assert "og:title" not in response.text and "Share this idea" not in response.text


def test_a_merged_idea_sends_visitors_to_the_idea_it_joined(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    session: Session,
) -> None:
    campaign = make_campaign()
    kept = make_idea(campaign, make_user(), "The kept one")
    merged = make_idea(campaign, make_user(), "The duplicate", status=IdeaStatus.MERGED)
    merged.merged_into_id = kept.id
    session.add(merged)
    session.commit()
    response = client.get(f"/c/{campaign.slug}/ideas/{merged.id}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/c/{campaign.slug}/ideas/{kept.id}"


def test_an_idea_of_another_campaign_is_not_found_under_this_one(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, make_idea: Any
) -> None:
    one, other = make_campaign(), make_campaign()
    idea = make_idea(one, make_user(), "Elsewhere")
    assert client.get(f"/c/{other.slug}/ideas/{idea.id}").status_code == 404
    assert client.get(f"/c/{one.slug}/ideas/999999").status_code == 404
    assert client.get(f"/c/{one.slug}/ideas/99999999999999999999999").status_code == 404
    # No idea can have that id, so no route matches: not found even before the log-in check.
    assert client.get(f"/c/{one.slug}/ideas/99999999999999999999999/edit").status_code == 404


def test_similar_ideas_waiting_for_moderation_are_counted_not_shown(
    client: TestClient,
    make_campaign: MakeCampaign,
    make_user: Any,
    make_idea: Any,
    session: Session,
) -> None:
    # Pre-moderated: nobody sees a pending idea, so without a count nobody is warned that
    # the duplicate they are typing is already in the queue.
    campaign = make_campaign()
    author = make_user()
    make_idea(campaign, author, "Fraises au chocolat")
    make_idea(campaign, author, "Fraise secrète", status=IdeaStatus.PENDING)
    editing = make_idea(campaign, author, "Fraises des bois", status=IdeaStatus.PENDING)
    make_idea(campaign, author, "Fraise rejetée", status=IdeaStatus.REJECTED)
    make_idea(campaign, author, "Paprika en attente", status=IdeaStatus.PENDING)
    url = f"/c/{campaign.slug}/ideas/similar"
    fragment = client.get(url, params={"title": "Fraise"}, headers=HTMX).text
    assert "2 similar ideas are waiting for moderation." in fragment
    assert "Fraises au chocolat" in fragment
    assert "secrète" not in fragment and "des bois" not in fragment  # titles stay private
    # The idea being edited is not its own look-alike.
    params = {"title": "Fraise", "exclude": str(editing.id)}
    assert "1 similar idea is waiting for moderation." in client.get(url, params=params).text
    # Only pending look-alikes: nothing is said for another title.
    fragment = client.get(url, params={"title": "Chocolat noir"}, headers=HTMX).text
    assert "waiting for moderation" not in fragment
    # Post-moderated: pending ideas are public, listed by title, not counted as waiting.
    campaign.moderation_mode = "post"
    session.add(campaign)
    session.commit()
    fragment = client.get(url, params={"title": "Fraise"}, headers=HTMX).text
    assert "waiting for moderation" not in fragment
    assert "Fraise secrète" in fragment


def test_similar_ideas_are_approved_look_alikes_of_the_same_campaign(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, make_idea: Any
) -> None:
    campaign, other = make_campaign(), make_campaign()
    author = make_user()
    make_idea(campaign, author, "Fraises au chocolat")
    make_idea(campaign, author, "Crème brûlée")
    make_idea(campaign, author, "Paprika fumé")
    make_idea(campaign, author, "Fraise secrète", status=IdeaStatus.PENDING)
    make_idea(other, author, "Fraise d'ailleurs")
    url = f"/c/{campaign.slug}/ideas/similar"

    def similar(title: str) -> list[str]:
        response = client.get(url, params={"title": title}, headers=HTMX)
        assert response.status_code == 200
        return re.findall(r'rel="noopener">([^<]*)</a>', response.text)

    assert similar("Fraise") == ["Fraises au chocolat"]
    assert similar("creme brulee") == ["Crème brûlée"]
    assert similar("CRÈMES BRÛLÉES") == ["Crème brûlée"]
    assert similar("paprika fume") == ["Paprika fumé"]
    assert similar("pistache") == []
    assert similar("") == []
    assert similar("x" * 10_000) == []
    assert client.get(url, params={"title": "fraise", "exclude": "①"}).status_code == 200
    fragment = client.get(url, params={"title": "fraise"}, headers=HTMX).text
    assert fragment.startswith('<section class="similar"') and "<!doctype" not in fragment
    # Without htmx the same answer comes as a page with its own form.
    page = client.get(url, params={"title": "fraise"})
    assert "<!doctype html>" in page.text and "Fraises au chocolat" in page.text


def test_similar_ideas_tolerate_a_typo_and_rank_the_closest_first(
    client: TestClient, make_campaign: MakeCampaign, make_user: Any, make_idea: Any
) -> None:
    campaign = make_campaign()
    author = make_user()
    make_idea(campaign, author, "Chocolat noir et piment")
    make_idea(campaign, author, "Chocolat au lait")
    make_idea(campaign, author, "Piment d'Espelette")
    response = client.get(
        f"/c/{campaign.slug}/ideas/similar", params={"title": "chocolta noir piment"}
    )
    found = re.findall(r'rel="noopener">([^<]*)</a>', response.text)
    assert found[0] == "Chocolat noir et piment"


def test_media_paths_cannot_leave_the_media_folder(client: TestClient, settings: Any) -> None:
    (settings.data_dir / "secret.txt").write_text("TOP-SECRET-CONTENT")
    for path in [
        "/media/../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/ideas/%2e%2e/%2e%2e/secret.txt",
        "/media/..%2fsecret.txt",
        "/media/%2fetc%2fpasswd",
        "/media/ideas/nothing.jpg",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "TOP-SECRET-CONTENT" not in response.text
