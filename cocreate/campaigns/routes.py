"""Campaign pages: the public list and campaign page, and the brand's campaign console.

Console addresses live under /brands/{brand}/campaigns so that `brand_role` checks the
visitor's role in that brand; each handler then loads the campaign *within* that brand, so
a marketer of one brand never reaches another brand's campaigns by changing the address.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate import images
from cocreate.brands.models import Brand, Role
from cocreate.campaigns import display, service
from cocreate.campaigns.forms import (
    CampaignInput,
    StageInput,
    local_input_value,
    read_campaign,
    read_local_time,
    read_reason,
    read_stage,
    time_zones,
)
from cocreate.campaigns.models import Campaign, CampaignStatus, Stage, StageKind
from cocreate.campaigns.theme import HEX_COLOR, theme_css
from cocreate.campaigns.timeline import stage_kind_label, timeline_state
from cocreate.db import release
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import LOCALE_NAMES
from cocreate.i18n import gettext as _
from cocreate.markdown import plain_text, render_markdown
from cocreate.security.access import PUBLIC, brand_role, current_user, db, route
from cocreate.storage import Audience, Storage
from cocreate.web import redirect, render

RUN_CAMPAIGNS = brand_role(Role.OWNER, Role.MARKETER)
BRAND_MEMBERS = brand_role(Role.OWNER, Role.MARKETER, Role.MODERATOR, Role.JURY)


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


def _actor_id(request: Request) -> int | None:
    user = current_user(request)
    return user.id if user is not None else None


def cover_audience(request: Request, cover_key: str) -> Audience:
    """The media route's rule for files under `covers/` (see storage.serve_media)."""
    return service.cover_audience(
        session=db(request), cover_key=cover_key, user=lambda: current_user(request)
    )


def _brand(request: Request) -> Brand:
    brand = service.get_brand(session=db(request), slug=request.path_params["brand"])
    if brand is None:
        raise HTTPException(404)
    return brand


def _campaign(request: Request, brand: Brand) -> Campaign:
    assert brand.id is not None
    campaign = service.get_brand_campaign(
        session=db(request), brand_id=brand.id, slug=request.path_params["slug"]
    )
    if campaign is None:
        raise HTTPException(404)
    return campaign


def _stage(request: Request, campaign: Campaign) -> Stage:
    assert campaign.id is not None
    stage_id = request.path_params["stage_id"]
    for stage in service.stages_of(session=db(request), campaign_id=campaign.id):
        if stage.id == stage_id:
            return stage
    raise HTTPException(404)


def _as_page_error(errors: dict[str, str]) -> dict[str, str]:
    """Errors of a button form (no fields of its own to mark) shown at the top of the page."""
    return {"": " ".join(errors.values())}


def _console_url(brand: Brand, campaign: Campaign, page: str = "timeline") -> str:
    return f"/brands/{brand.slug}/campaigns/{campaign.slug}/{page}"


# --- Public pages ---------------------------------------------------------------------------


def home(request: Request) -> Response:
    now = _now(request)
    cards = service.list_public_campaigns(session=db(request), now=now)
    lines = [display.card_line(card.state, now) for card in cards]
    return render(request, "campaigns/list.html", {"cards": list(zip(cards, lines, strict=True))})


def _campaign_page(
    request: Request, campaign: Campaign, brand: Brand, *, preview: bool
) -> Response:
    assert campaign.id is not None
    stages = service.stages_of(session=db(request), campaign_id=campaign.id)
    now = _now(request)
    state = timeline_state(stages, now)
    base_url = request.app.state.settings.base_url
    cover = display.cover_url(request.app.state.storage, campaign)
    context = {
        "campaign": campaign,
        "brand": brand,
        "preview": preview,
        "brief": render_markdown(campaign.brief),
        "rules": render_markdown(campaign.rules),
        "prizes": render_markdown(campaign.prizes),
        "rows": display.timeline_rows(stages, now, campaign.timezone),
        "countdown": display.countdown_view(state, now),
        "now_iso": now.isoformat(),
        "now_panel": display.what_you_can_do(campaign, stages, state, now),
        "canonical_url": f"{base_url}/c/{campaign.slug}",
        "description": plain_text(campaign.summary) or plain_text(campaign.brief),
        "cover_url": cover,
        "image_url": f"{base_url}{cover}" if cover else None,
    }
    return render(request, "campaigns/page.html", context)


