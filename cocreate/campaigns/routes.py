from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.campaigns import service
from cocreate.security.access import PUBLIC, db, route
from cocreate.web import render


async def home(request: Request) -> Response:
    campaigns = service.list_public_campaigns(session=db(request))
    return render(request, "campaigns/list.html", {"campaigns": campaigns})


async def campaign_page(request: Request) -> Response:
    found = service.get_public_campaign(session=db(request), slug=request.path_params["slug"])
    if found is None:
        raise HTTPException(404)
    campaign, brand = found
    return render(request, "campaigns/page.html", {"campaign": campaign, "brand": brand})


routes = [
    route("/", home, access=PUBLIC),
    route("/c/{slug}", campaign_page, access=PUBLIC),
]
