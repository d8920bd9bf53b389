"""Idea pages: submit and edit, the author's list, the public gallery and idea pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cocreate import images
from cocreate.accounts.models import User
from cocreate.brands.models import Brand
from cocreate.campaigns.models import Campaign
from cocreate.campaigns.service import get_public_campaign
from cocreate.db import release
from cocreate.forms import Form, clean_text, form_read
from cocreate.i18n import gettext as _
from cocreate.ideas import service
from cocreate.ideas.models import Idea, IdeaStatus
from cocreate.ideas.permissions import IDEA_AUTHOR
from cocreate.integers import ID_MAX, int_or_none
from cocreate.markdown import plain_text, render_markdown
from cocreate.moderation import queue as moderation_queue
from cocreate.moderation import service as moderation
from cocreate.moderation.models import ModerationMode
from cocreate.security.access import PUBLIC, SIGNED_IN, VERIFIED, current_user, db, route
from cocreate.storage import Audience, Storage
from cocreate.web import redirect, render

SEARCH_MAX = 100


def _campaign(request: Request) -> tuple[Campaign, Brand]:
    found = get_public_campaign(session=db(request), slug=request.path_params["slug"])
    if found is None:
        raise HTTPException(404)
    return found


def _user(request: Request) -> User:
    user = current_user(request)
    assert user is not None, "the route's access rule requires a signed-in user"
    return user


def _idea(request: Request, campaign: Campaign) -> Idea:
    idea_id: int = request.path_params["idea_id"]
    if idea_id > ID_MAX:  # the column is a 32-bit integer: larger ids exist nowhere
        raise HTTPException(404)
    idea = service.get_idea(session=db(request), campaign=campaign, idea_id=idea_id)
    if idea is None:
        raise HTTPException(404)
    return idea


def _storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def image_audience(request: Request, image_key: str) -> Audience:
    """The media route's rule for files under `ideas/` (see storage.serve_media)."""
    return service.image_audience(
        session=db(request), image_key=image_key, user=lambda: current_user(request)
    )


def image_url(storage: Storage, idea: Idea, variant: str) -> str | None:
    if not idea.image_key:
        return None
    return storage.url(images.variant_key(idea.image_key, variant))


