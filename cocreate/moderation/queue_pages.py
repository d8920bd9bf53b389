"""The queue's list page, an idea's decision history, and the queue's health."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.moderation import labels, queue, queue_filters
from cocreate.moderation.brand_settings import get_settings, reason_choices
from cocreate.moderation.health import health
from cocreate.moderation.history import history
from cocreate.moderation.page_helpers import (
    base_path,
    is_owner_here,
    load_brand,
    now_of,
    queue_filter_of,
    signed_in_user,
    undo_offer,
)
from cocreate.moderation.rules import idea_in_brand
from cocreate.security.access import db
from cocreate.web import render


def queue_page(request: Request) -> Response:
    brand, user = load_brand(request), signed_in_user(request)
    filters = queue_filter_of(request)
    page = queue.list_queue(
        session=db(request),
        brand=brand,
        filters=filters,
        now=now_of(request),
        viewer_id=user.id or 0,
        cursor=request.query_params.get("after"),
    )
    settings = get_settings(session=db(request), brand_id=brand.id or 0)
    context = {
        "brand": brand,
        "page": page,
        "filters": filters,
        "base": base_path(brand),
        "views": queue_filters.VIEWS,
        "view_label": queue_filters.view_label,
        "flag_filters": queue_filters.FLAG_FILTERS,
        "flag_filter_label": queue_filters.flag_filter_label,
        "ages": list(queue_filters.AGES),
        "age_label": queue_filters.age_label,
        "flag_label": labels.flag_label,
        "reasons": reason_choices(settings),
        "undo": undo_offer(request, brand),
        "now": now_of(request),
        "waiting_for": labels.waiting_for,
        "count_text": queue.count_text,
        "count_cap": queue.COUNT_CAP,
        "is_owner": is_owner_here(request, brand),
    }
    return render(request, "moderation/queue.html", context, fragment="moderation/_queue.html")


def history_fragment(request: Request) -> Response:
    """The decisions on one idea, for brand staff (the idea page includes this fragment)."""
    brand = load_brand(request)
    idea_id: int = request.path_params["idea"]
    found = idea_in_brand(session=db(request), brand=brand, idea_id=idea_id)
    if found is None:
        raise HTTPException(404)
    context = {
        "brand": brand,
        "idea": found[0],
        "history": history(session=db(request), idea_id=idea_id),
        "action_label": labels.action_label,
        "reason_label": labels.reason_label,
    }
    return render(request, "moderation/history.html", context, fragment="moderation/_history.html")


def health_page(request: Request) -> Response:
    brand = load_brand(request)
    now = now_of(request)
    report = health(session=db(request), brand=brand, now=now)
    context = {
        "brand": brand,
        "health": report,
        "now": now,
        "base": base_path(brand),
        "waiting_for": labels.waiting_for,
        "duration_text": labels.duration_text,
    }
    return render(request, "moderation/health.html", context)
