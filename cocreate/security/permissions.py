"""Named permission predicates, and the navigation each role sees. One place for both."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select
from starlette.requests import Request

from cocreate.accounts.models import User
from cocreate.brands.models import SLUG_MAX_LENGTH, SLUG_PATTERN, Brand, Membership, Role
from cocreate.i18n import gettext as _

MANAGE_MEMBERS = (Role.OWNER,)
RUN_CAMPAIGNS = (Role.OWNER, Role.MARKETER)
MODERATE = (Role.OWNER, Role.MODERATOR)
JUDGE = (Role.JURY,)
ANY_ROLE = (Role.OWNER, Role.MARKETER, Role.MODERATOR, Role.JURY)
STAFF = (Role.OWNER, Role.MARKETER, Role.MODERATOR)
_SLUG = re.compile(SLUG_PATTERN)


def can_create_brands(user: User | None) -> bool:
    return user is not None and user.is_active and user.is_admin


def role_in_brand(*, session: Session, user: User | None, brand_slug: str) -> Role | None:
    """The user's role in the brand with this slug, or None (not a member, no such brand)."""
    if user is None or user.id is None:
        return None
    if len(brand_slug) > SLUG_MAX_LENGTH or not _SLUG.fullmatch(brand_slug):
        return None  # not a slug (a path can hold anything, even a NUL byte PostgreSQL refuses)
    role = session.exec(
        select(Membership.role)
        .join(Brand, col(Brand.id) == Membership.brand_id)
        .where(Brand.slug == brand_slug, Membership.user_id == user.id)
    ).first()
    return Role(role) if role is not None else None


def brand_roles(*, session: Session, user: User | None) -> dict[str, Role]:
    """Slug -> role for every brand the user belongs to."""
    return {brand.slug: role for brand, role in brand_memberships(session=session, user=user)}


def brand_memberships(*, session: Session, user: User | None) -> list[tuple[Brand, Role]]:
    """Every brand the user belongs to, with their role, by brand name."""
    if user is None or user.id is None:
        return []
    rows = session.exec(
        select(Brand, Membership.role)
        .join(Membership, col(Membership.brand_id) == Brand.id)
        .where(Membership.user_id == user.id)
        .order_by(col(Brand.name), col(Brand.id))
    ).all()
    return [(brand, Role(role)) for brand, role in rows]


def has_brand_role(
    *, session: Session, user: User | None, brand: Brand, roles: tuple[Role, ...]
) -> bool:
    """Admins may do everything in every brand; others need one of `roles` in this brand."""
    if brand.id is None:  # not stored yet: nobody is a member
        return user is not None and user.is_admin
    return has_role_in_brand(session=session, user=user, brand_id=brand.id, roles=roles)


def has_role_in_brand(
    *, session: Session, user: User | None, brand_id: int, roles: tuple[Role, ...]
) -> bool:
    """`has_brand_role` for a brand known by its id (features that keep only the id)."""
    if user is None:
        return False
    if user.is_admin:
        return True
    membership = session.exec(
        select(Membership).where(Membership.brand_id == brand_id, Membership.user_id == user.id)
    ).first()
    return membership is not None and Role(membership.role) in roles


def can_manage_members(*, session: Session, user: User | None, brand: Brand) -> bool:
    return has_brand_role(session=session, user=user, brand=brand, roles=MANAGE_MEMBERS)


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str


# What features add to the header for a signed-in person, given their brand memberships
# (campaigns adds the consoles and jury pages), without this module importing them.
NavPart = Callable[[Session, User, Sequence[tuple[Brand, Role]], datetime], list[NavLink]]
_nav_parts: list[NavPart] = []


def register_nav_part(part: NavPart) -> None:
    if part not in _nav_parts:
        _nav_parts.append(part)


def navigation(request: Request, user: User | None) -> list[NavLink]:
    """What the current person may do, for the header: only links they are allowed to use."""
    from cocreate.security.access import db

    links = [NavLink(_("Campaigns"), "/")]
    if user is None:
        return links
    links.append(NavLink(_("My ideas"), "/me/ideas"))
    if can_create_brands(user):
        links.append(NavLink(_("Brands"), "/admin/brands"))
    session = db(request)
    memberships = brand_memberships(session=session, user=user)
    for brand, _role in memberships:
        links.append(NavLink(brand.name, f"/brands/{brand.slug}"))
    now = request.app.state.clock.now()
    for part in _nav_parts:
        links.extend(part(session, user, memberships, now))
    return links