def absolute(request: Request, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    base_url: str = request.app.state.settings.base_url
    return base_url + url


def idea_path(campaign: Campaign, idea: Idea) -> str:
    return f"/c/{campaign.slug}/ideas/{idea.id}"


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
                account_id=_user(request).id or 0,
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
    user = _user(request)
    session = db(request)
    used = service.ideas_used(session=session, campaign=campaign, author_id=user.id or 0)
    return {
        "campaign": campaign,
        "brand": brand,
        "idea": idea,
        "values": values,
        "errors": errors,
        "places_left": max(campaign.submission_limit - used, 0),
        "max_mb": images.MAX_UPLOAD_BYTES // (1024 * 1024),
        "image_url": image_url(_storage(request), idea, "thumb") if idea else None,
    }


def _closed(request: Request, campaign: Campaign, message: str) -> Response:
    return render(
        request, "ideas/closed.html", {"campaign": campaign, "message": message}, status_code=403
    )


def new_idea(request: Request) -> Response:
    campaign, brand = _campaign(request)
    session = db(request)
    now = request.app.state.clock.now()
    if not service.submission_open(session=session, campaign=campaign, now=now):
        return _closed(request, campaign, _("This campaign is not taking ideas at the moment."))
    if request.method == "GET":
        context = _form_context(request, campaign, brand, values={}, errors={})
        return render(request, "ideas/form.html", context)
    return _save(request, campaign, brand, idea=None)


def edit_idea(request: Request) -> Response:
    campaign, brand = _campaign(request)
    idea = _idea(request, campaign)
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
    storage = _storage(request)
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
    user = _user(request)
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
    campaign, _brand = _campaign(request)
    idea = _idea(request, campaign)
    try:
        service.withdraw_idea(
            session=db(request),
            campaign=campaign,
            idea=idea,
            user=_user(request),
            now=request.app.state.clock.now(),
            storage=_storage(request),
        )
    except service.IdeaRefused as exc:
        return redirect(idea_path(campaign, idea), flash=exc.message, request=request)
    return redirect("/me/ideas", flash=_("Your idea was withdrawn."), request=request)


def my_ideas(request: Request) -> Response:
    user = _user(request)
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


def idea_page(request: Request) -> Response:
    campaign, brand = _campaign(request)
    idea = _idea(request, campaign)
    user = current_user(request)
    session = db(request)
    if not service.can_view(session=session, user=user, idea=idea, campaign=campaign, brand=brand):
        if idea.status == IdeaStatus.MERGED and idea.merged_into_id is not None:
            return redirect(f"/c/{campaign.slug}/ideas/{idea.merged_into_id}")
        raise HTTPException(404)  # not 403: do not tell strangers the idea exists
    storage = _storage(request)
    author = service.author_of(session=session, idea=idea)
    author_name = author.display_name if author is not None and author.deleted_at is None else None
    now = request.app.state.clock.now()
    is_open = service.submission_open(session=session, campaign=campaign, now=now)
    large = image_url(storage, idea, "large")
    is_public = moderation.is_publicly_visible(idea, campaign)
    is_staff = service.sees_moderation_history(session=session, user=user, brand=brand)
    context = {
        "campaign": campaign,
        "brand": brand,
        "idea": idea,
        "author_name": author_name,
        "description_html": render_markdown(idea.description),
        "summary": plain_text(idea.description) or campaign.summary,
        "image_url": large,
        "og_image": absolute(request, large) if large else None,
        "canonical_url": absolute(request, idea_path(campaign, idea)),
        "can_edit": is_open and service.can_edit(idea, user),
        "can_withdraw": service.can_withdraw(idea, user, submission_is_open=is_open),
        "is_public": is_public,
        "is_hidden": idea.hidden_at is not None,
        "credited": [
            u.display_name
            for u in moderation.credited_authors(session=session, idea_id=idea.id or 0)
            if u.deleted_at is None
        ],
        # Published ideas can be reported by anyone signed in but their author.
        "can_report": is_public and user is not None and user.id != idea.author_id,
        "changes_requested": _changes_note(session, idea, user),
        "history": moderation_queue.history(session=session, idea_id=idea.id or 0)
        if is_staff
        else None,
        "history_url": f"/brands/{brand.slug}/moderation/ideas/{idea.id}/history",
        "action_label": moderation.action_label,
        "reason_label": moderation.reason_label,
    }
    return render(request, "ideas/idea.html", context)


def _changes_note(session: Any, idea: Idea, user: User | None) -> str | None:
    """What the moderator asked the author to change, shown to the author only."""
    if user is None or user.id != idea.author_id or idea.status != IdeaStatus.DRAFT:
        return None
    request = moderation.changes_requested(session=session, idea_id=idea.id or 0)
    return request.note if request is not None else None


def _natural(text: str) -> int | None:
    """A whole number from a query parameter, or None."""
    return int_or_none(text, minimum=0, maximum=ID_MAX)


def _gallery_query(
    request: Request, campaign: Campaign, sorts: tuple[str, ...]
) -> service.GalleryQuery:
    params = request.query_params
    sort = params.get("sort", "newest")
    if sort not in sorts:
        sort = "newest"
    category = params.get("category") or None
    if category not in campaign.categories:
        category = None
    search = clean_text(params.get("q", ""))[:SEARCH_MAX]
    seed = _natural(params.get("seed", ""))
    if seed is None or seed >= service.RANDOM_KEY_LIMIT:
        seed = service.random_seed() if sort == "random" else 0
    return service.GalleryQuery(
        campaign_id=campaign.id or 0,
        sort=sort,
        category=category,
        search=search,
        after=params.get("after") or None,
        seed=seed,
        moderation_mode=campaign.moderation_mode,
    )


def gallery_url(campaign: Campaign, query: service.GalleryQuery, **changes: Any) -> str:
    params: dict[str, Any] = {
        "q": query.search,
        "category": query.category or "",
        "sort": query.sort,
        "seed": query.seed if query.sort == "random" else "",
    }
    params.update(changes)
    kept = {k: v for k, v in params.items() if v not in ("", None)}
    if kept.get("sort") == "newest":
        kept.pop("sort")
    suffix = "?" + urlencode(kept) if kept else ""
    return f"/c/{campaign.slug}/ideas{suffix}"


def gallery(request: Request) -> Response:
    from cocreate.voting.rounds import GalleryVotes, gallery_votes

    campaign, brand = _campaign(request)
    # "Most voted" and the counts follow the open rounds' visibility: hidden counts must
    # not leak through the gallery (vote_count sums every round's counted votes).
    votes = gallery_votes(
        session=db(request), campaign_id=campaign.id or 0, now=request.app.state.clock.now()
    )
    sorts = tuple(s for s in service.SORTS if s != "votes" or votes != GalleryVotes.NOTHING)
    query = _gallery_query(request, campaign, sorts)
    page = service.gallery_page(session=db(request), query=query)
    storage = _storage(request)
    context = {
        "campaign": campaign,
        "brand": brand,
        "query": query,
        "ideas": page.ideas,
        "thumbs": {idea.id: image_url(storage, idea, "thumb") for idea in page.ideas},
        "next_url": gallery_url(campaign, query, after=page.next_cursor)
        if page.next_cursor
        else None,
        "first_url": gallery_url(campaign, query),
        "is_later_page": query.after is not None,
        "sorts": sorts,
        "show_votes": votes == GalleryVotes.COUNTS,
        "canonical_url": absolute(request, f"/c/{campaign.slug}/ideas"),
    }
    # "More ideas" asks for the next items only; the filter form asks for the whole list.
    fragment = "ideas/_gallery_items.html" if query.after else "ideas/_gallery_results.html"
    return render(request, "ideas/gallery.html", context, fragment=fragment)


def similar(request: Request) -> Response:
    campaign, _brand = _campaign(request)
    title = clean_text(request.query_params.get("title", ""))[: service.TITLE_MAX]
    exclude = _natural(request.query_params.get("exclude", ""))
    ideas = service.similar_ideas(
        session=db(request),
        campaign_id=campaign.id or 0,
        title=title,
        exclude=exclude,
        moderation_mode=campaign.moderation_mode,
    )
    context = {"campaign": campaign, "ideas": ideas, "title": title}
    return render(request, "ideas/similar.html", context, fragment="ideas/_similar.html")


routes = [
    route("/c/{slug}/ideas", gallery, access=PUBLIC),
    route("/c/{slug}/ideas/new", new_idea, access=VERIFIED, methods=["GET", "POST"], costly=True),
    route("/c/{slug}/ideas/similar", similar, access=PUBLIC),
    route("/c/{slug}/ideas/{idea_id:id}", idea_page, access=PUBLIC),
    route(
        "/c/{slug}/ideas/{idea_id:id}/edit",
        edit_idea,
        access=IDEA_AUTHOR,
        methods=["GET", "POST"],
        costly=True,
    ),
    route(
        "/c/{slug}/ideas/{idea_id:id}/withdraw",
        withdraw_idea,
        access=IDEA_AUTHOR,
        methods=["POST"],
    ),
    route("/me/ideas", my_ideas, access=SIGNED_IN),
]
