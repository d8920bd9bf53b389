"""The brand's campaign console: the list of its campaigns, a campaign's details (with its
cover image) and its status."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cocreate import images
from cocreate.brands.models import Brand
from cocreate.campaigns import details, display, service
from cocreate.campaigns.forms import CampaignInput, read_campaign, time_zones
from cocreate.campaigns.models import Campaign, CampaignStatus
from cocreate.campaigns.page_helpers import (
    actor_id_of,
    as_page_error,
    console_url,
    load_brand,
    load_campaign,
    now_of,
)
from cocreate.campaigns.timeline_pages import timeline_page
from cocreate.db import release
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import LOCALE_NAMES
from cocreate.i18n import gettext as _
from cocreate.security.access import db
from cocreate.storage import Storage
from cocreate.web import redirect, render


def console_list(request: Request) -> Response:
    brand = load_brand(request)
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
    brand = load_brand(request)
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
        campaign = details.create_campaign(
            session=db(request),
            brand=brand,
            data=data,
            actor_id=actor_id_of(request),
            now=now_of(request),
        )
    except ValidationFailed as exc:
        return _details_page(request, brand, None, _details_values(data, form), exc.errors, 400)
    return redirect(
        console_url(brand, campaign),
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
            account_id=actor_id_of(request) or 0,
            policy=request.app.state.uploads,
        )
    except images.ImageRejected as exc:
        form.errors["cover"] = exc.message
        return None


def console_edit(request: Request) -> Response:
    brand = load_brand(request)
    campaign = load_campaign(request, brand)
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
        details.update_campaign(
            session=db(request),
            campaign=campaign,
            data=data,
            cover_image=new_cover or kept,
            actor_id=actor_id_of(request),
            now=now_of(request),
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
    return redirect(console_url(brand, campaign, "edit"), flash=_("Saved."), request=request)


def console_status(request: Request) -> Response:
    brand = load_brand(request)
    campaign = load_campaign(request, brand)
    form = Form(form_read(request))
    to = form.choice("to", [s.value for s in CampaignStatus])
    messages = {
        CampaignStatus.PUBLISHED: _("The campaign is published: everyone can see it now."),
        CampaignStatus.ARCHIVED: _("The campaign is archived: it is hidden from the public."),
        CampaignStatus.DRAFT: _("The campaign is a draft again: only your brand can see it."),
    }
    try:
        form.check()
        details.change_status(
            session=db(request),
            campaign=campaign,
            to=CampaignStatus(to),
            actor_id=actor_id_of(request),
            now=now_of(request),
        )
    except ValidationFailed as exc:
        db(request).rollback()
        return timeline_page(
            request, brand, campaign, errors=as_page_error(exc.errors), status_code=400
        )
    return redirect(
        console_url(brand, campaign), flash=messages[CampaignStatus(to)], request=request
    )
