from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cocreate.audit.models import AuditEvent
from cocreate.brands import changes, invitations, service
from cocreate.brands.models import Brand, Invitation, Membership, Role
from cocreate.clock import FrozenClock
from cocreate.forms import ValidationFailed
from cocreate.notifications.models import OutboxEmail
from cocreate.security.tokens import Tokens
from tests.brand_factories import add_member, make_brand

TOKENS = Tokens("unit-test-secret-" + "x" * 32)
BASE = "http://testserver"


def _token_of(mail: OutboxEmail) -> str:
    line = next(line for line in mail.body.splitlines() if "/invitations/" in line)
    return line.strip().rsplit("/", 1)[1]


def _invite(session: Session, actor: Any, brand: Brand, email: str, role: Role, clock: Any) -> str:
    invitations.invite_member(
        session=session,
        actor=actor,
        brand=brand,
        email=email,
        role=role,
        tokens=TOKENS,
        base_url=BASE,
        clock=clock,
    )
    mail = session.exec(select(OutboxEmail).order_by(col(OutboxEmail.id).desc())).first()
    assert mail is not None and mail.to == email
    return _token_of(mail)


def _actions(session: Session) -> list[str]:
    return [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]


@pytest.mark.parametrize("slug", ["acme", "green-shoes", "a", "2026-edition", "x" * 60])
def test_good_slugs(slug: str) -> None:
    assert service.slug_problem(slug) is None


@pytest.mark.parametrize(
    "slug", ["", "Acme", "green shoes", "green_shoes", "-acme", "acme-", "café", "acme\n", "x" * 61]
)
def test_bad_slugs(slug: str) -> None:
    assert service.slug_problem(slug)


def test_only_admins_create_brands(session: Session, make_user: Any, clock: FrozenClock) -> None:
    with pytest.raises(service.NotAllowed):
        changes.create_brand(
            session=session,
            actor=make_user(),
            name="Acme",
            slug="acme",
            owner_email=None,
            tokens=TOKENS,
            base_url=BASE,
            clock=clock,
        )
    assert session.exec(select(Brand)).first() is None


def test_create_brand_refuses_a_taken_slug_with_a_clear_error(
    session: Session, make_user: Any, clock: FrozenClock
) -> None:
    make_brand(session, "acme")
    with pytest.raises(ValidationFailed) as failed:
        changes.create_brand(
            session=session,
            actor=make_user(admin=True),
            name="Acme 2",
            slug="acme",
            owner_email=None,
            tokens=TOKENS,
            base_url=BASE,
            clock=clock,
        )
    assert "already uses this address" in failed.value.errors["slug"]


