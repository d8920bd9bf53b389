"""Brand rules: admins create brands; owners invite members, change roles and remove members.

Every change records an audit event in the same transaction. The database holds the
guarantees (one slug per brand, one membership per person and brand, known roles); the
"a brand keeps at least one owner" rule is checked with the brand row locked, so two owners
demoting each other at the same moment cannot leave the brand without one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from cocreate import i18n
from cocreate.accounts.models import User
from cocreate.accounts.service import get_user_by_email
from cocreate.audit.service import record
from cocreate.brands.models import (
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    Brand,
    Invitation,
    Membership,
    Role,
)
from cocreate.clock import Clock, system_clock
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.notifications.service import queue_email
from cocreate.security.permissions import can_create_brands, can_manage_members
from cocreate.security.tokens import InvalidToken, Tokens

INVITATION_DAYS = 7
# The row's expires_at (on the injectable clock) decides; the signature's own age is a backstop.
INVITE_TOKEN_MAX_AGE = int(timedelta(days=INVITATION_DAYS).total_seconds())
_SLUG = re.compile(SLUG_PATTERN)


class NotAllowed(Exception):
    """The actor may not do this (the route's access check should have caught it)."""


class InvitationUnusable(Exception):
    """An invitation link that cannot be accepted; `reason` says why, for the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def _membership(*, session: Session, brand: Brand, user_id: int) -> Membership | None:
    return session.exec(
        select(Membership).where(Membership.brand_id == brand.id, Membership.user_id == user_id)
    ).first()


def _lock_brand(session: Session, brand: Brand) -> None:
    """Serialise membership changes of one brand (PostgreSQL row lock; SQLite has one writer).

    The lock ends with the transaction: at commit, or when the request's session closes.
    No rollback here on refusals: it would expire the signed-in user the error page shows.
    """
    session.exec(select(Brand.id).where(Brand.id == brand.id).with_for_update())


def _owner_count(session: Session, brand: Brand) -> int:
    return session.exec(
        select(func.count())
        .select_from(Membership)
        .where(Membership.brand_id == brand.id, Membership.role == Role.OWNER.value)
    ).one()


def _require_manager(session: Session, actor: User, brand: Brand) -> None:
    if not can_manage_members(session=session, user=actor, brand=brand):
        raise NotAllowed


def _last_owner_error() -> ValidationFailed:
    return ValidationFailed(
        {"": _("A brand must keep at least one owner. Make someone else owner first.")}
    )


# Creating a brand ----------------------------------------------------------------------


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
            invitation = _invite(
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


# Invitations ---------------------------------------------------------------------------


def invite_member(
    *,
    session: Session,
    actor: User,
    brand: Brand,
    email: str,
    role: Role,
    tokens: Tokens,
    base_url: str,
    clock: Clock = system_clock,
) -> Invitation:
    """Mail an invitation (owners only); a new one replaces the address's open invitation."""
    _require_manager(session, actor, brand)
    existing = get_user_by_email(session=session, email=email)
    if existing is not None and existing.id is not None:
        membership = _membership(session=session, brand=brand, user_id=existing.id)
        if membership is not None:
            raise ValidationFailed(
                {
                    "email": _(
                        "This person is already a member. Change their role in the list instead."
                    )
                }
            )
    invitation = _invite(
        session=session,
        actor=actor,
        brand=brand,
        email=email,
        role=role,
        tokens=tokens,
        base_url=base_url,
        clock=clock,
    )
    session.commit()
    return invitation


def _invite(
    *,
    session: Session,
    actor: User,
    brand: Brand,
    email: str,
    role: Role,
    tokens: Tokens,
    base_url: str,
    clock: Clock,
) -> Invitation:
    now = clock.now()
    for previous in open_invitations(session=session, brand=brand, now=now):
        if previous.email == email:
            previous.revoked_at = now
            session.add(previous)
    assert brand.id is not None
    invitation = Invitation(
        brand_id=brand.id,
        email=email,
        role=role.value,
        invited_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    session.flush()
    token = tokens.make("invite", {"id": invitation.id})
    invitee = get_user_by_email(session=session, email=email)
    locale = invitee.locale if invitee is not None and invitee.locale else i18n.current_locale()
    with i18n.using_locale(locale):
        label = role_label(role)
    queue_email(
        session=session,
        to=email,
        template="invitation",
        locale=locale,
        brand=brand.name,
        role=label,
        inviter=actor.display_name,
        days=INVITATION_DAYS,
        url=f"{base_url}/invitations/{token}",
    )
    record(
        session=session,
        actor_id=actor.id,
        action="brand.member_invited",
        subject_type="brand",
        subject_id=brand.id,
        invitation_id=invitation.id,
        email=email,
        role=role.value,
    )
    return invitation


def invitation_for_token(
    *, session: Session, tokens: Tokens, token: str, now: datetime, lock: bool = False
) -> tuple[Invitation, Brand]:
    """The invitation behind a link and its brand; InvitationUnusable says why not."""
    try:
        data = tokens.read("invite", token, max_age_seconds=INVITE_TOKEN_MAX_AGE)
    except InvalidToken:
        raise InvitationUnusable("invalid") from None
    invitation_id = data.get("id")
    if not isinstance(invitation_id, int):
        raise InvitationUnusable("invalid")
    query = select(Invitation).where(Invitation.id == invitation_id)
    if lock:  # two clicks on "accept" must not both use it
        query = query.with_for_update()
    invitation = session.exec(query).first()
    brand = session.get(Brand, invitation.brand_id) if invitation is not None else None
    if invitation is None or brand is None:
        raise InvitationUnusable("invalid")
    if invitation.accepted_at is not None:
        raise InvitationUnusable("used")
    if invitation.revoked_at is not None:
        raise InvitationUnusable("revoked")
    if invitation.expires_at <= now:
        raise InvitationUnusable("expired")
    return invitation, brand


def acceptance_problem(*, invitation: Invitation, user: User) -> str | None:
    """Why this signed-in account cannot accept the invitation, or None when it can."""
    if user.email != invitation.email:
        return "wrong_account"
    if not user.is_verified:
        return "unverified"
    return None


def accept_invitation(
    *, session: Session, tokens: Tokens, token: str, user: User, clock: Clock = system_clock
) -> tuple[Membership, Brand]:
    """Join the brand with the invited role (or take that role if already a member)."""
    now = clock.now()
    invitation, brand = invitation_for_token(
        session=session, tokens=tokens, token=token, now=now, lock=True
    )
    problem = acceptance_problem(invitation=invitation, user=user)
    if problem is not None:
        raise InvitationUnusable(problem)
    assert user.id is not None
    _lock_brand(session, brand)
    membership = _membership(session=session, brand=brand, user_id=user.id)
    if membership is None:
        assert brand.id is not None
        membership = Membership(
            brand_id=brand.id,
            user_id=user.id,
            role=invitation.role,
            created_at=now,
        )
    elif membership.role != invitation.role:
        if membership.role == Role.OWNER and _owner_count(session, brand) <= 1:
            raise _last_owner_error()
        membership.role = invitation.role
    session.add(membership)
    invitation.accepted_at = now
    invitation.accepted_by_id = user.id
    session.add(invitation)
    record(
        session=session,
        actor_id=user.id,
        action="brand.invitation_accepted",
        subject_type="brand",
        subject_id=brand.id,
        invitation_id=invitation.id,
        role=invitation.role,
    )
    try:
        session.commit()
    except IntegrityError:  # the same person joined through another invitation meanwhile
        session.rollback()
        raise InvitationUnusable("used") from None
    return membership, brand


def revoke_invitation(
    *,
    session: Session,
    actor: User,
    brand: Brand,
    invitation_id: int,
    clock: Clock = system_clock,
) -> Invitation | None:
    """Withdraw an open invitation of this brand; None when there is no such open invitation."""
    _require_manager(session, actor, brand)
    invitation = session.exec(
        select(Invitation).where(Invitation.id == invitation_id, Invitation.brand_id == brand.id)
    ).first()
    if invitation is None or invitation.accepted_at is not None or invitation.revoked_at:
        return None
    invitation.revoked_at = clock.now()
    session.add(invitation)
    record(
        session=session,
        actor_id=actor.id,
        action="brand.invitation_revoked",
        subject_type="brand",
        subject_id=brand.id,
        invitation_id=invitation.id,
        email=invitation.email,
    )
    session.commit()
    return invitation


# Members -------------------------------------------------------------------------------


def change_role(
    *, session: Session, actor: User, brand: Brand, user_id: int, role: Role
) -> Membership | None:
    """Give a member another role; None when they are not a member of this brand."""
    _require_manager(session, actor, brand)
    _lock_brand(session, brand)
    membership = _membership(session=session, brand=brand, user_id=user_id)
    if membership is None:
        return None
    if membership.role == role.value:
        return membership
    if membership.role == Role.OWNER and _owner_count(session, brand) <= 1:
        raise _last_owner_error()
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
    _require_manager(session, actor, brand)
    _lock_brand(session, brand)
    membership = _membership(session=session, brand=brand, user_id=user_id)
    if membership is None:
        return False
    if membership.role == Role.OWNER and _owner_count(session, brand) <= 1:
        raise _last_owner_error()
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
