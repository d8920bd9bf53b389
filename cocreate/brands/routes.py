"""Brand administration (admin creates brands; owners invite members with a role)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cocreate.accounts.models import User
from cocreate.brands import changes, invitations, service
from cocreate.brands.models import SLUG_MAX_LENGTH, Brand, Role
from cocreate.forms import Form, ValidationFailed, form_read
from cocreate.i18n import gettext as _
from cocreate.integers import ID_MAX
from cocreate.security.access import ADMIN, SIGNED_IN, brand_role, current_user, db, route
from cocreate.security.permissions import (
    ANY_ROLE,
    MANAGE_MEMBERS,
    MODERATE,
    can_manage_members,
    has_brand_role,
    role_in_brand,
)
from cocreate.web import redirect, render

ROLE_VALUES = tuple(role.value for role in Role)


def _viewer(request: Request) -> User:
    user = current_user(request)
    assert user is not None  # every route here requires a signed-in user
    return user


def _brand(request: Request) -> Brand:
    brand = service.get_brand_by_slug(session=db(request), slug=request.path_params["brand"])
    if brand is None:
        raise HTTPException(404)
    return brand


def _id_param(request: Request, name: str) -> int:
    value = request.path_params[name]
    if not isinstance(value, int) or value > ID_MAX:  # `{name:id}` matched it; kept as a guard
        raise HTTPException(404)
    return value


# Admin: brands ---------------------------------------------------------------------------


def admin_brands(request: Request) -> Response:
    if request.method != "POST":
        return _admin_page(request, values={}, errors={})
    actor = _viewer(request)
    form = Form(form_read(request))
    name = form.text("name", max_length=120)
    slug = form.text("slug", max_length=SLUG_MAX_LENGTH)
    owner_email = form.email("owner_email") if form.raw("owner_email").strip() else None
    values = {"name": name, "slug": slug, "owner_email": form.raw("owner_email")[:320]}
    problem = service.slug_problem(slug) if "slug" not in form.errors else None
    if problem:
        form.errors["slug"] = problem
    try:
        form.check()
        created = changes.create_brand(
            session=db(request),
            actor=actor,
            name=name,
            slug=slug,
            owner_email=owner_email,
            tokens=request.app.state.tokens,
            base_url=request.app.state.settings.base_url,
            clock=request.app.state.clock,
        )
    except ValidationFailed as exc:
        return _admin_page(request, values=values, errors=exc.errors, status_code=400)
    message = _("The brand %(name)s is created.") % {"name": created.brand.name}
    if created.owner is not None:
        message += " " + _("%(email)s is its owner.") % {"email": created.owner.email}
    elif created.invitation is not None:
        message += " " + _("We sent an invitation to %(email)s to become its owner.") % {
            "email": created.invitation.email
        }
    return redirect("/admin/brands", flash=message, request=request)


def _admin_page(
    request: Request, *, values: dict[str, Any], errors: dict[str, str], status_code: int = 200
) -> Response:
    brands = service.list_brands(session=db(request))
    return render(
        request,
        "brands/admin.html",
        {"brands": brands, "values": values, "errors": errors},
        status_code=status_code,
    )


# Brand home ------------------------------------------------------------------------------


def brand_home(request: Request) -> Response:
    brand = _brand(request)
    viewer = _viewer(request)
    role = role_in_brand(session=db(request), user=viewer, brand_slug=brand.slug)
    return render(
        request,
        "brands/home.html",
        {
            "brand": brand,
            "role": role,
            "role_name": service.role_label(role) if role else _("Administrator"),
            "can_manage_members": can_manage_members(session=db(request), user=viewer, brand=brand),
            "can_moderate": has_brand_role(
                session=db(request), user=viewer, brand=brand, roles=MODERATE
            ),
        },
    )


# Members and invitations -----------------------------------------------------------------


def members_page(request: Request) -> Response:
    return _members_page(request, _brand(request), values={}, errors={})


def _members_page(
    request: Request,
    brand: Brand,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    session = db(request)
    return render(
        request,
        "brands/members.html",
        {
            "brand": brand,
            "members": service.brand_members(session=session, brand=brand),
            "invitations": service.open_invitations(
                session=session, brand=brand, now=request.app.state.clock.now()
            ),
            "roles": service.role_choices(),
            "role_label": service.role_label,
            "values": values,
            "errors": errors,
        },
        status_code=status_code,
    )


def invite(request: Request) -> Response:
    brand = _brand(request)
    form = Form(form_read(request))
    email = form.email("email")
    role = form.choice("role", ROLE_VALUES)
    values = {"email": form.raw("email")[:320], "role": role}
    try:
        form.check()
        invitations.invite_member(
            session=db(request),
            actor=_viewer(request),
            brand=brand,
            email=email,
            role=Role(role),
            tokens=request.app.state.tokens,
            base_url=request.app.state.settings.base_url,
            clock=request.app.state.clock,
        )
    except ValidationFailed as exc:
        return _members_page(request, brand, values=values, errors=exc.errors, status_code=400)
    return redirect(
        f"/brands/{brand.slug}/members",
        flash=_("We sent an invitation to %(email)s.") % {"email": email},
        request=request,
    )


def revoke(request: Request) -> Response:
    brand = _brand(request)
    revoked = invitations.revoke_invitation(
        session=db(request),
        actor=_viewer(request),
        brand=brand,
        invitation_id=_id_param(request, "invitation_id"),
        clock=request.app.state.clock,
    )
    if revoked is None:
        raise HTTPException(404)
    return redirect(
        f"/brands/{brand.slug}/members",
        flash=_("The invitation to %(email)s is withdrawn.") % {"email": revoked.email},
        request=request,
    )


def change_role(request: Request) -> Response:
    brand = _brand(request)
    user_id = _id_param(request, "user_id")
    form = Form(form_read(request))
    role = form.choice("role", ROLE_VALUES)
    viewer = _viewer(request)
    try:
        form.check()
        changed = changes.change_role(
            session=db(request), actor=viewer, brand=brand, user_id=user_id, role=Role(role)
        )
    except ValidationFailed as exc:
        errors = {"": exc.errors.get("") or exc.errors.get("role", "")}
        return _members_page(request, brand, values={}, errors=errors, status_code=400)
    if changed is None:
        raise HTTPException(404)
    return _after_member_change(request, brand, viewer, _("The role is changed."))


def remove(request: Request) -> Response:
    brand = _brand(request)
    user_id = _id_param(request, "user_id")
    viewer = _viewer(request)
    try:
        removed = changes.remove_member(
            session=db(request), actor=viewer, brand=brand, user_id=user_id
        )
    except ValidationFailed as exc:
        return _members_page(request, brand, values={}, errors=exc.errors, status_code=400)
    if not removed:
        raise HTTPException(404)
    return _after_member_change(request, brand, viewer, _("The member is removed."))


def _after_member_change(request: Request, brand: Brand, viewer: User, message: str) -> Response:
    # An owner who stepped down (or left) may no longer see the members page.
    if can_manage_members(session=db(request), user=viewer, brand=brand):
        target = f"/brands/{brand.slug}/members"
    elif role_in_brand(session=db(request), user=viewer, brand_slug=brand.slug):
        target = f"/brands/{brand.slug}"
    else:
        target = "/"
    return redirect(target, flash=message, request=request)


# Accepting an invitation -----------------------------------------------------------------

_UNUSABLE_STATUS = {"invalid": 400, "expired": 410, "revoked": 410, "used": 410}


def invitation(request: Request) -> Response:
    """The invitation behind a mailed link: what it offers, and the button to accept it."""
    token = request.path_params["token"]
    session, tokens, clock = db(request), request.app.state.tokens, request.app.state.clock
    viewer = _viewer(request)
    try:
        found, brand = invitations.invitation_for_token(
            session=session, tokens=tokens, token=token, now=clock.now()
        )
    except invitations.InvitationUnusable as exc:
        return _unusable(request, exc.reason)
    problem = invitations.acceptance_problem(invitation=found, user=viewer)
    context = {
        "invitation": found,
        "brand": brand,
        "role_name": service.role_label(found.role),
        "problem": problem,
        "errors": {},
    }
    if problem is not None:
        return render(request, "brands/invitation.html", context, status_code=403)
    if request.method != "POST":
        return render(request, "brands/invitation.html", context)
    try:
        membership, brand = invitations.accept_invitation(
            session=session, tokens=tokens, token=token, user=viewer, clock=clock
        )
    except invitations.InvitationUnusable as exc:
        return _unusable(request, exc.reason)
    except ValidationFailed as exc:
        return render(
            request, "brands/invitation.html", {**context, "errors": exc.errors}, status_code=409
        )
    message = _("Welcome to %(brand)s! Your role: %(role)s.") % {
        "brand": brand.name,
        "role": service.role_label(membership.role),
    }
    return redirect(f"/brands/{brand.slug}", flash=message, request=request)


def _unusable(request: Request, reason: str) -> Response:
    return render(
        request,
        "brands/invitation_unusable.html",
        {"reason": reason},
        status_code=_UNUSABLE_STATUS.get(reason, 400),
    )


routes: list[BaseRoute] = [
    route("/admin/brands", admin_brands, access=ADMIN, methods=["GET", "POST"]),
    route("/brands/{brand}", brand_home, access=brand_role(*ANY_ROLE)),
    route("/brands/{brand}/members", members_page, access=brand_role(*MANAGE_MEMBERS)),
    route(
        "/brands/{brand}/invitations",
        invite,
        access=brand_role(*MANAGE_MEMBERS),
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/invitations/{invitation_id:id}/revoke",
        revoke,
        access=brand_role(*MANAGE_MEMBERS),
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/members/{user_id:id}/role",
        change_role,
        access=brand_role(*MANAGE_MEMBERS),
        methods=["POST"],
    ),
    route(
        "/brands/{brand}/members/{user_id:id}/remove",
        remove,
        access=brand_role(*MANAGE_MEMBERS),
        methods=["POST"],
    ),
    route("/invitations/{token}", invitation, access=SIGNED_IN, methods=["GET", "POST"]),
]
