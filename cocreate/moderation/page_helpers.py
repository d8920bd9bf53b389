"""What the moderation pages share: the brand, moderator and filters a request names, and
the undo offer that follows a decision to the next page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.brands.service import get_brand_by_slug
from cocreate.forms import Form
from cocreate.i18n import gettext as _
from cocreate.moderation.models import Action
from cocreate.moderation.queue_filters import QueueFilter
from cocreate.moderation.rules import UNDO_SECONDS, is_owner
from cocreate.security.access import current_user, db

UNDO_KEY = "moderation_undo"


def load_brand(request: Request) -> Brand:
    brand = get_brand_by_slug(session=db(request), slug=request.path_params["brand"])
    if brand is None:
        raise HTTPException(404)
    return brand


def signed_in_user(request: Request) -> User:
    user = current_user(request)
    assert user is not None and user.id is not None  # the route's access rule signed them in
    return user


def is_owner_here(request: Request, brand: Brand) -> bool:
    """Whether the signed-in person may decide escalated ideas (asked once per request)."""
    found = getattr(request.state, "moderation_owner", None)
    if found is None:
        found = is_owner(session=db(request), user=signed_in_user(request), brand=brand)
        request.state.moderation_owner = found
    return bool(found)


def now_of(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def base_path(brand: Brand) -> str:
    return f"/brands/{brand.slug}/moderation"


def queue_filter_of(request: Request, form: Form | None = None) -> QueueFilter:
    if form is not None:
        return QueueFilter.from_params(
            {k: form.raw(k) for k in ("view", "campaign", "flag", "age")}
        )
    return QueueFilter.from_params(request.query_params)


# Undo offers live in the session: the next page (or fragment) shows the button.


def offer_undo(request: Request, brand: Brand, decision_ids: list[int], message: str) -> None:
    request.session[UNDO_KEY] = {
        "brand": brand.slug,
        "ids": decision_ids,
        "at": now_of(request).isoformat(),
        "message": message,
    }


def undo_offer(request: Request, brand: Brand) -> dict[str, Any] | None:
    offer = request.session.get(UNDO_KEY)
    if not isinstance(offer, dict) or offer.get("brand") != brand.slug:
        return None
    try:
        at = datetime.fromisoformat(str(offer["at"]))
    except (KeyError, ValueError):
        return None
    left = UNDO_SECONDS - (now_of(request) - at).total_seconds()
    if left <= 0:
        request.session.pop(UNDO_KEY, None)
        return None
    ids = [i for i in offer.get("ids", []) if isinstance(i, int)]
    return {"ids": ids, "message": str(offer.get("message", "")), "seconds_left": int(left)}


def decided_message(action: Action, count: int, title: str) -> str:
    if count > 1:
        if action == Action.APPROVE:
            return _("%(n)d ideas approved.") % {"n": count}
        return _("%(n)d ideas rejected.") % {"n": count}
    messages = {
        Action.APPROVE: _("Approved: %(title)s"),
        Action.REJECT: _("Rejected: %(title)s"),
        Action.REQUEST_CHANGES: _("Sent back for changes: %(title)s"),
        Action.MERGE: _("Merged: %(title)s"),
        Action.ESCALATE: _("Escalated to the brand owner: %(title)s"),
    }
    return messages[action] % {"title": title}