def campaign_page(request: Request) -> Response:
    found = service.get_public_campaign(session=db(request), slug=request.path_params["slug"])
    if found is None:
        raise HTTPException(404)
    campaign, brand = found
    return _campaign_page(request, campaign, brand, preview=False)


def campaign_preview(request: Request) -> Response:
    brand = _brand(request)
    return _campaign_page(request, _campaign(request, brand), brand, preview=True)


def campaign_theme(request: Request) -> Response:
    color = request.path_params["color"]
    if not HEX_COLOR.fullmatch(color):
        raise HTTPException(404)
    # The address holds the colour itself, so the answer never changes: cache it for good.
    return Response(
        theme_css(color),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


# --- Console: campaign details and status ----------------------------------------------------


def console_list(request: Request) -> Response:
    brand = _brand(request)
    assert brand.id is not None
    campaigns = service.brand_campaigns(session=db(request), brand_id=brand.id)
    return render(request, "campaigns/console/list.html", {"brand": brand, "campaigns": campaigns})


def _details_values(data: CampaignInput, form: Form) -> dict[str, Any]:
    return {
        "title": data.title,
        "slug": data.slug,
        "summary": data.summary,
        "brief": data.brief,
        "rules": data.rules,
        "prizes": data.prizes,
        "primary_color": data.primary_color,
        "categories": "\n".join(data.categories),
        "languages": data.languages,
        "submission_limit": form.raw("submission_limit")[:6],
        "timezone": data.timezone,
    }


def _campaign_values(campaign: Campaign) -> dict[str, Any]:
    return {
        "title": campaign.title,
        "slug": campaign.slug,
        "summary": campaign.summary,
        "brief": campaign.brief,
        "rules": campaign.rules,
        "prizes": campaign.prizes,
        "primary_color": campaign.primary_color,
        "categories": "\n".join(campaign.categories),
        "languages": campaign.languages,
        "submission_limit": str(campaign.submission_limit),
        "timezone": campaign.timezone,
    }


def _details_page(
    request: Request,
    brand: Brand,
    campaign: Campaign | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "campaigns/console/details.html",
        {
            "brand": brand,
            "campaign": campaign,
            "values": values,
            "errors": errors,
            "locale_names": LOCALE_NAMES,
            "time_zones": sorted(time_zones()),
            "cover_url": display.cover_url(request.app.state.storage, campaign)
            if campaign
            else None,
            "max_mb": images.MAX_UPLOAD_BYTES // (1024 * 1024),
        },
        status_code=status_code,
    )


def console_new(request: Request) -> Response:
    brand = _brand(request)
    if request.method == "GET":
        defaults = {
            "primary_color": brand.primary_color,
            "languages": ["en"],
            "submission_limit": "3",
            "timezone": "UTC",
        }
        return _details_page(request, brand, None, defaults, {})
    form = Form(form_read(request))
    data = read_campaign(form)
    try:
        form.check()
        campaign = service.create_campaign(
            session=db(request),
            brand=brand,
            data=data,
            actor_id=_actor_id(request),
            now=_now(request),
        )
    except ValidationFailed as exc:
        return _details_page(request, brand, None, _details_values(data, form), exc.errors, 400)
    return redirect(
        _console_url(brand, campaign),
        flash=_("Campaign created as a draft. Now add the stages of its timeline."),
        request=request,
    )


def _read_cover(request: Request, form: Form) -> images.ProcessedImage | None:
    """The uploaded cover, checked and re-encoded like idea images once the rest of the form
    is valid (an invalid form never decodes an image); errors under "cover". Raises
    images.ImagesBusy when no decode slot frees up in time."""
    upload = images.read_upload(form, "cover")
    if upload.error:
        form.errors["cover"] = upload.error
        return None
    if upload.data is None:
        return None
    if form.errors:
        form.errors["cover"] = images.choose_again_message()
        return None
    release(db(request))  # no pooled connection is held while the image decodes
    try:
        return images.process_upload(
            upload.data,
            account_id=_actor_id(request) or 0,
            policy=request.app.state.uploads,
        )
    except images.ImageRejected as exc:
        form.errors["cover"] = exc.message
        return None


def console_edit(request: Request) -> Response:
    brand = _brand(request)
    campaign = _campaign(request, brand)
    if request.method == "GET":
        return _details_page(request, brand, campaign, _campaign_values(campaign), {})
    form = Form(form_read(request))
    data = read_campaign(form)
    try:
        cover = _read_cover(request, form)
    except images.ImagesBusy as busy:
        errors = {**form.errors, "cover": busy.message}
        values = _details_values(data, form)
        response = _details_page(request, brand, campaign, values, errors, 503)
        response.headers["Retry-After"] = str(busy.retry_after)
        return response
    storage: Storage = request.app.state.storage
    old_cover = campaign.cover_image
    new_cover = None
    try:
        form.check()
        if cover is not None:
            new_cover = images.store_image(storage, cover, folder="covers")
        kept = None if form.raw("remove_cover") == "yes" else old_cover
        service.update_campaign(
            session=db(request),
            campaign=campaign,
            data=data,
            cover_image=new_cover or kept,
            actor_id=_actor_id(request),
            now=_now(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        if new_cover:
            images.delete_image(storage, new_cover)
        errors = exc.errors
        if cover is not None:
            errors = {**errors, "cover": images.choose_again_message()}
        return _details_page(request, brand, campaign, _details_values(data, form), errors, 400)
    except BaseException:
        if new_cover:
            images.delete_image(storage, new_cover)
        raise
    if old_cover and old_cover != campaign.cover_image:
        images.delete_image(storage, old_cover)
    return redirect(_console_url(brand, campaign, "edit"), flash=_("Saved."), request=request)


def console_status(request: Request) -> Response:
    brand = _brand(request)
    campaign = _campaign(request, brand)
    form = Form(form_read(request))
    to = form.choice("to", [s.value for s in CampaignStatus])
    messages = {
        CampaignStatus.PUBLISHED: _("The campaign is published: everyone can see it now."),
        CampaignStatus.ARCHIVED: _("The campaign is archived: it is hidden from the public."),
        CampaignStatus.DRAFT: _("The campaign is a draft again: only your brand can see it."),
    }
    try:
        form.check()
        service.change_status(
            session=db(request),
            campaign=campaign,
            to=CampaignStatus(to),
            actor_id=_actor_id(request),
            now=_now(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return _timeline_page(
            request, brand, campaign, errors=_as_page_error(exc.errors), status_code=400
        )
    return redirect(
        _console_url(brand, campaign), flash=messages[CampaignStatus(to)], request=request
    )


# --- Console: the timeline --------------------------------------------------------------------


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


def _timeline_page(
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
    now = _now(request)
    history = service.timeline_history(session=session, campaign_id=campaign.id)
    return render(
        request,
        "campaigns/console/timeline.html",
        {
            "brand": brand,
            "campaign": campaign,
            "rows": display.console_rows(campaign, stages, now),
            "problems": service.publish_problems(stages),
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
    brand = _brand(request)
    return _timeline_page(request, brand, _campaign(request, brand))


def stage_add(request: Request) -> Response:
    brand = _brand(request)
    campaign = _campaign(request, brand)
    form = Form(form_read(request))
    data = read_stage(form, timezone=campaign.timezone)
    try:
        form.check()
        service.add_stage(
            session=db(request),
            campaign=campaign,
            data=data,
            actor_id=_actor_id(request),
            now=_now(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return _timeline_page(
            request,
            brand,
            campaign,
            stage_errors=exc.errors,
            stage_values=_stage_values(form),
            status_code=400,
        )
    return redirect(_console_url(brand, campaign), flash=_("Stage added."), request=request)


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
    now = _now(request)
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
    brand = _brand(request)
    campaign = _campaign(request, brand)
    stage = _stage(request, campaign)
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
        service.update_stage(
            session=db(request),
            campaign=campaign,
            stage=stage,
            data=data,
            actor_id=_actor_id(request),
            now=_now(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return _stage_page(
            request, template, brand, campaign, stage, _stage_values(form), exc.errors, 400
        )
    return redirect(_console_url(brand, campaign), flash=_("Stage saved."), request=request)


def stage_remove(request: Request) -> Response:
    brand = _brand(request)
    campaign = _campaign(request, brand)
    stage = _stage(request, campaign)
    try:
        service.remove_stage(
            session=db(request),
            campaign=campaign,
            stage=stage,
            actor_id=_actor_id(request),
            now=_now(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return _timeline_page(
            request, brand, campaign, errors=_as_page_error(exc.errors), status_code=400
        )
    return redirect(_console_url(brand, campaign), flash=_("Stage removed."), request=request)


def stage_move(request: Request) -> Response:
    brand = _brand(request)
    campaign = _campaign(request, brand)
    stage = _stage(request, campaign)
    form = Form(form_read(request))
    direction = form.choice("direction", ["up", "down"])
    try:
        form.check()
        service.move_stage(
            session=db(request),
            campaign=campaign,
            stage=stage,
            up=direction == "up",
            actor_id=_actor_id(request),
            now=_now(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return _timeline_page(
            request, brand, campaign, errors=_as_page_error(exc.errors), status_code=400
        )
    return redirect(_console_url(brand, campaign), flash=_("Stage moved."), request=request)


def stage_close(request: Request) -> Response:
    brand = _brand(request)
    campaign = _campaign(request, brand)
    stage = _stage(request, campaign)
    template = "campaigns/console/stage_close.html"
    if request.method == "GET":
        return _stage_page(request, template, brand, campaign, stage, {}, {})
    form = Form(form_read(request))
    reason = read_reason(form)
    try:
        form.check()
        service.close_stage_early(
            session=db(request),
            campaign=campaign,
            stage=stage,
            reason=reason,
            actor_id=_actor_id(request),
            now=_now(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        values = {"reason": reason}
        return _stage_page(request, template, brand, campaign, stage, values, exc.errors, 400)
    return redirect(_console_url(brand, campaign), flash=_("The stage is closed."), request=request)


def stage_extend(request: Request) -> Response:
    brand = _brand(request)
    campaign = _campaign(request, brand)
    stage = _stage(request, campaign)
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
        service.extend_stage(
            session=db(request),
            campaign=campaign,
            stage=stage,
            closes_at=closes_at,
            reason=reason,
            actor_id=_actor_id(request),
            now=_now(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        values = {"closes_at": form.raw("closes_at")[:40], "reason": reason}
        return _stage_page(request, template, brand, campaign, stage, values, exc.errors, 400)
    return redirect(
        _console_url(brand, campaign), flash=_("The stage is extended."), request=request
    )


CONSOLE = "/brands/{brand}/campaigns"
STAGE = CONSOLE + "/{slug}/stages/{stage_id:id}"

routes = [
    route("/", home, access=PUBLIC),
    route("/c/{slug}", campaign_page, access=PUBLIC),
    route("/theme/{color}.css", campaign_theme, access=PUBLIC),
    route(CONSOLE, console_list, access=RUN_CAMPAIGNS),
    route(
        CONSOLE + "/new", console_new, access=RUN_CAMPAIGNS, methods=["GET", "POST"], costly=True
    ),
    route(
        CONSOLE + "/{slug}/edit",
        console_edit,
        access=RUN_CAMPAIGNS,
        methods=["GET", "POST"],
        costly=True,
    ),
    route(CONSOLE + "/{slug}/status", console_status, access=RUN_CAMPAIGNS, methods=["POST"]),
    route(CONSOLE + "/{slug}/timeline", console_timeline, access=RUN_CAMPAIGNS),
    route(CONSOLE + "/{slug}/preview", campaign_preview, access=BRAND_MEMBERS),
    route(CONSOLE + "/{slug}/stages", stage_add, access=RUN_CAMPAIGNS, methods=["POST"]),
    route(STAGE + "/edit", stage_edit, access=RUN_CAMPAIGNS, methods=["GET", "POST"]),
    route(STAGE + "/remove", stage_remove, access=RUN_CAMPAIGNS, methods=["POST"]),
    route(STAGE + "/move", stage_move, access=RUN_CAMPAIGNS, methods=["POST"]),
    route(STAGE + "/close", stage_close, access=RUN_CAMPAIGNS, methods=["GET", "POST"]),
    route(STAGE + "/extend", stage_extend, access=RUN_CAMPAIGNS, methods=["GET", "POST"]),
]
