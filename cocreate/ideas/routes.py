"""The ideas feature's addresses: submit and edit, the author's list, the gallery and idea pages
(handlers in form_pages.py and public_pages.py)."""

from __future__ import annotations

from starlette.requests import Request

from cocreate.ideas.form_pages import edit_idea, my_ideas, new_idea, withdraw_idea
from cocreate.ideas.permissions import IDEA_AUTHOR
from cocreate.ideas.public_pages import gallery, idea_page, similar
from cocreate.ideas.share_card import idea_card_image
from cocreate.ideas.visibility import image_audience as idea_image_audience
from cocreate.security.access import PUBLIC, SIGNED_IN, VERIFIED, current_user, db, route
from cocreate.storage import Audience


def image_audience(request: Request, image_key: str) -> Audience:
    """The media route's rule for files under `ideas/` (see storage.serve_media)."""
    return idea_image_audience(
        session=db(request), image_key=image_key, user=lambda: current_user(request)
    )


routes = [
    route("/c/{slug}/ideas", gallery, access=PUBLIC),
    route("/c/{slug}/ideas/new", new_idea, access=VERIFIED, methods=["GET", "POST"], costly=True),
    route("/c/{slug}/ideas/similar", similar, access=PUBLIC),
    route("/c/{slug}/ideas/{idea_id:id}", idea_page, access=PUBLIC),
    route("/c/{slug}/ideas/{idea_id:id}/card.png", idea_card_image, access=PUBLIC),
    route(
        "/c/{slug}/ideas/{idea_id:id}/edit",
        edit_idea,
        access=IDEA_AUTHOR,
        methods=["GET", "POST"],
        costly=True,
    ),
    route(
        "/c/{slug}/ideas/{idea_id:id}/withdraw",
        withdraw_idea,
        access=IDEA_AUTHOR,
        methods=["GET", "POST"],
    ),
    route("/me/ideas", my_ideas, access=SIGNED_IN),
]
