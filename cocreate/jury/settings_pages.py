"""The marketer's forms on the jury page: add or remove a criterion, how many ideas the jury
picks, and closing the scoring."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cocreate.campaigns.page_helpers import now_of
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import gettext as _
from cocreate.integers import id_or_none, int_or_none
from cocreate.jury.finalise import finalise
from cocreate.jury.jury_page import render_jury_page
from cocreate.jury.page_helpers import brand_campaign, jury_stage, jury_url, user_of
from cocreate.jury.settings import MAX_PICKS, add_criterion, remove_criterion, set_picks
from cocreate.security.access import db
from cocreate.web import redirect


def criterion_add(request: Request) -> Response:
    campaign, brand = brand_campaign(request)
    form = Form(form_read(request))
    stage = jury_stage(request, campaign, form.raw("stage_id"))
    name = form.text("name", max_length=80)
    description = form.text("description", max_length=300, required=False)
    weight = int_or_none(form.raw("weight").strip(), minimum=1, maximum=100)
    if weight is None:
        form.errors["weight"] = _("Give a weight from 1 to 100.")
    values = {"name": name, "description": description, "weight": form.raw("weight")[:6]}
    try:
        form.check()
        assert weight is not None
        add_criterion(
            session=db(request),
            stage=stage,
            name=name,
            description=description,
            weight=weight,
            actor_id=user_of(request).id,
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return render_jury_page(
            request,
            campaign,
            brand,
            errors=exc.errors,
            values=values,
            error_stage=stage.id,
            status_code=400,
        )
    return redirect(jury_url(brand, campaign), flash=_("Criterion added."), request=request)


def criterion_remove(request: Request) -> Response:
    campaign, brand = brand_campaign(request)
    form = Form(form_read(request))
    stage = jury_stage(request, campaign, form.raw("stage_id"))
    try:
        criterion_id = id_or_none(form.raw("criterion_id"))
        if criterion_id is None:
            raise ValidationFailed({"": _("This criterion does not exist any more.")})
        remove_criterion(
            session=db(request),
            stage=stage,
            criterion_id=criterion_id,
            actor_id=user_of(request).id,
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return render_jury_page(
            request, campaign, brand, errors=exc.errors, error_stage=stage.id, status_code=400
        )
    return redirect(jury_url(brand, campaign), flash=_("Criterion removed."), request=request)


def jury_settings(request: Request) -> Response:
    campaign, brand = brand_campaign(request)
    form = Form(form_read(request))
    stage = jury_stage(request, campaign, form.raw("stage_id"))
    picks = int_or_none(form.raw("picks").strip(), minimum=1, maximum=MAX_PICKS)
    try:
        if picks is None:
            raise ValidationFailed(
                {"picks": _("Give a number from 1 to %(n)d.") % {"n": MAX_PICKS}}
            )
        set_picks(session=db(request), stage=stage, picks=picks, actor_id=user_of(request).id)
    except ValidationFailed as exc:
        db(request).rollback()
        return render_jury_page(
            request,
            campaign,
            brand,
            errors=exc.errors,
            values={"picks": form.raw("picks")[:6]},
            error_stage=stage.id,
            status_code=400,
        )
    return redirect(jury_url(brand, campaign), flash=_("Saved."), request=request)


def jury_finalise(request: Request) -> Response:
    campaign, brand = brand_campaign(request)
    form = Form(form_read(request))
    stage = jury_stage(request, campaign, form.raw("stage_id"))
    try:
        finalise(
            session=db(request),
            campaign=campaign,
            stage=stage,
            actor_id=user_of(request).id,
            now=now_of(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return render_jury_page(
            request, campaign, brand, errors=exc.errors, error_stage=stage.id, status_code=400
        )
    return redirect(
        jury_url(brand, campaign),
        flash=_("The jury's scoring is closed and its choice is published."),
        request=request,
    )
