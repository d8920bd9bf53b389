"""What the jury pages share: the signed-in member, and the campaign and jury stage a request
names.

Everything is under /brands/{brand}/campaigns/{slug}/jury so `brand_role` checks the
visitor's role in that brand; the campaign, stage, idea and criterion named in a form or a
query are then looked up *within* that campaign, so a juror of one brand never reaches
another brand's jury by editing an address or a form.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, Stage
from cocreate.campaigns.page_helpers import load_brand, load_campaign
from cocreate.integers import id_param
from cocreate.jury.panel import jury_stages
from cocreate.security.access import current_user, db


def user_of(request: Request) -> User:
    user = current_user(request)
    assert user is not None  # every route here requires a signed-in member
    return user


def brand_campaign(request: Request) -> tuple[Campaign, Brand]:
    brand = load_brand(request)
    return load_campaign(request, brand), brand


def jury_stage(request: Request, campaign: Campaign, raw: str | None) -> Stage:
    """A jury stage of this campaign, by id; the first one when none is named."""
    stages = jury_stages(session=db(request), campaign_id=campaign.id or 0)
    if raw is None:
        if not stages:
            raise HTTPException(404)
        return stages[0]
    wanted = id_param(raw)
    for stage in stages:
        if stage.id == wanted:
            return stage
    raise HTTPException(404)


def jury_url(brand: Brand, campaign: Campaign) -> str:
    return f"/brands/{brand.slug}/campaigns/{campaign.slug}/jury"
