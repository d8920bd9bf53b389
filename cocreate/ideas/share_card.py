"""The picture shown with a shared link to an idea (sharing.card), and its address."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign
from cocreate.campaigns.theme import brand_colours
from cocreate.i18n import current_locale
from cocreate.i18n import gettext as _
from cocreate.ideas import service
from cocreate.ideas.models import Idea
from cocreate.ideas.page_helpers import idea_path, load_campaign, load_idea, storage_of
from cocreate.ideas.visibility import is_publicly_visible
from cocreate.images import variant_key
from cocreate.security.access import db
from cocreate.sharing.card import Card
from cocreate.sharing.serve import card_response, versioned


def idea_card(campaign: Campaign, brand: Brand, idea: Idea, author_name: str | None) -> Card:
    background, ink = brand_colours(campaign.primary_color)
    line = campaign.title
    if author_name:
        line = _("%(campaign)s · by %(name)s") % {"campaign": campaign.title, "name": author_name}
    return Card(
        eyebrow=brand.name,
        title=idea.title,
        line=line,
        call=_("See the idea and support it"),
        background=background,
        ink=ink,
        picture_key=variant_key(idea.image_key, "large") if idea.image_key else None,
    )


def idea_card_path(campaign: Campaign, brand: Brand, idea: Idea, author_name: str | None) -> str:
    """The card's address, versioned by what it shows."""
    card = idea_card(campaign, brand, idea, author_name)
    return versioned(f"{idea_path(campaign, idea)}/card.png", card)


def idea_card_image(request: Request) -> Response:
    """Only a public idea has a card: for anyone else's the address is a 404, as its page."""
    campaign, brand = load_campaign(request)
    idea = load_idea(request, campaign)
    if not is_publicly_visible(idea, campaign):
        raise HTTPException(404)
    author = service.author_of(session=db(request), idea=idea)
    name = author.display_name if author is not None and author.deleted_at is None else None
    card = idea_card(campaign, brand, idea, name)
    key = f"idea-{idea.id}-{current_locale()}"
    return card_response(request, storage_of(request), key, card)
