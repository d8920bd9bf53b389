"""The queue's item page: one idea with what a moderator needs to decide it, claimed for
them while it waits for a decision; and "next" / "previous" through the queue."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import ModerationMode
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.integers import id_param
from cocreate.markdown import render_markdown
from cocreate.moderation import claims, labels, queue
from cocreate.moderation.brand_settings import get_settings, reason_choices
from cocreate.moderation.history import credited_authors, history
from cocreate.moderation.item import item_details
from cocreate.moderation.models import Action, FlagKind
from cocreate.moderation.page_helpers import (
    base_path,
    is_owner_here,
    load_brand,
    now_of,
    queue_filter_of,
    signed_in_user,
    undo_offer,
)
from cocreate.moderation.queue_filters import QueueFilter
from cocreate.moderation.rules import ItemState, idea_in_brand, is_actionable, refusal
from cocreate.security.access import db
from cocreate.web import is_htmx_fragment_request, render


def item_response(
    request: Request,
    *,
    brand: Brand,
    idea_id: int | None,
    filters: QueueFilter,
    notice: str = "",
    error: str = "",
    status_code: int = 200,
    claim: bool = True,
    just_claimed: bool = False,
) -> Response:
    """The item page (or its fragment for htmx), claiming the item when it waits for a decision."""
    session, user, now = db(request), signed_in_user(request), now_of(request)
    context: dict[str, Any] = {
        "brand": brand,
        "filters": filters,
        "base": base_path(brand),
        "notice": notice,
        "error": error,
        "undo": undo_offer(request, brand),
        "idea": None,
    }
    found = idea_in_brand(session=session, brand=brand, idea_id=idea_id) if idea_id else None
    if idea_id is not None and found is None:
        raise HTTPException(404)
    if found is not None:
        idea, campaign = found
        owner = is_owner_here(request, brand)
        details = item_details(session=session, idea=idea)
        past = history(session=session, idea_id=idea.id or 0)
        state = ItemState(
            status=idea.status,
            open_reports=bool(details.reports),
            last_decision_automatic=bool(past and past[-1].decision.automatic),
            escalated=any(flag.kind == FlagKind.ESCALATED for flag in details.flags),
        )
        actionable = refusal(state, Action.APPROVE, actor_is_owner=owner) is None
        claimed = just_claimed
        if actionable and claim and not claimed:
            claimed = claims.claim(
                session=session, idea_id=idea_id or 0, moderator_id=user.id or 0, now=now
            )
        holder = (
            None if claimed else claims.claim_holder(session=session, idea_id=idea.id or 0, now=now)
        )
        settings = get_settings(session=session, brand_id=brand.id or 0)
        context |= {
            "idea": idea,
            "campaign": campaign,
            "description": render_markdown(idea.description),
            "details": details,
            "history": past,
            # Only an approved idea receives merged duplicates.
            "credited": credited_authors(session=session, idea_id=idea.id or 0)
            if idea.status == "approved"
            else [],
            "actionable": actionable,
            "claimed": claimed or (holder is not None and holder[0] == user.id),
            "holder": holder[1] if holder and holder[0] != user.id else None,
            "reasons": reason_choices(settings),
            "is_owner": owner,
            "flag_label": labels.flag_label,
            "action_label": labels.action_label,
            "reason_label": labels.reason_label,
            "report_reason_label": labels.report_reason_label,
            "mode_post": campaign.moderation_mode == ModerationMode.POST,
            "escalated": state.escalated,
        }
    response = render(
        request,
        "moderation/item.html",
        context,
        fragment="moderation/_item.html",
        status_code=status_code,
    )
    if is_htmx_fragment_request(request) and status_code == 200:
        target = f"{base_path(brand)}/ideas/{idea_id}" if idea_id else base_path(brand)
        response.headers["HX-Push-Url"] = target + filters.query()
    return response


def item_page(request: Request) -> Response:
    brand = load_brand(request)
    return item_response(
        request, brand=brand, idea_id=request.path_params["idea"], filters=queue_filter_of(request)
    )


def next_item(request: Request) -> Response:
    """The next item of the queue no one else is reviewing, claimed; `back=1` for previous."""
    brand, user, session = load_brand(request), signed_in_user(request), db(request)
    filters = queue_filter_of(request)
    after_id = id_param(request.query_params.get("after"))
    backwards = request.query_params.get("back") == "1"
    origin: Idea | None = None
    if after_id is not None:
        found = idea_in_brand(session=session, brand=brand, idea_id=after_id)
        origin = found[0] if found else None
    return show_neighbour(
        request, brand=brand, user=user, filters=filters, origin=origin, backwards=backwards
    )


def show_neighbour(
    request: Request,
    *,
    brand: Brand,
    user: User,
    filters: QueueFilter,
    origin: Idea | None,
    backwards: bool = False,
    notice: str = "",
) -> Response:
    session, now = db(request), now_of(request)
    for _attempt in range(5):  # someone may claim the item between our look and our claim
        idea_id = queue.neighbour(
            session=session,
            brand=brand,
            filters=filters,
            now=now,
            moderator_id=user.id or 0,
            from_idea=origin,
            backwards=backwards,
            skip_escalated=not is_owner_here(request, brand),
        )
        if idea_id is None:
            break
        if claims.claim(session=session, idea_id=idea_id, moderator_id=user.id or 0, now=now):
            return item_response(
                request,
                brand=brand,
                idea_id=idea_id,
                filters=filters,
                notice=notice,
                just_claimed=True,
            )
    if origin is not None and origin.id is not None and is_actionable(session=session, idea=origin):
        message = _("There is no earlier item.") if backwards else _("No other item is waiting.")
        return item_response(
            request, brand=brand, idea_id=origin.id, filters=filters, notice=notice or message
        )
    return item_response(request, brand=brand, idea_id=None, filters=filters, notice=notice)
