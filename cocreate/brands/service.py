"""Brands: who may do what (roles and their names, brand addresses), reading brands, members
and open invitations, and the guards every change of a brand's members goes through.

Changes live next door: `changes.py` (create a brand, change a role, remove a member) and
`invitations.py`. Every change records an audit event in the same transaction. The database
holds the guarantees (one slug per brand, one membership per person and brand, known roles);
the "a brand keeps at least one owner" rule is checked with the brand row locked
(`lock_brand`), so two owners demoting each other at the same moment cannot leave the brand
without one.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, col, func, select

from cocreate.accounts.models import User
from cocreate.brands.models import (
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    Brand,
    Invitation,
    Membership,
    Role,
)
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.security.permissions import can_manage_members

_SLUG = re.compile(SLUG_PATTERN)


class NotAllowed(Exception):
    """The actor may not do this (the route's access check should have caught it)."""


def role_label(role: str) -> str:
    labels = {
        Role.OWNER: _("Owner"),
        Role.MARKETER: _("Marketer"),
        Role.MODERATOR: _("Moderator"),
        Role.JURY: _("Jury member"),
    }
    try:
        return labels[Role(role)]
    except ValueError:
        return role


def role_choices() -> list[tuple[str, str]]:
    return [(role.value, role_label(role)) for role in Role]


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name a brand in its address, or None when it can."""
    if not slug:
        return _("This field is required.")
    if len(slug) > SLUG_MAX_LENGTH:
        return _("Use at most %(n)d characters.") % {"n": SLUG_MAX_LENGTH}
    if not _SLUG.fullmatch(slug):
        return _(
            "Use only lowercase letters, digits and hyphens, "
            "starting and ending with a letter or a digit."
        )
    return None


# Reading -------------------------------------------------------------------------------


def list_brands(*, session: Session) -> list[Brand]:
    return list(session.exec(select(Brand).order_by(col(Brand.name), col(Brand.id))))


def get_brand_by_slug(*, session: Session, slug: str) -> Brand | None:
    if slug_problem(slug) is not None:  # a path can hold anything, even a NUL byte
        return None
    return session.exec(select(Brand).where(Brand.slug == slug)).first()


def brand_members(*, session: Session, brand: Brand) -> list[tuple[Membership, User]]:
    """Members with their accounts, owners first, then by name."""
    order = {role.value: n for n, role in enumerate(Role)}
    rows = session.exec(
        select(Membership, User)
        .join(User, col(User.id) == Membership.user_id)
        .where(Membership.brand_id == brand.id)
    ).all()
    members = [(membership, user) for membership, user in rows]
    members.sort(key=lambda mu: (order.get(mu[0].role, 99), mu[1].display_name.lower()))
    return members


def open_invitations(*, session: Session, brand: Brand, now: datetime) -> list[Invitation]:
    return list(
        session.exec(
            select(Invitation)
            .where(
                Invitation.brand_id == brand.id,
                col(Invitation.accepted_at).is_(None),
                col(Invitation.revoked_at).is_(None),
                col(Invitation.expires_at) > now,
            )
            .order_by(col(Invitation.created_at), col(Invitation.id))
        )
    )


def membership_of(*, session: Session, brand: Brand, user_id: int) -> Membership | None:
    return session.exec(
        select(Membership).where(Membership.brand_id == brand.id, Membership.user_id == user_id)
    ).first()


def lock_brand(session: Session, brand: Brand) -> None:
    """Serialise membership changes of one brand (PostgreSQL row lock; SQLite has one writer).

    The lock ends with the transaction: at commit, or when the request's session closes.
    No rollback here on refusals: it would expire the signed-in user the error page shows.
    """
    session.exec(select(Brand.id).where(Brand.id == brand.id).with_for_update())


def owner_count(session: Session, brand: Brand) -> int:
    return session.exec(
        select(func.count())
        .select_from(Membership)
        .where(Membership.brand_id == brand.id, Membership.role == Role.OWNER.value)
    ).one()


def require_manager(session: Session, actor: User, brand: Brand) -> None:
    if not can_manage_members(session=session, user=actor, brand=brand):
        raise NotAllowed


def last_owner_error() -> ValidationFailed:
    return ValidationFailed(
        {"": _("A brand must keep at least one owner. Make someone else owner first.")}
    )
