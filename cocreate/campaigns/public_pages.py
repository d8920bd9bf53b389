"""The public campaign pages: the list of campaigns, a campaign's page (and its preview for
the brand), and the stylesheet of a brand colour."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.brands.models import Brand
from cocreate.campaigns import display, service
from cocreate.campaigns.models import Campaign
from cocreate.campaigns.page_helpers import load_brand, load_campaign, now_of
from cocreate.campaigns.paths import campaign_paths
from cocreate.campaigns.theme import HEX_COLOR, brand_colours, theme_css
from cocreate.campaigns.timeline import timeline_state
from cocreate.i18n import current_locale
from cocreate.i18n import gettext as _
from cocreate.images import variant_key
from cocreate.markdown import plain_text, render_markdown
from cocreate.security.access import current_user, db
from cocreate.sharing.arrivals import note_arrival, share_url
from cocreate.sharing.card import Card
from cocreate.sharing.serve import card_response, versioned
from cocreate.web import render


def home(request: Request) -> Response:
    now = now_of(request)
    cards = service.list_public_campaigns(session=db(request), now=now)
    lines = [display.card_line(card.state, now) for card in cards]
    return render(request, "campaigns/list.html", {"cards": list(zip(cards, lines, strict=True))})


def _campaign_page(
    request: Request, campaign: Campaign, brand: Brand, *, preview: bool
) -> Response:
    assert campaign.id is not None
    stages = service.stages_of(session=db(request), campaign_id=campaign.id)
    now = now_of(request)
    state = timeline_state(stages, now)
    base_url = request.app.state.settings.base_url
    cover = display.cover_url(request.app.state.storage, campaign)
    card = campaign_card(campaign, brand)
    context = {
        "campaign": campaign,
        "brand": brand,
        "preview": preview,
        "brief": render_markdown(campaign.brief),
        "rules": render_markdown(campaign.rules),
        "prizes": render_markdown(campaign.prizes),
        "rows": display.timeline_rows(stages, now, campaign.timezone),
        "countdown": display.countdown_view(state, now),
        "now_iso": now.isoformat(),
        "now_panel": display.what_you_can_do(campaign, stages, state, now),
        "canonical_url": f"{base_url}/c/{campaign.slug}",
        "share_url": share_url(
            request, f"{base_url}/c/{campaign.slug}", campaign.id, None, _user_id(request)
        ),
        "description": plain_text(campaign.summary) or plain_text(campaign.brief),
        "cover_url": cover,
        "image_url": f"{base_url}{versioned(f'/c/{campaign.slug}/card.png', card)}",
        "paths": campaign_paths(
            session=db(request),
            user=current_user(request),
            brand=brand,
            campaign=campaign,
            stages=stages,
        ),
    }
    return render(request, "campaigns/page.html", context)


def _user_id(request: Request) -> int | None:
    user = current_user(request)
    return user.id if user else None


def campaign_page(request: Request) -> Response:
    found = service.get_public_campaign(session=db(request), slug=request.path_params["slug"])
    if found is None:
        raise HTTPException(404)
    campaign, brand = found
    note_arrival(request, db(request), campaign.id or 0, None, _user_id(request))
    return _campaign_page(request, campaign, brand, preview=False)


def campaign_preview(request: Request) -> Response:
    brand = load_brand(request)
    return _campaign_page(request, load_campaign(request, brand), brand, preview=True)


def campaign_theme(request: Request) -> Response:
    color = request.path_params["color"]
    if not HEX_COLOR.fullmatch(color):
        raise HTTPException(404)
    # The address holds the colour itself, so the answer never changes: cache it for good.
    return Response(
        theme_css(color),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


def campaign_card(campaign: Campaign, brand: Brand) -> Card:
    """The picture shown with a shared link to the campaign (sharing.card)."""
    background, ink = brand_colours(campaign.primary_color)
    cover = variant_key(campaign.cover_image, "large") if campaign.cover_image else None
    return Card(
        eyebrow=brand.name,
        title=campaign.title,
        line=plain_text(campaign.summary)[:140],
        call=_("Share your ideas and vote"),
        background=background,
        ink=ink,
        picture_key=cover,
    )


def campaign_card_image(request: Request) -> Response:
    found = service.get_public_campaign(session=db(request), slug=request.path_params["slug"])
    if found is None:
        raise HTTPException(404)
    campaign, brand = found
    name = f"campaign-{campaign.id}-{current_locale()}"
    return card_response(request, request.app.state.storage, name, campaign_card(campaign, brand))