def test_the_database_refuses_two_memberships_of_one_person_in_one_brand(
    session: Session, make_user: Any
) -> None:
    user = make_user()
    brand = make_brand(session, "acme", members=[(user, Role.JURY)])
    assert brand.id is not None and user.id is not None
    session.add(Membership(brand_id=brand.id, user_id=user.id, role=Role.OWNER.value))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_the_database_refuses_an_unknown_role(session: Session, make_user: Any) -> None:
    user = make_user()
    brand = make_brand(session, "acme")
    assert brand.id is not None and user.id is not None
    session.add(Membership(brand_id=brand.id, user_id=user.id, role="emperor"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_only_owners_and_admins_invite(
    session: Session, make_user: Any, clock: FrozenClock
) -> None:
    marketer, owner, admin = make_user(), make_user(), make_user(admin=True)
    brand = make_brand(session, "acme", members=[(marketer, Role.MARKETER), (owner, Role.OWNER)])
    with pytest.raises(service.NotAllowed):
        _invite(session, marketer, brand, "x@example.com", Role.OWNER, clock)
    _invite(session, owner, brand, "y@example.com", Role.JURY, clock)
    _invite(session, admin, brand, "z@example.com", Role.JURY, clock)
    invitations = service.open_invitations(session=session, brand=brand, now=clock.now())
    emails = {i.email for i in invitations}
    assert emails == {"y@example.com", "z@example.com"}


def test_an_invitation_expires_after_seven_days(
    session: Session, make_user: Any, clock: FrozenClock
) -> None:
    owner = make_user()
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    token = _invite(session, owner, brand, "mia@example.com", Role.MARKETER, clock)
    invitation = session.exec(select(Invitation)).one()
    assert invitation.expires_at - clock.now() == timedelta(days=7)
    clock.advance(days=6, hours=23)
    invitations.invitation_for_token(session=session, tokens=TOKENS, token=token, now=clock.now())
    clock.advance(hours=1)
    with pytest.raises(invitations.InvitationUnusable) as refused:
        invitations.invitation_for_token(
            session=session, tokens=TOKENS, token=token, now=clock.now()
        )
    assert refused.value.reason == "expired"
    assert service.open_invitations(session=session, brand=brand, now=clock.now()) == []


def test_reinviting_revokes_the_open_invitation_and_records_both(
    session: Session, make_user: Any, clock: FrozenClock
) -> None:
    owner = make_user()
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    first = _invite(session, owner, brand, "mia@example.com", Role.MARKETER, clock)
    second = _invite(session, owner, brand, "mia@example.com", Role.JURY, clock)
    [open_one] = service.open_invitations(session=session, brand=brand, now=clock.now())
    assert open_one.role == "jury"
    with pytest.raises(invitations.InvitationUnusable) as refused:
        invitations.invitation_for_token(
            session=session, tokens=TOKENS, token=first, now=clock.now()
        )
    assert refused.value.reason == "revoked"
    found, _ = invitations.invitation_for_token(
        session=session, tokens=TOKENS, token=second, now=clock.now()
    )
    assert found.id == open_one.id
    assert _actions(session).count("brand.member_invited") == 2


def test_accepting_needs_the_invited_verified_address(
    session: Session, make_user: Any, clock: FrozenClock
) -> None:
    owner = make_user()
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    token = _invite(session, owner, brand, "mia@example.com", Role.MODERATOR, clock)
    for user, reason in (
        (make_user("eve@example.com"), "wrong_account"),
        (make_user("mia@example.com", verified=False), "unverified"),
    ):
        with pytest.raises(invitations.InvitationUnusable) as refused:
            invitations.accept_invitation(
                session=session, tokens=TOKENS, token=token, user=user, clock=clock
            )
        assert refused.value.reason == reason
        session.rollback()
    assert len(session.exec(select(Membership)).all()) == 1  # the owner only


def test_accepting_creates_the_membership_once(
    session: Session, make_user: Any, clock: FrozenClock
) -> None:
    owner = make_user()
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    mia = make_user("mia@example.com")
    token = _invite(session, owner, brand, "mia@example.com", Role.MODERATOR, clock)
    membership, joined = invitations.accept_invitation(
        session=session, tokens=TOKENS, token=token, user=mia, clock=clock
    )
    assert (joined.slug, membership.user_id, membership.role) == ("acme", mia.id, "moderator")
    with pytest.raises(invitations.InvitationUnusable) as refused:
        invitations.accept_invitation(
            session=session, tokens=TOKENS, token=token, user=mia, clock=clock
        )
    assert refused.value.reason == "used"
    assert "brand.invitation_accepted" in _actions(session)


def test_accepting_as_a_member_changes_the_role_but_never_drops_the_last_owner(
    session: Session, make_user: Any, clock: FrozenClock
) -> None:
    # Invitations sent before the person joined some other way: acceptance updates the role.
    admin = make_user(admin=True)
    olga = make_user("olga@example.com")
    jo = make_user("jo@example.com")
    brand = make_brand(session, "acme")
    to_jo = _invite(session, admin, brand, "jo@example.com", Role.MARKETER, clock)
    to_olga = _invite(session, admin, brand, "olga@example.com", Role.JURY, clock)
    add_member(session, brand, jo, Role.JURY)
    add_member(session, brand, olga, Role.OWNER)

    membership, _ = invitations.accept_invitation(
        session=session, tokens=TOKENS, token=to_jo, user=jo, clock=clock
    )
    assert membership.role == "marketer"
    with pytest.raises(ValidationFailed) as refused:
        invitations.accept_invitation(
            session=session, tokens=TOKENS, token=to_olga, user=olga, clock=clock
        )
    assert "at least one owner" in refused.value.errors[""]
    session.rollback()
    owners = session.exec(select(Membership).where(Membership.role == "owner")).all()
    assert [m.user_id for m in owners] == [olga.id]


def test_last_owner_can_be_neither_demoted_nor_removed(session: Session, make_user: Any) -> None:
    owner, other = make_user(), make_user()
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER), (other, Role.MARKETER)])
    assert owner.id is not None and other.id is not None
    with pytest.raises(ValidationFailed):
        changes.change_role(
            session=session, actor=owner, brand=brand, user_id=owner.id, role=Role.JURY
        )
    session.rollback()
    with pytest.raises(ValidationFailed):
        changes.remove_member(session=session, actor=owner, brand=brand, user_id=owner.id)
    session.rollback()
    changes.change_role(
        session=session, actor=owner, brand=brand, user_id=other.id, role=Role.OWNER
    )
    assert changes.remove_member(session=session, actor=owner, brand=brand, user_id=owner.id)
    assert [m.user_id for m in session.exec(select(Membership))] == [other.id]
    assert _actions(session)[-2:] == ["brand.role_changed", "brand.member_removed"]


def test_changes_through_another_brand_find_nothing(
    session: Session, make_user: Any, clock: FrozenClock
) -> None:
    owner_a, owner_b, member_b = make_user(), make_user(), make_user()
    brand_a = make_brand(session, "brand-a", members=[(owner_a, Role.OWNER)])
    brand_b = make_brand(session, "brand-b", members=[(owner_b, Role.OWNER), (member_b, Role.JURY)])
    assert member_b.id is not None
    _invite(session, owner_b, brand_b, "x@example.com", Role.JURY, clock)
    invitation = session.exec(select(Invitation)).one()
    assert invitation.id is not None
    args = {"session": session, "actor": owner_a, "brand": brand_a}
    assert changes.remove_member(**args, user_id=member_b.id) is False
    assert changes.change_role(**args, user_id=member_b.id, role=Role.OWNER) is None
    assert invitations.revoke_invitation(**args, invitation_id=invitation.id, clock=clock) is None
    with pytest.raises(service.NotAllowed):
        changes.remove_member(session=session, actor=owner_a, brand=brand_b, user_id=member_b.id)


def test_invitation_mail_is_in_the_invitees_language(
    session: Session, make_user: Any, clock: FrozenClock
) -> None:
    owner = make_user()
    brand = make_brand(session, "acme", name="Acme", members=[(owner, Role.OWNER)])
    french = make_user("fr@example.com")
    french.locale = "fr"
    session.add(french)
    session.commit()
    _invite(session, owner, brand, "fr@example.com", Role.JURY, clock)
    mail = session.exec(select(OutboxEmail).where(OutboxEmail.to == "fr@example.com")).one()
    assert mail.subject == "Rejoignez Acme sur cocreate"
    assert "Membre du jury" in mail.body
