from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from cocreate.audit.models import AuditEvent
from cocreate.brands.models import Brand, Invitation, Membership, Role
from cocreate.clock import FrozenClock
from tests.brand_factories import make_brand
from tests.conftest import PASSWORD, Mailbox, log_in, post_form


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _role(session: Session, brand: Brand, user: Any) -> str | None:
    session.rollback()  # see what the app committed
    membership = session.exec(
        select(Membership).where(Membership.brand_id == brand.id, Membership.user_id == user.id)
    ).first()
    role = membership.role if membership else None
    session.rollback()  # end the read: SQLite refuses a later write from a stale snapshot
    return role


def _actions(session: Session) -> list[str]:
    session.rollback()
    actions = [e.action for e in session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]
    session.rollback()
    return actions


def _invite(client: TestClient, slug: str, email: str, role: str) -> Any:
    return post_form(
        client,
        f"/brands/{slug}/invitations",
        {"email": email, "role": role},
        page=f"/brands/{slug}/members",
    )


# Admin: creating brands --------------------------------------------------------------------


def test_admin_creates_a_brand_and_sees_it_listed(
    client: TestClient, make_user: Any, session: Session
) -> None:
    log_in(client, make_user(admin=True))
    page = client.get("/admin/brands")
    assert page.status_code == 200
    assert 'href="/admin/brands"' in page.text  # "Brands" in the navigation
    response = post_form(
        client,
        "/admin/brands",
        {"name": "Green Shoes", "slug": "green-shoes", "owner_email": ""},
        page="/admin/brands",
    )
    assert response.status_code == 303
    page = client.get("/admin/brands")
    assert "The brand Green Shoes is created." in page.text
    assert 'href="/brands/green-shoes"' in page.text
    assert session.exec(select(Brand).where(Brand.slug == "green-shoes")).one().name == (
        "Green Shoes"
    )
    assert "brand.created" in _actions(session)


def test_brand_slug_must_be_lowercase_letters_digits_and_hyphens(
    client: TestClient, make_user: Any, session: Session
) -> None:
    log_in(client, make_user(admin=True))
    for bad in ("Green Shoes", "green_shoes", "-green", "green-", "grün", "a" * 61):
        response = post_form(
            client, "/admin/brands", {"name": "Green", "slug": bad}, page="/admin/brands"
        )
        assert response.status_code == 400, bad
        assert 'aria-invalid="true"' in response.text
        assert (
            "Use only lowercase letters, digits and hyphens" in response.text
            or "Use at most 60 characters." in response.text
        ), bad
    assert session.exec(select(Brand)).first() is None


def test_brand_slug_must_be_unique(client: TestClient, make_user: Any, session: Session) -> None:
    make_brand(session, "acme")
    log_in(client, make_user(admin=True))
    response = post_form(
        client, "/admin/brands", {"name": "Other Acme", "slug": "acme"}, page="/admin/brands"
    )
    assert response.status_code == 400
    assert "Another brand already uses this address." in response.text
    assert len(session.exec(select(Brand)).all()) == 1


def test_creating_a_brand_makes_an_existing_account_its_owner(
    client: TestClient, make_user: Any, session: Session
) -> None:
    owner = make_user("olga@example.com")
    log_in(client, make_user(admin=True))
    response = post_form(
        client,
        "/admin/brands",
        {"name": "Acme", "slug": "acme", "owner_email": "Olga@Example.com"},
        page="/admin/brands",
    )
    assert response.status_code == 303
    brand = session.exec(select(Brand).where(Brand.slug == "acme")).one()
    assert _role(session, brand, owner) == "owner"
    assert "olga@example.com is its owner." in client.get("/admin/brands").text
    assert _actions(session)[-2:] == ["brand.created", "brand.member_added"]


