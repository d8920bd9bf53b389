"""The public idea pages: one idea, the gallery of a campaign's ideas, and look-alike titles
for the submission form."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.campaigns.models import Campaign
from cocreate.forms import clean_text
from cocreate.ideas import gallery as ideas_gallery
from cocreate.ideas import hooks, service
from cocreate.ideas.models import IdeaStatus
from cocreate.ideas.page_helpers import (
    absolute,
    idea_path,
    image_url,
    load_campaign,
    load_idea,
    storage_of,
)
from cocreate.ideas.search import similar_and_waiting
from cocreate.ideas.share_card import idea_card_path
from cocreate.ideas.visibility import can_view, is_publicly_visible
from cocreate.integers import ID_MAX, int_or_none
from cocreate.markdown import plain_text, render_markdown
from cocreate.security.access import current_user, db
from cocreate.sharing.arrivals import note_arrival, share_url
from cocreate.web import redirect, render

SEARCH_MAX = 100


def idea_page(request: Request) -> Response:
    campaign, brand = load_campaign(request)
    idea = load_idea(request, campaign)
    user = current_user(request)
    session = db(request)
    if not can_view(session=session, user=user, idea=idea, campaign=campaign, brand=brand):
        if idea.status == IdeaStatus.MERGED and idea.merged_into_id is not None:
            return redirect(f"/c/{campaign.slug}/ideas/{idea.merged_into_id}")
        raise HTTPException(404)  # not 403: do not tell strangers the idea exists
    storage = storage_of(request)
    author = service.author_of(session=session, idea=idea)
    author_name = author.display_name if author is not None and author.deleted_at is None else None
    now = request.app.state.clock.now()
    is_open = service.submission_open(session=session, campaign=campaign, now=now)
    large = image_url(storage, idea, "large")
    is_public = is_publicly_visible(idea, campaign)
    canonical = absolute(request, idea_path(campaign, idea))
    if is_public:
        note_arrival(request, session, campaign.id or 0, idea.id, user.id if user else None)
    context = {
        "campaign": campaign,
        "brand": brand,
        "idea": idea,
        "author_name": author_name,
        "description_html": render_markdown(idea.description),
        "summary": plain_text(idea.description) or campaign.summary,
        "image_url": large,
        "og_image": absolute(request, idea_card_path(campaign, brand, idea, author_name)),
        "canonical_url": canonical,
        "share_url": share_url(
            request, canonical, campaign.id or 0, idea.id, user.id if user else None
        ),
        "can_edit": is_open and service.can_edit(idea, user),
        "can_withdraw": service.can_withdraw(idea, user, submission_is_open=is_open),
        "is_public": is_public,
        "is_hidden": idea.hidden_at is not None,
        # Published ideas can be reported by anyone signed in but their author.
        "can_report": is_public and user is not None and user.id != idea.author_id,
    }
    # What moderation adds: credited authors, the change request, the history for staff.
    for part in hooks.page_parts():
        context |= part(session=session, idea=idea, campaign=campaign, brand=brand, user=user)
    return render(request, "ideas/idea.html", context)


def _natural(text: str) -> int | None:
    """A whole number from a query parameter, or None."""
    return int_or_none(text, minimum=0, maximum=ID_MAX)


def _gallery_query(
    request: Request, campaign: Campaign, sorts: tuple[str, ...]
) -> ideas_gallery.GalleryQuery:
    params = request.query_params
    sort = params.get("sort", "newest")
    if sort not in sorts:
        sort = "newest"
    category = params.get("category") or None
    if category not in campaign.categories:
        category = None
    search = clean_text(params.get("q", ""))[:SEARCH_MAX]
    seed = _natural(params.get("seed", ""))
    if seed is None or seed >= service.RANDOM_KEY_LIMIT:
        seed = service.random_seed() if sort == "random" else 0
    return ideas_gallery.GalleryQuery(
        campaign_id=campaign.id or 0,
        sort=sort,
        category=category,
        search=search,
        after=params.get("after") or None,
        seed=seed,
        moderation_mode=campaign.moderation_mode,
    )


def gallery_url(campaign: Campaign, query: ideas_gallery.GalleryQuery, **changes: Any) -> str:
    params: dict[str, Any] = {
        "q": query.search,
        "category": query.category or "",
        "sort": query.sort,
        "seed": query.seed if query.sort == "random" else "",
    }
    params.update(changes)
    kept = {k: v for k, v in params.items() if v not in ("", None)}
    if kept.get("sort") == "newest":
        kept.pop("sort")
    suffix = "?" + urlencode(kept) if kept else ""
    return f"/c/{campaign.slug}/ideas{suffix}"


def gallery(request: Request) -> Response:
    from cocreate.voting.gallery_counts import round_votes
    from cocreate.voting.rounds import GalleryVotes, gallery_votes

    campaign, brand = load_campaign(request)
    now = request.app.state.clock.now()
    # "Most voted" and the counts follow the open rounds' visibility: hidden counts must
    # not leak through the gallery. They are the current round's, never rounds added up.
    votes = gallery_votes(session=db(request), campaign_id=campaign.id or 0, now=now)
    sorts = tuple(s for s in ideas_gallery.SORTS if s != "votes" or votes != GalleryVotes.NOTHING)
    query = replace(
        _gallery_query(request, campaign, sorts),
        votes=round_votes(session=db(request), campaign_id=campaign.id or 0, now=now),
    )
    page = ideas_gallery.gallery_page(session=db(request), query=query)
    storage = storage_of(request)
    context = {
        "campaign": campaign,
        "brand": brand,
        "query": query,
        "ideas": page.ideas,
        "votes": page.votes,
        "thumbs": {idea.id: image_url(storage, idea, "thumb") for idea in page.ideas},
        "next_url": gallery_url(campaign, query, after=page.next_cursor)
        if page.next_cursor
        else None,
        "first_url": gallery_url(campaign, query),
        "is_later_page": query.after is not None,
        "sorts": sorts,
        "show_votes": votes == GalleryVotes.COUNTS,
        "canonical_url": absolute(request, f"/c/{campaign.slug}/ideas"),
    }
    # "More ideas" asks for the next items only; the filter form asks for the whole list.
    fragment = "ideas/_gallery_items.html" if query.after else "ideas/_gallery_results.html"
    return render(request, "ideas/gallery.html", context, fragment=fragment)


def similar(request: Request) -> Response:
    campaign, _brand = load_campaign(request)
    title = clean_text(request.query_params.get("title", ""))[: service.TITLE_MAX]
    exclude = _natural(request.query_params.get("exclude", ""))
    shown, waiting = similar_and_waiting(
        session=db(request),
        campaign_id=campaign.id or 0,
        title=title,
        exclude=exclude,
        moderation_mode=campaign.moderation_mode,
    )
    context = {"campaign": campaign, "title": title, "ideas": shown, "waiting": waiting}
    return render(request, "ideas/similar.html", context, fragment="ideas/_similar.html")
