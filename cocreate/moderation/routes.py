"""Moderation pages: the queue, one item, decisions and undo, bulk, history, health, settings,
and the report form. Every page works as plain HTML forms; htmx swaps the item in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Role
from cocreate.forms import Form, form_read
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.integers import id_param, id_params, int_or_none
from cocreate.markdown import render_markdown
from cocreate.moderation import queue, service
from cocreate.moderation.models import Action, FlagKind, ModerationMode
from cocreate.security.access import SIGNED_IN, brand_role, current_user, db, route
from cocreate.security.ratelimit import Limit
from cocreate.web import is_htmx_fragment_request, redirect, render

MODERATE = brand_role(Role.OWNER, Role.MODERATOR)
STAFF = brand_role(Role.OWNER, Role.MODERATOR, Role.MARKETER)
OWNERS = brand_role(Role.OWNER)
REPORT_LIMIT = Limit("report", "20/hour")
UNDO_KEY = "moderation_undo"
DECISIONS = {a.value: a for a in (*service.SETTLING, Action.ESCALATE)}


def _brand(request: Request) -> Brand:
    brand = service.get_brand(session=db(request), slug=request.path_params["brand"])
    if brand is None:
        raise HTTPException(404)
    return brand


def _user(request: Request) -> User:
    user = current_user(request)
    assert user is not None and user.id is not None  # the route's access rule signed them in
    return user


def _is_owner(request: Request, brand: Brand) -> bool:
    """Whether the signed-in person may decide escalated ideas (asked once per request)."""
    found = getattr(request.state, "moderation_owner", None)
    if found is None:
        found = service.is_owner(session=db(request), user=_user(request), brand=brand)
        request.state.moderation_owner = found
    return bool(found)


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _base(brand: Brand) -> str:
    return f"/brands/{brand.slug}/moderation"


def _filters(request: Request, form: Form | None = None) -> queue.QueueFilter:
    if form is not None:
        return queue.QueueFilter.from_params(
            {k: form.raw(k) for k in ("view", "campaign", "flag", "age")}
        )
    return queue.QueueFilter.from_params(request.query_params)


# ---------------------------------------------------------------------------------------
# Undo offers live in the session: the next page (or fragment) shows the button.


def _offer_undo(request: Request, brand: Brand, decision_ids: list[int], message: str) -> None:
    request.session[UNDO_KEY] = {
        "brand": brand.slug,
        "ids": decision_ids,
        "at": _now(request).isoformat(),
        "message": message,
    }


def _undo_offer(request: Request, brand: Brand) -> dict[str, Any] | None:
    offer = request.session.get(UNDO_KEY)
    if not isinstance(offer, dict) or offer.get("brand") != brand.slug:
        return None
    try:
        at = datetime.fromisoformat(str(offer["at"]))
    except (KeyError, ValueError):
        return None
    left = service.UNDO_SECONDS - (_now(request) - at).total_seconds()
    if left <= 0:
        request.session.pop(UNDO_KEY, None)
        return None
    ids = [i for i in offer.get("ids", []) if isinstance(i, int)]
    return {"ids": ids, "message": str(offer.get("message", "")), "seconds_left": int(left)}


def _decided_message(action: Action, count: int, title: str) -> str:
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


# ---------------------------------------------------------------------------------------
# The queue


def queue_page(request: Request) -> Response:
    brand, user = _brand(request), _user(request)
    filters = _filters(request)
    page = queue.list_queue(
        session=db(request),
        brand=brand,
        filters=filters,
        now=_now(request),
        viewer_id=user.id or 0,
        cursor=request.query_params.get("after"),
    )
    settings = service.get_settings(session=db(request), brand_id=brand.id or 0)
    context = {
        "brand": brand,
        "page": page,
        "filters": filters,
        "base": _base(brand),
        "views": queue.VIEWS,
        "view_label": queue.view_label,
        "flag_filters": queue.FLAG_FILTERS,
        "flag_filter_label": queue.flag_filter_label,
        "ages": list(queue.AGES),
        "age_label": queue.age_label,
        "flag_label": service.flag_label,
        "reasons": service.reason_choices(settings),
        "undo": _undo_offer(request, brand),
        "now": _now(request),
        "waiting_for": queue.waiting_for,
        "count_text": queue.count_text,
        "count_cap": queue.COUNT_CAP,
        "is_owner": _is_owner(request, brand),
    }
    return render(request, "moderation/queue.html", context, fragment="moderation/_queue.html")


# ---------------------------------------------------------------------------------------
# One item


def _item_response(
    request: Request,
    *,
    brand: Brand,
    idea_id: int | None,
    filters: queue.QueueFilter,
    notice: str = "",
    error: str = "",
    status_code: int = 200,
    claim: bool = True,
    just_claimed: bool = False,
) -> Response:
    """The item page (or its fragment for htmx), claiming the item when it waits for a decision."""
    session, user, now = db(request), _user(request), _now(request)
    context: dict[str, Any] = {
        "brand": brand,
        "filters": filters,
        "base": _base(brand),
        "notice": notice,
        "error": error,
        "undo": _undo_offer(request, brand),
        "idea": None,
    }
    found = (
        service.idea_in_brand(session=session, brand=brand, idea_id=idea_id) if idea_id else None
    )
    if idea_id is not None and found is None:
        raise HTTPException(404)
    if found is not None:
        idea, campaign = found
        owner = _is_owner(request, brand)
        details = queue.item_details(session=session, idea=idea)
        history = queue.history(session=session, idea_id=idea.id or 0)
        state = service.ItemState(
            status=idea.status,
            open_reports=bool(details.reports),
            last_decision_automatic=bool(history and history[-1].decision.automatic),
            escalated=any(flag.kind == FlagKind.ESCALATED for flag in details.flags),
        )
        actionable = service.refusal(state, Action.APPROVE, actor_is_owner=owner) is None
        claimed = just_claimed
        if actionable and claim and not claimed:
            claimed = service.claim(
                session=session, idea_id=idea_id or 0, moderator_id=user.id or 0, now=now
            )
        holder = (
            None
            if claimed
            else service.claim_holder(session=session, idea_id=idea.id or 0, now=now)
        )
        settings = service.get_settings(session=session, brand_id=brand.id or 0)
        context |= {
            "idea": idea,
            "campaign": campaign,
            "description": render_markdown(idea.description),
            "details": details,
            "history": history,
            # Only an approved idea receives merged duplicates.
            "credited": service.credited_authors(session=session, idea_id=idea.id or 0)
            if idea.status == "approved"
            else [],
            "actionable": actionable,
            "claimed": claimed or (holder is not None and holder[0] == user.id),
            "holder": holder[1] if holder and holder[0] != user.id else None,
            "reasons": service.reason_choices(settings),
            "is_owner": owner,
            "flag_label": service.flag_label,
            "action_label": service.action_label,
            "reason_label": service.reason_label,
            "report_reason_label": service.report_reason_label,
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
        target = f"{_base(brand)}/ideas/{idea_id}" if idea_id else _base(brand)
        response.headers["HX-Push-Url"] = target + filters.query()
    return response


def item_page(request: Request) -> Response:
    brand = _brand(request)
    return _item_response(
        request, brand=brand, idea_id=request.path_params["idea"], filters=_filters(request)
    )


def next_item(request: Request) -> Response:
    """The next item of the queue no one else is reviewing, claimed; `back=1` for previous."""
    brand, user, session = _brand(request), _user(request), db(request)
    filters = _filters(request)
    after_id = id_param(request.query_params.get("after"))
    backwards = request.query_params.get("back") == "1"
    origin: Idea | None = None
    if after_id is not None:
        found = service.idea_in_brand(session=session, brand=brand, idea_id=after_id)
        origin = found[0] if found else None
    return _show_neighbour(
        request, brand=brand, user=user, filters=filters, origin=origin, backwards=backwards
    )


def _show_neighbour(
    request: Request,
    *,
    brand: Brand,
    user: User,
    filters: queue.QueueFilter,
    origin: Idea | None,
    backwards: bool = False,
    notice: str = "",
) -> Response:
    session, now = db(request), _now(request)
    for _attempt in range(5):  # someone may claim the item between our look and our claim
        idea_id = queue.neighbour(
            session=session,
            brand=brand,
            filters=filters,
            now=now,
            moderator_id=user.id or 0,
            from_idea=origin,
            backwards=backwards,
            skip_escalated=not _is_owner(request, brand),
        )
        if idea_id is None:
            break
        if service.claim(session=session, idea_id=idea_id, moderator_id=user.id or 0, now=now):
            return _item_response(
                request,
                brand=brand,
                idea_id=idea_id,
                filters=filters,
                notice=notice,
                just_claimed=True,
            )
    if (
        origin is not None
        and origin.id is not None
        and service.is_actionable(session=session, idea=origin)
    ):
        message = _("There is no earlier item.") if backwards else _("No other item is waiting.")
        return _item_response(
            request, brand=brand, idea_id=origin.id, filters=filters, notice=notice or message
        )
    return _item_response(request, brand=brand, idea_id=None, filters=filters, notice=notice)


def decide_item(request: Request) -> Response:
    brand, user, session = _brand(request), _user(request), db(request)
    idea_id: int = request.path_params["idea"]
    form = Form(form_read(request))
    filters = _filters(request, form)
    action = DECISIONS.get(form.raw("action"))
    note = form.text("note", max_length=2000, required=False, multiline=True)
    reason = form.raw("reason")[:200]
    if action == Action.REJECT and reason == "":
        reason = form.raw("reason_quick")[:200]
    if action is None:
        return _item_response(
            request,
            brand=brand,
            idea_id=idea_id,
            filters=filters,
            error=_("Choose one of the options."),
            status_code=400,
        )
    try:
        decided = service.decide(
            session=session,
            brand=brand,
            idea_id=idea_id,
            actor=user,
            action=action,
            reason=reason,
            note=note,
            merge_into_id=id_param(form.raw("merge_into")),
            base_url=request.app.state.settings.base_url,
            clock=request.app.state.clock,
        )
    except service.Refused as exc:
        if exc.status == 404:
            raise HTTPException(404) from None
        return _item_response(
            request,
            brand=brand,
            idea_id=idea_id,
            filters=filters,
            error=exc.message,
            status_code=exc.status,
        )
    message = _decided_message(action, 1, decided.idea.title)
    assert decided.decision.id is not None
    _offer_undo(request, brand, [decided.decision.id], message)
    if not is_htmx_fragment_request(request):
        return redirect(f"{_base(brand)}/next{filters.query(after=str(idea_id))}")
    return _show_neighbour(request, brand=brand, user=user, filters=filters, origin=decided.idea)


def undo_decision(request: Request) -> Response:
    brand, user, session = _brand(request), _user(request), db(request)
    form = Form(form_read(request))
    filters = _filters(request, form)
    ids = id_params(form.data.getlist("decision"))
    current = id_param(form.raw("current"))  # the item on screen, shown again if the undo fails
    undone: list[int] = []
    errors: list[str] = []
    for decision_id in ids[: service.BULK_LIMIT]:
        try:
            result = service.undo(
                session=session,
                brand=brand,
                decision_id=decision_id,
                actor=user,
                clock=request.app.state.clock,
            )
        except service.Refused as exc:
            errors.append(exc.message)
        else:
            undone.append(result.idea.id or 0)
    request.session.pop(UNDO_KEY, None)
    htmx = is_htmx_fragment_request(request)
    if not undone:
        error = errors[0] if errors else _("There is no such decision to undo.")
        if htmx:
            return _item_response(
                request, brand=brand, idea_id=current, filters=filters, error=error, status_code=409
            )
        target = f"{_base(brand)}/ideas/{current}" if current else _base(brand)
        return redirect(target + filters.query(), flash=error, request=request)
    if len(undone) > 1:
        message = _("%(n)d decisions undone.") % {"n": len(undone)}
        return redirect(f"{_base(brand)}{filters.query()}", flash=message, request=request)
    # Back to the idea, claimed again, so that the moderator can decide again.
    if htmx:
        return _item_response(
            request, brand=brand, idea_id=undone[0], filters=filters, notice=_("Undone.")
        )
    target = f"{_base(brand)}/ideas/{undone[0]}{filters.query()}"
    return redirect(target, flash=_("Undone."), request=request)


def bulk_decide(request: Request) -> Response:
    brand, user, session = _brand(request), _user(request), db(request)
    form = Form(form_read(request))
    filters = _filters(request, form)
    ids = id_params(form.data.getlist("idea"))
    action = {"approve": Action.APPROVE, "reject": Action.REJECT}.get(form.raw("bulk_action"))
    back = f"{_base(brand)}{filters.query()}"
    if action is None:
        return redirect(back, flash=_("Choose one of the options."), request=request)
    try:
        result = service.bulk_decide(
            session=session,
            brand=brand,
            idea_ids=ids,
            actor=user,
            action=action,
            reason=form.raw("reason")[:200],
            base_url=request.app.state.settings.base_url,
            clock=request.app.state.clock,
        )
    except service.Refused as exc:
        return redirect(back, flash=exc.message, request=request)
    if result.decided:
        message = _decided_message(action, len(result.decided), "")
        if len(result.decided) == 1:
            idea = session.get(Idea, result.decided[0].idea_id)
            message = _decided_message(action, 1, idea.title if idea else "")
        _offer_undo(request, brand, [d.id for d in result.decided if d.id is not None], message)
    if result.refused:
        redirect_response = redirect(
            back,
            flash=_("%(n)d ideas were not changed: %(why)s")
            % {"n": len(result.refused), "why": result.refused[0][1]},
            request=request,
        )
        return redirect_response
    return redirect(back)


# ---------------------------------------------------------------------------------------
# History, health, settings


def history_fragment(request: Request) -> Response:
    """The decisions on one idea, for brand staff (the idea page includes this fragment)."""
    brand = _brand(request)
    idea_id: int = request.path_params["idea"]
    found = service.idea_in_brand(session=db(request), brand=brand, idea_id=idea_id)
    if found is None:
        raise HTTPException(404)
    context = {
        "brand": brand,
        "idea": found[0],
        "history": queue.history(session=db(request), idea_id=idea_id),
        "action_label": service.action_label,
        "reason_label": service.reason_label,
    }
    return render(request, "moderation/history.html", context, fragment="moderation/_history.html")


def health_page(request: Request) -> Response:
    brand = _brand(request)
    now = _now(request)
    report = queue.health(session=db(request), brand=brand, now=now)
    context = {
        "brand": brand,
        "health": report,
        "now": now,
        "base": _base(brand),
        "waiting_for": queue.waiting_for,
        "duration_text": queue.duration_text,
    }
    return render(request, "moderation/health.html", context)


def _lines(text: str, *, max_items: int = 500, max_length: int = 200) -> list[str]:
    seen: dict[str, None] = {}
    for line in text.splitlines():
        cleaned = " ".join(line.split())[:max_length]
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)[:max_items]


def settings_page(request: Request) -> Response:
    brand, user, session = _brand(request), _user(request), db(request)
    settings = service.get_settings(session=session, brand_id=brand.id or 0)
    campaigns = queue.brand_campaigns(session=session, brand=brand)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = Form(form_read(request))
        threshold_text = form.raw("report_threshold").strip()
        threshold = int_or_none(threshold_text, minimum=1, maximum=1000)
        if threshold is None:
            errors["report_threshold"] = _("Enter a whole number from 1 to 1000.")
        blocklist = _lines(form.text("blocklist", max_length=20000, required=False, multiline=True))
        custom = _lines(
            form.text("custom_reasons", max_length=5000, required=False, multiline=True),
            max_items=30,
        )
        builtin = [v for v in form.data.getlist("builtin_reasons") if isinstance(v, str)]
        if not custom and not any(code in service.BUILTIN_REASONS for code in builtin):
            errors["custom_reasons"] = _("Keep at least one reason for rejections.")
        modes = {}
        for campaign in campaigns:
            value = form.raw(f"mode_{campaign.id}")
            if value in service.MODES and campaign.id is not None:
                modes[campaign.id] = value
        errors |= form.errors
        if not errors:
            service.save_settings(
                session=session,
                brand=brand,
                actor=user,
                auto_reject_spam=form.raw("auto_reject_spam") == "yes",
                report_threshold=threshold or 1,
                blocklist=blocklist,
                builtin_reasons=builtin,
                custom_reasons=custom,
                campaign_modes=modes,
                clock=request.app.state.clock,
            )
            return redirect(
                f"{_base(brand)}/settings", flash=_("Moderation settings saved."), request=request
            )
    context = {
        "brand": brand,
        "settings": settings,
        "campaigns": campaigns,
        "builtin_reasons": [(c, service.builtin_reason_label(c)) for c in service.BUILTIN_REASONS],
        "errors": errors,
        "base": _base(brand),
    }
    return render(request, "moderation/settings.html", context, status_code=400 if errors else 200)


# ---------------------------------------------------------------------------------------
# Reports from the public


def report_page(request: Request) -> Response:
    user, session = _user(request), db(request)
    idea_id: int = request.path_params["idea"]
    found = service.reportable_idea(session=session, idea_id=idea_id)
    if found is None:
        raise HTTPException(404)
    idea, campaign = found
    context: dict[str, Any] = {
        "idea": idea,
        "campaign": campaign,
        "reasons": [(c, service.report_reason_label(c)) for c in service.REPORT_REASONS],
        "errors": {},
        "values": {},
    }
    if request.method == "GET":
        return render(request, "moderation/report.html", context)
    form = Form(form_read(request))
    reason = form.choice("reason", service.REPORT_REASONS)
    note = form.text("note", max_length=500, required=False, multiline=True)
    context["values"] = {"reason": reason, "note": note}
    if form.errors:
        return render(
            request, "moderation/report.html", {**context, "errors": form.errors}, status_code=400
        )
    if not request.app.state.rate_limiter.hit(REPORT_LIMIT, str(user.id)):
        errors = {"": _("You have sent many reports. Please wait a while before sending more.")}
        return render(
            request, "moderation/report.html", {**context, "errors": errors}, status_code=429
        )
    try:
        service.report_idea(
            session=session,
            idea=idea,
            campaign=campaign,
            reporter=user,
            reason=reason,
            note=note,
            clock=request.app.state.clock,
        )
    except service.AlreadyReported:
        errors = {
            "": _("You have already reported this idea. Thank you: moderators will look at it.")
        }
        return render(
            request, "moderation/report.html", {**context, "errors": errors}, status_code=409
        )
    except service.Refused as exc:
        return render(
            request,
            "moderation/report.html",
            {**context, "errors": {"": exc.message}},
            status_code=exc.status,
        )
    return render(request, "moderation/report_sent.html", {"idea": idea, "campaign": campaign})


routes = [
    route("/brands/{brand}/moderation", queue_page, access=MODERATE),
    route("/brands/{brand}/moderation/next", next_item, access=MODERATE),
    route("/brands/{brand}/moderation/ideas/{idea:id}", item_page, access=MODERATE),
    route(
        "/brands/{brand}/moderation/ideas/{idea:id}/decide",
        decide_item,
        access=MODERATE,
        methods=["POST"],
    ),
    route("/brands/{brand}/moderation/undo", undo_decision, access=MODERATE, methods=["POST"]),
    route("/brands/{brand}/moderation/bulk", bulk_decide, access=MODERATE, methods=["POST"]),
    route("/brands/{brand}/moderation/ideas/{idea:id}/history", history_fragment, access=STAFF),
    route("/brands/{brand}/moderation/health", health_page, access=MODERATE),
    route(
        "/brands/{brand}/moderation/settings",
        settings_page,
        access=OWNERS,
        methods=["GET", "POST"],
    ),
    route("/ideas/{idea:id}/report", report_page, access=SIGNED_IN, methods=["GET", "POST"]),
]