def test_creating_a_brand_for_an_unknown_owner_mails_an_owner_invitation(
    client: TestClient, make_user: Any, session: Session, mailbox: Mailbox, deliver: Any
) -> None:
    log_in(client, make_user(admin=True))
    post_form(
        client,
        "/admin/brands",
        {"name": "Acme", "slug": "acme", "owner_email": "new@example.com"},
        page="/admin/brands",
    )
    invitation = session.exec(select(Invitation)).one()
    assert (invitation.email, invitation.role) == ("new@example.com", "owner")
    deliver()
    assert mailbox.to("new@example.com")[0]["Subject"] == "Join Acme on cocreate"
    assert "/invitations/" in mailbox.last_link("new@example.com")


def test_only_admins_see_the_brands_administration(client: TestClient, make_user: Any) -> None:
    log_in(client, make_user())
    assert 'href="/admin/brands"' not in client.get("/").text
    assert client.get("/admin/brands").status_code == 403


# Invitations ---------------------------------------------------------------------------------


def test_invitee_gets_an_email_logs_in_from_the_link_and_joins_with_the_role(
    app: Any,
    client: TestClient,
    make_user: Any,
    session: Session,
    mailbox: Mailbox,
    deliver: Any,
) -> None:
    owner = make_user("owner@example.com")
    brand = make_brand(session, "acme", name="Acme", members=[(owner, Role.OWNER)])
    invitee = make_user("mia@example.com", name="Mia")
    log_in(client, owner)
    response = _invite(client, "acme", "Mia@Example.com", "moderator")
    assert response.status_code == 303
    members = client.get("/brands/acme/members")
    assert "We sent an invitation to mia@example.com." in members.text
    assert "mia@example.com" in members.text and "Moderator" in members.text

    assert deliver() == 1
    mail = mailbox.to("mia@example.com")[0]
    assert mail["Subject"] == "Join Acme on cocreate"
    link = _path(mailbox.last_link("mia@example.com"))
    assert link.startswith("/invitations/")

    with TestClient(app, base_url="http://testserver", follow_redirects=False) as browser:
        response = browser.get(link)
        assert response.status_code == 303
        login_url = response.headers["location"]
        assert login_url.startswith("/login?next=")
        login_page = browser.get(login_url)
        assert 'name="next"' in login_page.text
        response = post_form(
            browser,
            "/login",
            {"email": "mia@example.com", "password": PASSWORD, "next": link},
            page=login_url,
        )
        assert response.status_code == 303 and response.headers["location"] == link
        page = browser.get(link)
        assert page.status_code == 200
        assert "Acme" in page.text and "Moderator" in page.text
        assert "Accept the invitation" in page.text
        response = post_form(browser, link, page=link)
        assert response.status_code == 303
        assert response.headers["location"] == "/brands/acme"
        home = browser.get("/brands/acme")
        assert home.status_code == 200
        assert "Welcome to Acme! Your role: Moderator." in home.text
        assert 'href="/brands/acme"' in home.text  # the brand is in the navigation
        # A moderator does not manage members.
        assert browser.get("/brands/acme/members").status_code == 403

    assert _role(session, brand, invitee) == "moderator"
    assert "brand.invitation_accepted" in _actions(session)
    assert "brand.member_invited" in _actions(session)


def test_another_account_cannot_accept_an_invitation(
    client: TestClient, make_user: Any, session: Session, mailbox: Mailbox, deliver: Any
) -> None:
    owner = make_user("owner@example.com")
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    log_in(client, owner)
    _invite(client, "acme", "mia@example.com", "marketer")
    deliver()
    link = _path(mailbox.last_link("mia@example.com"))
    post_form(client, "/logout", page="/account")

    intruder = make_user("eve@example.com")
    log_in(client, intruder)
    page = client.get(link)
    assert page.status_code == 403
    assert "This invitation was sent to mia@example.com" in page.text
    assert "Accept the invitation" not in page.text
    response = post_form(client, link, page="/account")
    assert response.status_code == 403
    assert _role(session, brand, intruder) is None
    assert session.exec(select(Invitation)).one().accepted_at is None


