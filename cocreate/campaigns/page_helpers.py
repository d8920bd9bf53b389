"""What the campaign pages share: the time, the acting user, and the brand, campaign and stage
a request names.

Console addresses live under /brands/{brand}/campaigns so that `brand_role` checks the
visitor's role in that brand; each handler then loads the campaign *within* that brand, so
a marketer of one brand never reaches another brand's campaigns by changing the address.
"""

from __future__ import annotations

from datetime import datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request

from cocreate.brands.models import Brand
from cocreate.campaigns import service
from cocreate.campaigns.models import Campaign, Stage
from cocreate.security.access import current_user, db


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def actor_id_of(request: Request) -> int | None:
    user = current_user(request)
    return user.id if user is not None else None


def load_brand(request: Request) -> Brand:
    brand = service.get_brand(session=db(request), slug=request.path_params["brand"])
    if brand is None:
        raise HTTPException(404)
    return brand


def load_campaign(request: Request, brand: Brand) -> Campaign:
    assert brand.id is not None
    campaign = service.get_brand_campaign(
        session=db(request), brand_id=brand.id, slug=request.path_params["slug"]
    )
    if campaign is None:
        raise HTTPException(404)
    return campaign


def load_stage(request: Request, campaign: Campaign) -> Stage:
    assert campaign.id is not None
    stage_id = request.path_params["stage_id"]
    for stage in service.stages_of(session=db(request), campaign_id=campaign.id):
        if stage.id == stage_id:
            return stage
    raise HTTPException(404)


def as_page_error(errors: dict[str, str]) -> dict[str, str]:
    """Errors of a button form (no fields of its own to mark) shown at the top of the page."""
    return {"": " ".join(errors.values())}


def console_url(brand: Brand, campaign: Campaign, page: str = "timeline") -> str:
    return f"/brands/{brand.slug}/campaigns/{campaign.slug}/{page}"
