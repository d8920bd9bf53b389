"""The author's idea pages: submit and edit an idea (with its image), withdraw it, and the
author's list of ideas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cocreate import images
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign, ModerationMode
from cocreate.db import release
from cocreate.forms import Form, form_read
from cocreate.i18n import gettext as _
from cocreate.ideas import service
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.ideas.page_helpers import (
    idea_path,
    image_url,
    load_campaign,
    load_idea,
    signed_in_user,
    storage_of,
)
from cocreate.security.access import db
from cocreate.web import redirect, render


@dataclass
class ParsedIdeaForm:
    content: service.IdeaContent
    values: dict[str, Any]
    errors: dict[str, str]
    submit: bool
    new_image: images.ProcessedImage | None
    busy: images.ImagesBusy | None = None  # no decode slot freed up: answer 503


def _parse_idea_form(
    request: Request, campaign: Campaign, current_image: str | None
) -> ParsedIdeaForm:
    """Read and check the form, image included; errors by field name in `errors`."""
    return _check_idea_form(request, Form(form_read(request)), campaign, current_image)


def _check_idea_form(
    request: Request, form: Form, campaign: Campaign, current_image: str | None
) -> ParsedIdeaForm:
    title = form.text("title", max_length=service.TITLE_MAX)
    description = form.text(
        "description", max_length=service.DESCRIPTION_MAX, required=False, multiline=True
    )
    category: str | None = None
    if campaign.categories:
        category = form.choice("category", campaign.categories)
    upload = images.read_upload(form, "image")
    processed = None
    busy = None
    if upload.error:
        form.errors["image"] = upload.error
    elif upload.data is not None and form.errors:
        # The cheap checks first: an invalid form never decodes (nor counts) its image.
        form.errors["image"] = images.choose_again_message()
    elif upload.data is not None:
        release(db(request))  # no pooled connection is held while the image decodes
        try:
            processed = images.process_upload(
                upload.data,
                account_id=signed_in_user(request).id or 0,
                policy=request.app.state.uploads,
            )
        except images.ImageRejected as exc:
            form.errors["image"] = exc.message
        except images.ImagesBusy as exc:
            form.errors["image"] = exc.message
            busy = exc
    image_key = None if form.raw("remove_image") == "yes" else current_image
    return ParsedIdeaForm(
        content=service.IdeaContent(title, description, category, image_key),
        values={"title": title, "description": description, "category": category},
        errors=form.errors,
        submit=form.raw("action") == "submit",
        new_image=processed,
        busy=busy,
    )


def _form_context(
    request: Request,
    campaign: Campaign,
    brand: Brand,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    idea: Idea | None = None,
) -> dict[str, Any]:
    user = signed_in_user(request)
    session = db(request)
    exclude = idea.id if idea is not None else None
    places = service.places(
        session=session, campaign=campaign, author_id=user.id or 0, exclude=exclude
    )
    return {
        "campaign": campaign,
        "brand": brand,
        "idea": idea,
        "values": values,
        "errors": errors,
        "places": places,
        "max_mb": images.MAX_UPLOAD_BYTES // (1024 * 1024),
        "image_url": image_url(storage_of(request), idea, "thumb") if idea else None,
    }


def _closed(request: Request, campaign: Campaign, message: str) -> Response:
    return render(
        request, "ideas/closed.html", {"campaign": campaign, "message": message}, status_code=403
    )


def new_idea(request: Request) -> Response:
    campaign, brand = load_campaign(request)
    session = db(request)
    now = request.app.state.clock.now()
    if not service.submission_open(session=session, campaign=campaign, now=now):
        return _closed(request, campaign, _("This campaign is not taking ideas at the moment."))
    if request.method == "GET":
        context = _form_context(request, campaign, brand, values={}, errors={})
        return render(request, "ideas/form.html", context)
    return _save(request, campaign, brand, idea=None)


def edit_idea(request: Request) -> Response:
    campaign, brand = load_campaign(request)
    idea = load_idea(request, campaign)
    if idea.status not in service.EDITABLE_STATUSES:
        return _closed(request, campaign, _("This idea can no longer be changed."))
    now = request.app.state.clock.now()
    if not service.submission_open(session=db(request), campaign=campaign, now=now):
        return _closed(request, campaign, _("This campaign is not taking ideas at the moment."))
    if request.method == "GET":
        values = {"title": idea.title, "description": idea.description, "category": idea.category}
        context = _form_context(request, campaign, brand, values=values, errors={}, idea=idea)
        return render(request, "ideas/form.html", context)
    return _save(request, campaign, brand, idea=idea)


def _save(request: Request, campaign: Campaign, brand: Brand, idea: Idea | None) -> Response:
    storage = storage_of(request)
    parsed = _parse_idea_form(request, campaign, idea.image_key if idea else None)
    if parsed.errors:
        context = _form_context(
            request, campaign, brand, values=parsed.values, errors=parsed.errors, idea=idea
        )
        if parsed.busy is not None:
            response = render(request, "ideas/form.html", context, status_code=503)
            response.headers["Retry-After"] = str(parsed.busy.retry_after)
            return response
        return render(request, "ideas/form.html", context, status_code=400)
    content = parsed.content
    new_key = None
    if parsed.new_image is not None:
        new_key = images.store_image(storage, parsed.new_image)
        content = service.IdeaContent(content.title, content.description, content.category, new_key)
    user = signed_in_user(request)
    now = request.app.state.clock.now()
    base_url: str = request.app.state.settings.base_url
    old_key = idea.image_key if idea else None
    try:
        if idea is None:
            idea = service.create_idea(
                session=db(request),
                campaign=campaign,
                author=user,
                content=content,
                submit=parsed.submit,
                now=now,
                base_url=base_url,
            )
        else:
            idea = service.update_idea(
                session=db(request),
                campaign=campaign,
                idea=idea,
                editor=user,
                content=content,
                submit=parsed.submit,
                now=now,
                base_url=base_url,
            )
    except service.IdeaRefused as exc:
        if new_key:
            images.delete_image(storage, new_key)
        errors = {"": exc.message}
        if parsed.new_image is not None:
            errors["image"] = images.choose_again_message()
        context = _form_context(
            request, campaign, brand, values=parsed.values, errors=errors, idea=idea
        )
        return render(request, "ideas/form.html", context, status_code=409)
    except BaseException:
        if new_key:
            images.delete_image(storage, new_key)
        raise
    if old_key and old_key != idea.image_key:
        images.delete_image(storage, old_key)
    if idea.status == IdeaStatus.PENDING and campaign.moderation_mode == ModerationMode.POST:
        message = _("Thank you! Your idea is published; the moderators will review it.")
    elif idea.status == IdeaStatus.PENDING:
        message = _("Thank you! Your idea was sent to the moderators; it appears once approved.")
    elif idea.status == IdeaStatus.REJECTED:
        message = _(
            "Your idea was not accepted automatically: it contains a link, a phone number or an "
            "email address. A moderator can still accept it."
        )
    else:
        message = _("Your draft is saved. Submit it when it is ready.")
    return redirect(idea_path(campaign, idea), flash=message, request=request)


def withdraw_idea(request: Request) -> Response:
    """GET asks for confirmation (a page, no script needed); its form POSTs the withdrawal."""
    campaign, _brand = load_campaign(request)
    idea = load_idea(request, campaign)
    if request.method == "GET":
        now = request.app.state.clock.now()
        is_open = service.submission_open(session=db(request), campaign=campaign, now=now)
        if not service.can_withdraw(idea, signed_in_user(request), submission_is_open=is_open):
            message = _("This idea can no longer be withdrawn.")
            return redirect(idea_path(campaign, idea), flash=message, request=request)
        context = {"campaign": campaign, "idea": idea}
        return render(request, "ideas/withdraw.html", context)
    try:
        service.withdraw_idea(
            session=db(request),
            campaign=campaign,
            idea=idea,
            user=signed_in_user(request),
            now=request.app.state.clock.now(),
            storage=storage_of(request),
        )
    except service.IdeaRefused as exc:
        return redirect(idea_path(campaign, idea), flash=exc.message, request=request)
    return redirect("/me/ideas", flash=_("Your idea was withdrawn."), request=request)


def my_ideas(request: Request) -> Response:
    user = signed_in_user(request)
    session = db(request)
    rows = service.ideas_of_author(session=session, author_id=user.id or 0)
    now = request.app.state.clock.now()
    open_by_campaign: dict[int | None, bool] = {}
    items = []
    for idea, campaign in rows:
        if campaign.id not in open_by_campaign:
            open_by_campaign[campaign.id] = service.submission_open(
                session=session, campaign=campaign, now=now
            )
        is_open = open_by_campaign[campaign.id]
        items.append(
            {
                "idea": idea,
                "campaign": campaign,
                "can_edit": is_open and service.can_edit(idea, user),
                "can_withdraw": service.can_withdraw(idea, user, submission_is_open=is_open),
            }
        )
    return render(request, "ideas/mine.html", {"items": items})