def test_an_unverified_account_cannot_accept_until_its_email_is_confirmed(
    client: TestClient, make_user: Any, session: Session, mailbox: Mailbox, deliver: Any
) -> None:
    owner = make_user("owner@example.com")
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    log_in(client, owner)
    _invite(client, "acme", "mia@example.com", "jury")
    deliver()
    link = _path(mailbox.last_link("mia@example.com"))
    post_form(client, "/logout", page="/account")

    mia = make_user("mia@example.com", verified=False)
    log_in(client, mia)
    page = client.get(link)
    assert page.status_code == 403
    assert "Confirm your email address first" in page.text
    assert post_form(client, link, page="/account").status_code == 403
    assert _role(session, brand, mia) is None


def test_an_expired_invitation_is_refused(
    client: TestClient,
    make_user: Any,
    session: Session,
    mailbox: Mailbox,
    deliver: Any,
    clock: FrozenClock,
) -> None:
    owner = make_user("owner@example.com")
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    log_in(client, owner)
    _invite(client, "acme", "mia@example.com", "marketer")
    deliver()
    link = _path(mailbox.last_link("mia@example.com"))
    post_form(client, "/logout", page="/account")

    mia = make_user("mia@example.com")
    log_in(client, mia)
    clock.advance(days=8)
    page = client.get(link)
    assert page.status_code == 410
    assert "This invitation has expired." in page.text
    assert post_form(client, link, page="/account").status_code == 410
    assert _role(session, brand, mia) is None


def test_an_invitation_works_once(
    client: TestClient, make_user: Any, session: Session, mailbox: Mailbox, deliver: Any
) -> None:
    owner = make_user("owner@example.com")
    make_brand(session, "acme", members=[(owner, Role.OWNER)])
    log_in(client, owner)
    _invite(client, "acme", "mia@example.com", "marketer")
    deliver()
    link = _path(mailbox.last_link("mia@example.com"))
    post_form(client, "/logout", page="/account")
    log_in(client, make_user("mia@example.com"))
    assert post_form(client, link, page=link).status_code == 303
    page = client.get(link)
    assert page.status_code == 410
    assert "This invitation has already been accepted." in page.text


def test_a_tampered_invitation_link_is_refused(client: TestClient, make_user: Any) -> None:
    log_in(client, make_user())
    page = client.get("/invitations/not-a-real-token")
    assert page.status_code == 400
    assert "This invitation link does not work." in page.text


def test_inviting_the_same_email_again_replaces_the_open_invitation(
    client: TestClient, make_user: Any, session: Session, mailbox: Mailbox, deliver: Any
) -> None:
    owner = make_user("owner@example.com")
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    log_in(client, owner)
    _invite(client, "acme", "mia@example.com", "marketer")
    _invite(client, "acme", "mia@example.com", "moderator")
    members = client.get("/brands/acme/members").text
    assert members.count("<td>mia@example.com</td>") == 1
    deliver()
    first, second = (m.get_payload(decode=True) for m in mailbox.to("mia@example.com"))
    assert isinstance(first, bytes) and isinstance(second, bytes)
    old_link = _path(re.findall(r"https?://\S+", first.decode())[-1])
    new_link = _path(re.findall(r"https?://\S+", second.decode())[-1])
    post_form(client, "/logout", page="/account")

    mia = make_user("mia@example.com")
    log_in(client, mia)
    page = client.get(old_link)
    assert page.status_code == 410 and "withdrawn or replaced" in page.text
    assert post_form(client, new_link, page=new_link).status_code == 303
    assert _role(session, brand, mia) == "moderator"


