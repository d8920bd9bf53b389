"""Invitations: an owner invites someone by email with a role; the mailed link (a signed
token naming the invitation) lets them join once, before it expires, unless it was revoked.
A new invitation to the same address replaces the open one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from cocreate import i18n
from cocreate.accounts.models import User
from cocreate.accounts.service import get_user_by_email
from cocreate.audit.service import record
from cocreate.brands.models import Brand, Invitation, Membership, Role
from cocreate.brands.service import (
    last_owner_error,
    lock_brand,
    membership_of,
    open_invitations,
    owner_count,
    require_manager,
    role_label,
)
from cocreate.clock import Clock, system_clock
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.notifications.service import queue_email
from cocreate.security.tokens import InvalidToken, Tokens

INVITATION_DAYS = 7
# The row's expires_at (on the injectable clock) decides; the signature's own age is a backstop.
INVITE_TOKEN_MAX_AGE = int(timedelta(days=INVITATION_DAYS).total_seconds())


class InvitationUnusable(Exception):
    """An invitation link that cannot be accepted; `reason` says why, for the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
    require_manager(session, actor, brand)
    existing = get_user_by_email(session=session, email=email)
    if existing is not None and existing.id is not None:
        membership = membership_of(session=session, brand=brand, user_id=existing.id)
        if membership is not None:
            raise ValidationFailed(
                {
                    "email": _(
                        "This person is already a member. Change their role in the list instead."
                    )
                }
            )
    invitation = invite(
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


def invite(
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
    lock_brand(session, brand)
    membership = membership_of(session=session, brand=brand, user_id=user.id)
    if membership is None:
        assert brand.id is not None
        membership = Membership(
            brand_id=brand.id,
            user_id=user.id,
            role=invitation.role,
            created_at=now,
        )
    elif membership.role != invitation.role:
        if membership.role == Role.OWNER and owner_count(session, brand) <= 1:
            raise last_owner_error()
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
    require_manager(session, actor, brand)
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
