"""The console's timeline of a campaign: its stages and their audited history, and the forms
that add, change, remove, move, close early, open early or extend a stage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from cocreate.brands.models import Brand
from cocreate.campaigns import details, display, service, timeline_changes, timeline_now
from cocreate.campaigns.forms import (
    StageInput,
    local_input_value,
    read_local_time,
    read_reason,
    read_stage,
)
from cocreate.campaigns.models import Campaign, Stage, StageKind
from cocreate.campaigns.page_helpers import (
    actor_id_of,
    as_page_error,
    console_url,
    load_brand,
    load_campaign,
    load_stage,
    now_of,
)
from cocreate.campaigns.timeline import stage_kind_label
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import gettext as _
from cocreate.security.access import db
from cocreate.web import redirect, render


def _stage_kinds() -> list[tuple[str, str]]:
    return [(kind.value, stage_kind_label(kind)) for kind in StageKind]


def _new_stage_values(campaign: Campaign, stages: list[Stage], now: datetime) -> dict[str, str]:
    """Suggest the next stage: from the end of the last one (or the next hour), for a week."""
    start = stages[-1].closes_at if stages else now.replace(minute=0, second=0, microsecond=0)
    start = max(start, now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    return {
        "kind": StageKind.SUBMISSION.value if not stages else StageKind.VOTING.value,
        "title": "",
        "opens_at": local_input_value(start, campaign.timezone),
        "closes_at": local_input_value(start + timedelta(days=7), campaign.timezone),
    }


def _stage_values(form: Form) -> dict[str, str]:
    return {
        "kind": form.raw("kind")[:16],
        "title": form.raw("title")[:120],
        "opens_at": form.raw("opens_at")[:40],
        "closes_at": form.raw("closes_at")[:40],
    }


def timeline_page(
    request: Request,
    brand: Brand,
    campaign: Campaign,
    *,
    errors: dict[str, str] | None = None,
    stage_errors: dict[str, str] | None = None,
    stage_values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert campaign.id is not None
    session = db(request)
    stages = service.stages_of(session=session, campaign_id=campaign.id)
    now = now_of(request)
    history = service.timeline_history(session=session, campaign_id=campaign.id)
    return render(
        request,
        "campaigns/console/timeline.html",
        {
            "brand": brand,
            "campaign": campaign,
            "rows": display.console_rows(campaign, stages, now),
            "problems": details.publish_problems(stages),
            "history": display.history_rows(history, campaign.timezone),
            "editable": service.is_editable(campaign),
            "errors": errors or {},
            "stage_errors": stage_errors or {},
            "stage_values": stage_values or _new_stage_values(campaign, stages, now),
            "stage_kinds": _stage_kinds(),
        },
        status_code=status_code,
    )


def console_timeline(request: Request) -> Response:
    brand = load_brand(request)
    return timeline_page(request, brand, load_campaign(request, brand))


def stage_add(request: Request) -> Response:
    brand = load_brand(request)
    campaign = load_campaign(request, brand)
    form = Form(form_read(request))
    data = read_stage(form, timezone=campaign.timezone)
    try:
        form.check()
        timeline_changes.add_stage(
            session=db(request),
            campaign=campaign,
            data=data,
            actor_id=actor_id_of(request),
            now=now_of(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return timeline_page(
            request,
            brand,
            campaign,
            stage_errors=exc.errors,
            stage_values=_stage_values(form),
            status_code=400,
        )
    return redirect(console_url(brand, campaign), flash=_("Stage added."), request=request)


def _stage_page(
    request: Request,
    template: str,
    brand: Brand,
    campaign: Campaign,
    stage: Stage,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    now = now_of(request)
    return render(
        request,
        template,
        {
            "brand": brand,
            "campaign": campaign,
            "stage": stage,
            "row": display.timeline_rows([stage], now, campaign.timezone)[0],
            "values": values,
            "errors": errors,
            "stage_kinds": _stage_kinds(),
            "can_edit": service.can_edit_stage(campaign, stage, now),
            "can_close": service.can_close_early(campaign, stage, now),
            "can_extend": service.can_extend(campaign, stage, now),
        },
        status_code=status_code,
    )


def stage_edit(request: Request) -> Response:
    brand = load_brand(request)
    campaign = load_campaign(request, brand)
    stage = load_stage(request, campaign)
    template = "campaigns/console/stage_edit.html"
    if request.method == "GET":
        values = {
            "kind": stage.kind,
            "title": stage.title,
            "opens_at": local_input_value(stage.opens_at, campaign.timezone),
            "closes_at": local_input_value(stage.closes_at, campaign.timezone),
        }
        return _stage_page(request, template, brand, campaign, stage, values, {})
    form = Form(form_read(request))
    data: StageInput = read_stage(form, timezone=campaign.timezone)
    try:
        form.check()
        timeline_changes.update_stage(
            session=db(request),
            campaign=campaign,
            stage=stage,
            data=data,
            actor_id=actor_id_of(request),
            now=now_of(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return _stage_page(
            request, template, brand, campaign, stage, _stage_values(form), exc.errors, 400
        )
    return redirect(console_url(brand, campaign), flash=_("Stage saved."), request=request)


def stage_remove(request: Request) -> Response:
    brand = load_brand(request)
    campaign = load_campaign(request, brand)
    stage = load_stage(request, campaign)
    try:
        timeline_changes.remove_stage(
            session=db(request),
            campaign=campaign,
            stage=stage,
            actor_id=actor_id_of(request),
            now=now_of(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return timeline_page(
            request, brand, campaign, errors=as_page_error(exc.errors), status_code=400
        )
    return redirect(console_url(brand, campaign), flash=_("Stage removed."), request=request)


def stage_move(request: Request) -> Response:
    brand = load_brand(request)
    campaign = load_campaign(request, brand)
    stage = load_stage(request, campaign)
    form = Form(form_read(request))
    direction = form.choice("direction", ["up", "down"])
    try:
        form.check()
        timeline_changes.move_stage(
            session=db(request),
            campaign=campaign,
            stage=stage,
            up=direction == "up",
            actor_id=actor_id_of(request),
            now=now_of(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return timeline_page(
            request, brand, campaign, errors=as_page_error(exc.errors), status_code=400
        )
    return redirect(console_url(brand, campaign), flash=_("Stage moved."), request=request)


def _change_now(
    request: Request,
    template: str,
    change: Callable[..., None],
    done: str,
    refusal: Callable[[Campaign, Stage], str | None],
) -> Response:
    """A timeline change that takes effect now with a reason (timeline_now.py): GET shows
    its form, or why it cannot be made; POST makes it."""
    brand = load_brand(request)
    campaign = load_campaign(request, brand)
    stage = load_stage(request, campaign)
    if request.method == "GET":
        refused = refusal(campaign, stage)
        errors = {"": refused} if refused else {}
        return _stage_page(request, template, brand, campaign, stage, {}, errors)
    form = Form(form_read(request))
    reason = read_reason(form)
    try:
        form.check()
        change(
            session=db(request),
            campaign=campaign,
            stage=stage,
            reason=reason,
            actor_id=actor_id_of(request),
            now=now_of(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        values = {"reason": reason}
        return _stage_page(request, template, brand, campaign, stage, values, exc.errors, 400)
    return redirect(console_url(brand, campaign), flash=done, request=request)


def stage_close(request: Request) -> Response:
    """Close an open stage now, with a reason (the page says when it cannot)."""
    return _change_now(
        request,
        "campaigns/console/stage_close.html",
        timeline_now.close_stage_early,
        _("The stage is closed."),
        lambda campaign, stage: None,
    )


def stage_open(request: Request) -> Response:
    """Open the next stage now (after the one before closed early), with a reason."""

    def refusal(campaign: Campaign, stage: Stage) -> str | None:
        stages = service.stages_of(session=db(request), campaign_id=campaign.id or 0)
        return service.why_not_open_early(campaign, stages, stage, now_of(request))

    return _change_now(
        request,
        "campaigns/console/stage_open.html",
        timeline_now.open_stage_early,
        _("The stage is open."),
        refusal,
    )


def stage_extend(request: Request) -> Response:
    brand = load_brand(request)
    campaign = load_campaign(request, brand)
    stage = load_stage(request, campaign)
    template = "campaigns/console/stage_extend.html"
    if request.method == "GET":
        values = {"closes_at": local_input_value(stage.closes_at, campaign.timezone)}
        return _stage_page(request, template, brand, campaign, stage, values, {})
    form = Form(form_read(request))
    closes_at = read_local_time(form, "closes_at", ZoneInfo(campaign.timezone))
    reason = read_reason(form)
    try:
        form.check()
        assert closes_at is not None
        timeline_changes.extend_stage(
            session=db(request),
            campaign=campaign,
            stage=stage,
            closes_at=closes_at,
            reason=reason,
            actor_id=actor_id_of(request),
            now=now_of(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        values = {"closes_at": form.raw("closes_at")[:40], "reason": reason}
        return _stage_page(request, template, brand, campaign, stage, values, exc.errors, 400)
    return redirect(
        console_url(brand, campaign), flash=_("The stage is extended."), request=request
    )
