"""The jury's decision on a certified round's undecided ideas (a tie at the cut, or a round
the jury picks from): the use case is the results feature's (`results.decisions`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cocreate.campaigns.page_helpers import now_of
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import gettext as _
from cocreate.integers import id_or_none, id_params
from cocreate.jury.jury_page import render_jury_page
from cocreate.jury.page_helpers import brand_campaign, jury_url, user_of
from cocreate.jury.panel import is_juror
from cocreate.results.decisions import decide_advancement
from cocreate.results.rounds import campaign_rounds
from cocreate.security.access import db
from cocreate.web import redirect


def decide(request: Request) -> Response:
    campaign, brand = brand_campaign(request)
    session = db(request)
    form = Form(form_read(request))
    raw_round = id_or_none(form.raw("round_id"))
    info = next(
        (
            i
            for i in campaign_rounds(session=session, campaign_id=campaign.id or 0)
            if i.round.id == raw_round
        ),
        None,
    )
    chosen = id_params(form.data.getlist("idea"))
    try:
        if info is None:
            raise ValidationFailed({"": _("This round does not exist any more: reload the page.")})
        user = user_of(request)
        if not is_juror(session=session, brand_id=brand.id or 0, user=user):
            raise ValidationFailed({"": _("Only members of the brand's jury decide.")})
        decide_advancement(
            session=session, round_=info.round, chosen=chosen, actor_id=user.id, now=now_of(request)
        )
    except ValidationFailed as exc:
        session.rollback()
        return render_jury_page(request, campaign, brand, errors=exc.errors, status_code=400)
    return redirect(
        jury_url(brand, campaign), flash=_("The jury's decision is recorded."), request=request
    )