def test_owner_withdraws_an_invitation(
    client: TestClient, make_user: Any, session: Session, mailbox: Mailbox, deliver: Any
) -> None:
    owner = make_user("owner@example.com")
    make_brand(session, "acme", members=[(owner, Role.OWNER)])
    log_in(client, owner)
    _invite(client, "acme", "mia@example.com", "marketer")
    invitation_id = session.exec(select(Invitation.id)).one()
    session.rollback()  # end the read: SQLite refuses a later write from a stale snapshot
    response = post_form(
        client,
        f"/brands/acme/invitations/{invitation_id}/revoke",
        page="/brands/acme/members",
    )
    assert response.status_code == 303
    page = client.get("/brands/acme/members")
    assert "The invitation to mia@example.com is withdrawn." in page.text
    assert "No open invitation." in page.text
    assert "brand.invitation_revoked" in _actions(session)
    deliver()
    link = _path(mailbox.last_link("mia@example.com"))
    post_form(client, "/logout", page="/account")
    log_in(client, make_user("mia@example.com"))
    assert "withdrawn or replaced" in client.get(link).text


def test_inviting_a_current_member_says_to_change_the_role_instead(
    client: TestClient, make_user: Any, session: Session
) -> None:
    owner = make_user("owner@example.com")
    member = make_user("mia@example.com")
    make_brand(session, "acme", members=[(owner, Role.OWNER), (member, Role.JURY)])
    log_in(client, owner)
    response = _invite(client, "acme", "mia@example.com", "marketer")
    assert response.status_code == 400
    assert "This person is already a member." in response.text
    assert session.exec(select(Invitation)).first() is None


def test_invite_form_errors_are_shown_in_french(
    client: TestClient, make_user: Any, session: Session
) -> None:
    owner = make_user("owner@example.com")
    make_brand(session, "acme", members=[(owner, Role.OWNER)])
    log_in(client, owner)
    post_form(client, "/language", {"locale": "fr", "next": "/"}, page="/account")
    response = _invite(client, "acme", "not an email", "emperor")
    assert response.status_code == 400
    assert "Saisissez une adresse e-mail valide" in response.text
    assert "Inviter quelqu’un" in response.text or "Inviter quelqu'un" in response.text


# Members and roles ---------------------------------------------------------------------------


def test_owner_changes_a_role_and_removes_a_member(
    client: TestClient, make_user: Any, session: Session
) -> None:
    owner = make_user("owner@example.com")
    member = make_user("mia@example.com", name="Mia")
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER), (member, Role.JURY)])
    log_in(client, owner)
    page = client.get("/brands/acme/members")
    assert "Mia" in page.text
    response = post_form(
        client, f"/brands/acme/members/{member.id}/role", {"role": "marketer"}, page=page.url.path
    )
    assert response.status_code == 303
    assert "The role is changed." in client.get("/brands/acme/members").text
    assert _role(session, brand, member) == "marketer"
    response = post_form(client, f"/brands/acme/members/{member.id}/remove", page=page.url.path)
    assert response.status_code == 303
    assert _role(session, brand, member) is None
    actions = _actions(session)
    assert "brand.role_changed" in actions and "brand.member_removed" in actions


def test_the_last_owner_cannot_be_removed_or_demoted(
    client: TestClient, make_user: Any, session: Session
) -> None:
    owner = make_user("owner@example.com")
    brand = make_brand(session, "acme", members=[(owner, Role.OWNER)])
    log_in(client, owner)
    for action, data in (("remove", {}), ("role", {"role": "marketer"})):
        response = post_form(
            client,
            f"/brands/acme/members/{owner.id}/{action}",
            data,
            page="/brands/acme/members",
        )
        assert response.status_code == 400
        assert "A brand must keep at least one owner." in response.text
    assert _role(session, brand, owner) == "owner"


