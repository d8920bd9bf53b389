"""Changes of a brand and its members: an admin creates a brand (its first owner made at once,
or invited); an owner changes a member's role or removes a member, never the last owner."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cocreate.accounts.models import User
from cocreate.accounts.service import get_user_by_email
from cocreate.audit.service import record
from cocreate.brands.invitations import invite
from cocreate.brands.models import Brand, Invitation, Membership, Role
from cocreate.brands.service import (
    NotAllowed,
    get_brand_by_slug,
    last_owner_error,
    lock_brand,
    membership_of,
    owner_count,
    require_manager,
    slug_problem,
)
from cocreate.clock import Clock, system_clock
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.security.permissions import can_create_brands
from cocreate.security.tokens import Tokens


@dataclass(frozen=True)
class CreatedBrand:
    brand: Brand
    owner: User | None  # an existing account made owner at once
    invitation: Invitation | None  # or an invitation mailed to an address without an account


def create_brand(
    *,
    session: Session,
    actor: User,
    name: str,
    slug: str,
    owner_email: str | None,
    tokens: Tokens,
    base_url: str,
    clock: Clock = system_clock,
) -> CreatedBrand:
    """Create a brand (admins only), and make `owner_email` its owner or invite them."""
    if not can_create_brands(actor):
        raise NotAllowed
    problem = slug_problem(slug)
    if problem is None and get_brand_by_slug(session=session, slug=slug) is not None:
        problem = _slug_taken()
    if problem is not None:
        raise ValidationFailed({"slug": problem})
    brand = Brand(name=name, slug=slug, created_at=clock.now())
    session.add(brand)
    try:
        session.flush()
    except IntegrityError:  # created by someone else between the check and the insert
        session.rollback()
        raise ValidationFailed({"slug": _slug_taken()}) from None
    assert brand.id is not None
    record(
        session=session,
        actor_id=actor.id,
        action="brand.created",
        subject_type="brand",
        subject_id=brand.id,
        name=name,
        slug=slug,
    )
    owner: User | None = None
    invitation: Invitation | None = None
    if owner_email:
        existing = get_user_by_email(session=session, email=owner_email)
        if existing is not None and existing.is_active and existing.id is not None:
            owner = existing
            session.add(
                Membership(
                    brand_id=brand.id, user_id=existing.id, role=Role.OWNER, created_at=clock.now()
                )
            )
            record(
                session=session,
                actor_id=actor.id,
                action="brand.member_added",
                subject_type="brand",
                subject_id=brand.id,
                user_id=existing.id,
                role=Role.OWNER.value,
            )
        else:
            invitation = invite(
                session=session,
                actor=actor,
                brand=brand,
                email=owner_email,
                role=Role.OWNER,
                tokens=tokens,
                base_url=base_url,
                clock=clock,
            )
    session.commit()
    return CreatedBrand(brand=brand, owner=owner, invitation=invitation)


def _slug_taken() -> str:
    return _("Another brand already uses this address. Choose another one.")


def change_role(
    *, session: Session, actor: User, brand: Brand, user_id: int, role: Role
) -> Membership | None:
    """Give a member another role; None when they are not a member of this brand."""
    require_manager(session, actor, brand)
    lock_brand(session, brand)
    membership = membership_of(session=session, brand=brand, user_id=user_id)
    if membership is None:
        return None
    if membership.role == role.value:
        return membership
    if membership.role == Role.OWNER and owner_count(session, brand) <= 1:
        raise last_owner_error()
    previous = membership.role
    membership.role = role.value
    session.add(membership)
    record(
        session=session,
        actor_id=actor.id,
        action="brand.role_changed",
        subject_type="brand",
        subject_id=brand.id,
        user_id=user_id,
        previous=previous,
        role=role.value,
    )
    session.commit()
    return membership


def remove_member(*, session: Session, actor: User, brand: Brand, user_id: int) -> bool:
    """Remove a member from the brand; False when they are not a member of it."""
    require_manager(session, actor, brand)
    lock_brand(session, brand)
    membership = membership_of(session=session, brand=brand, user_id=user_id)
    if membership is None:
        return False
    if membership.role == Role.OWNER and owner_count(session, brand) <= 1:
        raise last_owner_error()
    session.delete(membership)
    record(
        session=session,
        actor_id=actor.id,
        action="brand.member_removed",
        subject_type="brand",
        subject_id=brand.id,
        user_id=user_id,
        role=membership.role,
    )
    session.commit()
    return True
