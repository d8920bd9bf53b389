"""Named permission predicates, and the navigation each role sees. One place for both."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select
from starlette.requests import Request

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.i18n import gettext as _

MANAGE_MEMBERS = (Role.OWNER,)
RUN_CAMPAIGNS = (Role.OWNER, Role.MARKETER)
MODERATE = (Role.OWNER, Role.MODERATOR)
JUDGE = (Role.JURY,)


def brand_roles(*, session: Session, user: User | None) -> dict[str, Role]:
    """Slug -> role for every brand the user belongs to."""
    if user is None or user.id is None:
        return {}
    rows = session.exec(
        select(Brand.slug, Membership.role)
        .join(Membership, Membership.brand_id == Brand.id)  # type: ignore[arg-type]
        .where(Membership.user_id == user.id)
    ).all()
    return {slug: Role(role) for slug, role in rows}


def has_brand_role(
    *, session: Session, user: User | None, brand: Brand, roles: tuple[Role, ...]
) -> bool:
    if user is None:
        return False
    if user.is_admin:
        return True
    membership = session.exec(
        select(Membership).where(Membership.brand_id == brand.id, Membership.user_id == user.id)
    ).first()
    return membership is not None and Role(membership.role) in roles


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str


def navigation(request: Request, user: User | None) -> list[NavLink]:
    """What the current person may do, for the header: only links they are allowed to use."""
    from cocreate.security.access import db

    links = [NavLink(_("Campaigns"), "/")]
    if user is None:
        return links
    if user.is_admin:
        links.append(NavLink(_("Brands"), "/admin/brands"))
    for slug, role in sorted(brand_roles(session=db(request), user=user).items()):
        if role in MANAGE_MEMBERS + RUN_CAMPAIGNS + MODERATE:
            links.append(NavLink(_("Brand: %(slug)s") % {"slug": slug}, f"/brands/{slug}"))
        if role in MODERATE:
            links.append(
                NavLink(_("Moderation: %(slug)s") % {"slug": slug}, f"/brands/{slug}/moderation")
            )
    return links
