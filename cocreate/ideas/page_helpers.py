"""What the idea pages share: loading the campaign, idea and user a request names, and the
addresses of an idea, its image and its page."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from cocreate import images
from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign
from cocreate.campaigns.service import get_public_campaign
from cocreate.ideas import service
from cocreate.ideas.models import Idea
from cocreate.integers import ID_MAX
from cocreate.security.access import current_user, db
from cocreate.storage import Storage


def load_campaign(request: Request) -> tuple[Campaign, Brand]:
    found = get_public_campaign(session=db(request), slug=request.path_params["slug"])
    if found is None:
        raise HTTPException(404)
    return found


def signed_in_user(request: Request) -> User:
    user = current_user(request)
    assert user is not None, "the route's access rule requires a signed-in user"
    return user


def load_idea(request: Request, campaign: Campaign) -> Idea:
    idea_id: int = request.path_params["idea_id"]
    if idea_id > ID_MAX:  # the column is a 32-bit integer: larger ids exist nowhere
        raise HTTPException(404)
    idea = service.get_idea(session=db(request), campaign=campaign, idea_id=idea_id)
    if idea is None:
        raise HTTPException(404)
    return idea


def storage_of(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def image_url(storage: Storage, idea: Idea, variant: str) -> str | None:
    if not idea.image_key:
        return None
    return storage.url(images.variant_key(idea.image_key, variant))


def absolute(request: Request, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    base_url: str = request.app.state.settings.base_url
    return base_url + url


def idea_path(campaign: Campaign, idea: Idea) -> str:
    return f"/c/{campaign.slug}/ideas/{idea.id}"
