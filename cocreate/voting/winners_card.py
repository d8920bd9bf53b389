"""The picture shown with a shared link to a campaign's winners (sharing.card)."""

from __future__ import annotations

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.brands.models import Brand
from cocreate.campaigns import service as campaigns
from cocreate.campaigns.models import Campaign
from cocreate.campaigns.theme import brand_colours
from cocreate.i18n import current_locale
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.images import variant_key
from cocreate.security.access import db
from cocreate.sharing.card import Card
from cocreate.sharing.serve import card_response, versioned
from cocreate.voting.results import Winners, winners


def winners_card(session: Session, campaign: Campaign, brand: Brand, found: Winners) -> Card:
    """The first winner's title and photo; with several winners, the others' titles under it."""
    first = found.ideas[0]
    idea = session.get(Idea, first.idea_id)
    background, ink = brand_colours(campaign.primary_color)
    if len(found.ideas) == 1:
        line = _("Winner of %(campaign)s") % {"campaign": campaign.title}
    else:
        line = " · ".join(row.title for row in found.ideas[1:])
    return Card(
        eyebrow=brand.name,
        title=first.title,
        line=line,
        call=_("See the winners"),
        background=background,
        ink=ink,
        picture_key=variant_key(idea.image_key, "large") if idea and idea.image_key else None,
    )


def winners_card_path(session: Session, campaign: Campaign, brand: Brand, found: Winners) -> str:
    return versioned(
        f"/c/{campaign.slug}/winners/card.png", winners_card(session, campaign, brand, found)
    )


def winners_card_image(request: Request) -> Response:
    """A card once the winners are known; before, a 404 (the winners page says why)."""
    session = db(request)
    found_campaign = campaigns.get_public_campaign(
        session=session, slug=request.path_params["slug"]
    )
    if found_campaign is None:
        raise HTTPException(404)
    campaign, brand = found_campaign
    found = winners(session=session, campaign_id=campaign.id or 0)
    if not (found.ready and found.ideas):
        raise HTTPException(404)
    card = winners_card(session, campaign, brand, found)
    name = f"winners-{campaign.id}-{current_locale()}"
    return card_response(request, request.app.state.storage, name, card)
