"""Decisions from the queue's pages: one idea's decision, undo, and bulk approve or reject.
Each calls one use case of `moderation.decisions` and shows the next item (or the queue)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.forms import Form, form_read
from cocreate.i18n import gettext as _
from cocreate.ideas.models import Idea
from cocreate.integers import id_param, id_params
from cocreate.moderation.decisions import bulk
from cocreate.moderation.decisions.decide import DECISIONS, decide
from cocreate.moderation.decisions.undo import undo
from cocreate.moderation.item_pages import item_response, show_neighbour
from cocreate.moderation.models import Action
from cocreate.moderation.page_helpers import (
    UNDO_KEY,
    base_path,
    decided_message,
    load_brand,
    offer_undo,
    queue_filter_of,
    signed_in_user,
)
from cocreate.moderation.rules import Refused
from cocreate.security.access import db
from cocreate.web import is_htmx_fragment_request, redirect

FORM_DECISIONS = {a.value: a for a in DECISIONS}


def decide_item(request: Request) -> Response:
    brand, user, session = load_brand(request), signed_in_user(request), db(request)
    idea_id: int = request.path_params["idea"]
    form = Form(form_read(request))
    filters = queue_filter_of(request, form)
    action = FORM_DECISIONS.get(form.raw("action"))
    note = form.text("note", max_length=2000, required=False, multiline=True)
    reason = form.raw("reason")[:200]
    if action == Action.REJECT and reason == "":
        reason = form.raw("reason_quick")[:200]
    if action is None:
        return item_response(
            request,
            brand=brand,
            idea_id=idea_id,
            filters=filters,
            error=_("Choose one of the options."),
            status_code=400,
        )
    try:
        decided = decide(
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
    except Refused as exc:
        if exc.status == 404:
            raise HTTPException(404) from None
        return item_response(
            request,
            brand=brand,
            idea_id=idea_id,
            filters=filters,
            error=exc.message,
            status_code=exc.status,
        )
    message = decided_message(action, 1, decided.idea.title)
    assert decided.decision.id is not None
    offer_undo(request, brand, [decided.decision.id], message)
    if not is_htmx_fragment_request(request):
        return redirect(f"{base_path(brand)}/next{filters.query(after=str(idea_id))}")
    return show_neighbour(request, brand=brand, user=user, filters=filters, origin=decided.idea)


def undo_decision(request: Request) -> Response:
    brand, user, session = load_brand(request), signed_in_user(request), db(request)
    form = Form(form_read(request))
    filters = queue_filter_of(request, form)
    ids = id_params(form.data.getlist("decision"))
    current = id_param(form.raw("current"))  # the item on screen, shown again if the undo fails
    undone: list[int] = []
    errors: list[str] = []
    for decision_id in ids[: bulk.BULK_LIMIT]:
        try:
            result = undo(
                session=session,
                brand=brand,
                decision_id=decision_id,
                actor=user,
                clock=request.app.state.clock,
            )
        except Refused as exc:
            errors.append(exc.message)
        else:
            undone.append(result.idea.id or 0)
    request.session.pop(UNDO_KEY, None)
    htmx = is_htmx_fragment_request(request)
    if not undone:
        error = errors[0] if errors else _("There is no such decision to undo.")
        if htmx:
            return item_response(
                request, brand=brand, idea_id=current, filters=filters, error=error, status_code=409
            )
        target = f"{base_path(brand)}/ideas/{current}" if current else base_path(brand)
        return redirect(target + filters.query(), flash=error, request=request)
    if len(undone) > 1:
        message = _("%(n)d decisions undone.") % {"n": len(undone)}
        return redirect(f"{base_path(brand)}{filters.query()}", flash=message, request=request)
    # Back to the idea, claimed again, so that the moderator can decide again.
    if htmx:
        return item_response(
            request, brand=brand, idea_id=undone[0], filters=filters, notice=_("Undone.")
        )
    target = f"{base_path(brand)}/ideas/{undone[0]}{filters.query()}"
    return redirect(target, flash=_("Undone."), request=request)


def bulk_decide(request: Request) -> Response:
    brand, user, session = load_brand(request), signed_in_user(request), db(request)
    form = Form(form_read(request))
    filters = queue_filter_of(request, form)
    ids = id_params(form.data.getlist("idea"))
    action = {"approve": Action.APPROVE, "reject": Action.REJECT}.get(form.raw("bulk_action"))
    back = f"{base_path(brand)}{filters.query()}"
    if action is None:
        return redirect(back, flash=_("Choose one of the options."), request=request)
    try:
        result = bulk.bulk_decide(
            session=session,
            brand=brand,
            idea_ids=ids,
            actor=user,
            action=action,
            reason=form.raw("reason")[:200],
            base_url=request.app.state.settings.base_url,
            clock=request.app.state.clock,
        )
    except Refused as exc:
        return redirect(back, flash=exc.message, request=request)
    if result.decided:
        message = decided_message(action, len(result.decided), "")
        if len(result.decided) == 1:
            idea = session.get(Idea, result.decided[0].idea_id)
            message = decided_message(action, 1, idea.title if idea else "")
        offer_undo(request, brand, [d.id for d in result.decided if d.id is not None], message)
    if result.refused:
        redirect_response = redirect(
            back,
            flash=_("%(n)d ideas were not changed: %(why)s")
            % {"n": len(result.refused), "why": result.refused[0][1]},
            request=request,
        )
        return redirect_response
    return redirect(back)