def test_an_owner_may_step_down_when_another_owner_remains(
    client: TestClient, make_user: Any, session: Session
) -> None:
    first = make_user("first@example.com")
    second = make_user("second@example.com")
    brand = make_brand(session, "acme", members=[(first, Role.OWNER), (second, Role.OWNER)])
    log_in(client, first)
    response = post_form(
        client,
        f"/brands/acme/members/{first.id}/role",
        {"role": "moderator"},
        page="/brands/acme/members",
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/brands/acme"  # no longer sees the members page
    assert _role(session, brand, first) == "moderator"
    assert _role(session, brand, second) == "owner"


def test_member_ids_of_another_brand_are_not_found_through_this_one(
    client: TestClient, make_user: Any, session: Session
) -> None:
    owner_a = make_user("a@example.com")
    member_b = make_user("b@example.com")
    owner_b = make_user("bb@example.com")
    make_brand(session, "brand-a", members=[(owner_a, Role.OWNER)])
    brand_b = make_brand(
        session, "brand-b", members=[(owner_b, Role.OWNER), (member_b, Role.MARKETER)]
    )
    session.add(
        Invitation(
            brand_id=brand_b.id,  # type: ignore[arg-type]
            email="x@example.com",
            role="jury",
            expires_at=brand_b.created_at.replace(year=brand_b.created_at.year + 1),
        )
    )
    session.commit()
    invitation = session.exec(select(Invitation)).one()
    log_in(client, owner_a)
    page = "/brands/brand-a/members"
    response = post_form(client, f"/brands/brand-a/members/{member_b.id}/remove", page=page)
    assert response.status_code == 404
    assert (
        post_form(
            client, f"/brands/brand-a/members/{member_b.id}/role", {"role": "jury"}, page=page
        ).status_code
        == 404
    )
    assert (
        post_form(
            client, f"/brands/brand-a/invitations/{invitation.id}/revoke", page=page
        ).status_code
        == 404
    )
    assert _role(session, brand_b, member_b) == "marketer"
    session.refresh(invitation)
    assert invitation.revoked_at is None


def test_a_moderator_of_one_brand_is_refused_on_another_brands_pages(
    client: TestClient, make_user: Any, session: Session
) -> None:
    moderator = make_user("mod@example.com")
    owner_b = make_user("owner-b@example.com")
    make_brand(session, "brand-a", name="Brand A", members=[(moderator, Role.MODERATOR)])
    make_brand(session, "brand-b", name="Brand B", members=[(owner_b, Role.OWNER)])
    log_in(client, moderator)
    home = client.get("/brands/brand-a")
    assert home.status_code == 200
    assert "Brand A" in home.text and "Moderator" in home.text
    assert 'href="/brands/brand-b"' not in home.text
    assert client.get("/brands/brand-b").status_code == 403
    assert client.get("/brands/brand-b/members").status_code == 403
    page = "/brands/brand-a"
    for path, data in (
        ("/brands/brand-b/invitations", {"email": "x@example.com", "role": "owner"}),
        (f"/brands/brand-b/members/{owner_b.id}/remove", {}),
        (f"/brands/brand-b/members/{owner_b.id}/role", {"role": "jury"}),
    ):
        assert post_form(client, path, data, page=page).status_code == 403, path
    assert session.exec(select(Invitation)).first() is None


def test_strange_ids_and_slugs_give_not_found_never_an_error(
    client: TestClient, make_user: Any, session: Session
) -> None:
    owner = make_user("owner@example.com")
    make_brand(session, "acme", members=[(owner, Role.OWNER)])
    log_in(client, make_user(admin=True))
    page = "/brands/acme/members"
    huge = "9" * 30
    assert post_form(client, f"/brands/acme/members/{huge}/remove", page=page).status_code == 404
    assert (
        post_form(client, f"/brands/acme/invitations/{huge}/revoke", page=page).status_code == 404
    )
    for slug in ("no-such-brand", "a%00b", "UPPER", "x" * 500):
        assert client.get(f"/brands/{slug}").status_code == 404, slug


def test_an_error_page_gives_its_database_connection_back(
    app: Any, client: TestClient, make_user: Any, session: Session
) -> None:
    # The error page's navigation reads the signed-in user's brands after the handler's
    # session was closed; a session left open there kept a connection "idle in transaction".
    member = make_user()
    make_brand(session, "acme", members=[(member, Role.JURY)])
    log_in(client, member)
    assert client.get("/brands/acme/members").status_code == 403
    assert client.get("/no/such/page").status_code == 404
    assert app.state.db.engine.pool.checkedout() == 0
