"""The campaigns feature's addresses: the public list and campaign pages, and the brand's
campaign console (handlers in public_pages.py, console_pages.py and timeline_pages.py)."""

from __future__ import annotations

from starlette.requests import Request

from cocreate.brands.models import Role
from cocreate.campaigns import paths, service
from cocreate.campaigns.console_pages import console_edit, console_list, console_new, console_status
from cocreate.campaigns.public_pages import (
    campaign_card_image,
    campaign_page,
    campaign_preview,
    campaign_theme,
    home,
)
from cocreate.campaigns.timeline_pages import (
    console_timeline,
    stage_add,
    stage_close,
    stage_edit,
    stage_extend,
    stage_move,
    stage_open,
    stage_remove,
)
from cocreate.security.access import PUBLIC, brand_role, current_user, db, route
from cocreate.storage import Audience

paths.register()  # the header's links to consoles and jury pages
RUN_CAMPAIGNS = brand_role(Role.OWNER, Role.MARKETER)
BRAND_MEMBERS = brand_role(Role.OWNER, Role.MARKETER, Role.MODERATOR, Role.JURY)


def cover_audience(request: Request, cover_key: str) -> Audience:
    """The media route's rule for files under `covers/` (see storage.serve_media)."""
    return service.cover_audience(
        session=db(request), cover_key=cover_key, user=lambda: current_user(request)
    )


routes = [
    route("/", home, access=PUBLIC),
    route("/c/{slug}", campaign_page, access=PUBLIC),
    route("/c/{slug}/card.png", campaign_card_image, access=PUBLIC),
    route("/theme/{color}.css", campaign_theme, access=PUBLIC),
    route("/brands/{brand}/campaigns", console_list, access=RUN_CAMPAIGNS),
    route(
        "/brands/{brand}/campaigns/new",
        console_new,
        access=RUN_CAMPAIGNS,
        methods=["GET", "POST"],
        costly=True,
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/edit",
        console_edit,
        access=RUN_CAMPAIGNS,
        methods=["GET", "POST"],
        costly=True,
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/status",
        console_status,
        access=RUN_CAMPAIGNS,
        methods=["POST"],
    ),
    route("/brands/{brand}/campaigns/{slug}/timeline", console_timeline, access=RUN_CAMPAIGNS),
    route("/brands/{brand}/campaigns/{slug}/preview", campaign_preview, access=BRAND_MEMBERS),
    route(
        "/brands/{brand}/campaigns/{slug}/stages", stage_add, access=RUN_CAMPAIGNS, methods=["POST"]
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/stages/{stage_id:id}/edit",
        stage_edit,
        access=RUN_CAMPAIGNS,
        methods=["GET", "POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/stages/{stage_id:id}/remove",
        stage_remove,
        access=RUN_CAMPAIGNS,
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/stages/{stage_id:id}/move",
        stage_move,
        access=RUN_CAMPAIGNS,
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/stages/{stage_id:id}/close",
        stage_close,
        access=RUN_CAMPAIGNS,
        methods=["GET", "POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/stages/{stage_id:id}/open",
        stage_open,
        access=RUN_CAMPAIGNS,
        methods=["GET", "POST"],
    ),
    route(
        "/brands/{brand}/campaigns/{slug}/stages/{stage_id:id}/extend",
        stage_extend,
        access=RUN_CAMPAIGNS,
        methods=["GET", "POST"],
    ),
]
