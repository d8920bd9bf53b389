"""The report form: anyone signed in may report an idea they can see, once."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate.forms import Form, form_read
from cocreate.i18n import gettext as _
from cocreate.moderation.labels import REPORT_REASONS, report_reason_label
from cocreate.moderation.page_helpers import signed_in_user
from cocreate.moderation.reports import AlreadyReported, report_idea, reportable_idea
from cocreate.moderation.rules import Refused
from cocreate.security.access import db
from cocreate.security.ratelimit import Limit
from cocreate.web import render

REPORT_LIMIT = Limit("report", "20/hour")


def report_page(request: Request) -> Response:
    user, session = signed_in_user(request), db(request)
    idea_id: int = request.path_params["idea"]
    found = reportable_idea(session=session, idea_id=idea_id)
    if found is None:
        raise HTTPException(404)
    idea, campaign = found
    context: dict[str, Any] = {
        "idea": idea,
        "campaign": campaign,
        "reasons": [(c, report_reason_label(c)) for c in REPORT_REASONS],
        "errors": {},
        "values": {},
    }
    if request.method == "GET":
        return render(request, "moderation/report.html", context)
    form = Form(form_read(request))
    reason = form.choice("reason", REPORT_REASONS)
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
        report_idea(
            session=session,
            idea=idea,
            campaign=campaign,
            reporter=user,
            reason=reason,
            note=note,
            clock=request.app.state.clock,
        )
    except AlreadyReported:
        errors = {
            "": _("You have already reported this idea. Thank you: moderators will look at it.")
        }
        return render(
            request, "moderation/report.html", {**context, "errors": errors}, status_code=409
        )
    except Refused as exc:
        return render(
            request,
            "moderation/report.html",
            {**context, "errors": {"": exc.message}},
            status_code=exc.status,
        )
    return render(request, "moderation/report_sent.html", {"idea": idea, "campaign": campaign})
