"""Account rules: sign-up, verification, log-in, password reset, email change, deletion.

Responses never reveal whether an email has an account (sign-up and forgotten password
answer the same either way; the mailbox owner is told by email instead).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select, update

from cocreate.accounts.models import Identity, User
from cocreate.audit.service import record
from cocreate.brands.models import Membership
from cocreate.clock import Clock, system_clock
from cocreate.db import begin_write
from cocreate.forms import ValidationFailed
from cocreate.i18n import gettext as _
from cocreate.notifications.service import queue_email
from cocreate.security.passwords import hash_password, password_problems, verify_password
from cocreate.security.tokens import InvalidToken, Tokens

VERIFY_MAX_AGE = int(timedelta(days=2).total_seconds())
RESET_MAX_AGE = int(timedelta(hours=1).total_seconds())


def _account_state(user: User) -> tuple[str | None, str | None]:
    """What a mailed link is bound to: when the address or the password changes, every
    verification, reset and email-change link made before dies."""
    return user.email, user.password_hash


def _link_data(tokens: Tokens, purpose: str, user: User, **data: object) -> dict[str, object]:
    return {"uid": user.id, **data, "fp": tokens.fingerprint(purpose, *_account_state(user))}


def _still_bound(tokens: Tokens, purpose: str, data: dict[str, object], user: User) -> bool:
    """The link was made for the account as it is now. Verification and email-change links
    mailed before links carried a fingerprint ("fp") keep working by their older rules until
    they expire (two days); a reset link must carry one."""
    if "fp" not in data and purpose != "reset":
        return True
    return tokens.same_state(purpose, data, *_account_state(user))


def get_user_by_email(*, session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def register(
    *,
    session: Session,
    tokens: Tokens,
    base_url: str,
    email: str,
    password: str,
    display_name: str,
    locale: str,
    clock: Clock = system_clock,
) -> User | None:
    """Create an unverified account and mail its verification link.

    When the email already has an account, mail its owner instead and return None: the
    page says the same in both cases, so sign-up cannot be used to test addresses.
    """
    problems = password_problems(password, email=email)
    if problems:
        raise ValidationFailed({"password": " ".join(problems)})
    existing = get_user_by_email(session=session, email=email)
    if existing is not None:
        queue_email(
            session=session,
            to=email,
            template="account_exists",
            locale=existing.locale,
            login_url=f"{base_url}/login",
            reset_url=f"{base_url}/password/forgot",
        )
        session.commit()
        return None
    user = User(
        email=email,
        display_name=display_name,
        password_hash=hash_password(password, session=session),
        locale=locale,
        created_at=clock.now(),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # the same address signed up twice at once: one wins
        session.rollback()
        return None
    send_verification(session=session, tokens=tokens, base_url=base_url, user=user)
    record(
        session=session,
        actor_id=user.id,
        action="account.created",
        subject_type="user",
        subject_id=user.id,
    )
    session.commit()
    return user


def send_verification(*, session: Session, tokens: Tokens, base_url: str, user: User) -> None:
    assert user.email is not None
    token = tokens.make("verify", _link_data(tokens, "verify", user, email=user.email))
    queue_email(
        session=session,
        to=user.email,
        template="verify",
        locale=user.locale,
        name=user.display_name,
        url=f"{base_url}/verify/{token}",
    )


def verify_email(
    *, session: Session, tokens: Tokens, token: str, clock: Clock = system_clock
) -> User:
    """Mark the address in the token verified; InvalidToken if forged, expired or stale (the
    address or the password changed since the link was made)."""
    data = tokens.read("verify", token, max_age_seconds=VERIFY_MAX_AGE)
    user = session.get(User, data.get("uid"))
    if (
        user is None
        or not user.is_active
        or user.email != data.get("email")
        or not _still_bound(tokens, "verify", data, user)
    ):
        raise InvalidToken("no such account, or address or password changed")
    if user.email_verified_at is None:
        user.email_verified_at = clock.now()
        session.add(user)
        session.commit()
    return user


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The active account with this email and password, or None (same time either way)."""
    user = get_user_by_email(session=session, email=email)
    if not verify_password(user.password_hash if user else None, password, session=session):
        return None
    if user is None or not user.is_active:
        return None
    return user


def request_password_reset(*, session: Session, tokens: Tokens, base_url: str, email: str) -> None:
    user = get_user_by_email(session=session, email=email)
    if user is None or not user.is_active:
        return
    token = tokens.make("reset", _link_data(tokens, "reset", user, sv=user.session_version))
    queue_email(
        session=session,
        to=email,
        template="reset_password",
        locale=user.locale,
        name=user.display_name,
        url=f"{base_url}/password/reset/{token}",
    )
    session.commit()


def user_for_reset_token(*, session: Session, tokens: Tokens, token: str) -> User:
    data = tokens.read("reset", token, max_age_seconds=RESET_MAX_AGE)
    user = session.get(User, data.get("uid"))
    # The session version moves on every reset, so a link works once; the fingerprint dies
    # when the address changes (the link went to a mailbox that is no longer the account's)
    # or the password does.
    if (
        user is None
        or not user.is_active
        or user.session_version != data.get("sv")
        or not _still_bound(tokens, "reset", data, user)
    ):
        raise InvalidToken("used or stale")
    return user


def reset_password(
    *, session: Session, tokens: Tokens, token: str, password: str, clock: Clock = system_clock
) -> User:
    user = user_for_reset_token(session=session, tokens=tokens, token=token)
    problems = password_problems(password, email=user.email)
    if problems:
        raise ValidationFailed({"password": " ".join(problems)})
    user.password_hash = hash_password(password, session=session)
    user.session_version += 1  # signs out every other session
    if user.email_verified_at is None:
        user.email_verified_at = clock.now()  # the reset link proved the mailbox
    session.add(user)
    record(
        session=session,
        actor_id=user.id,
        action="account.password_reset",
        subject_type="user",
        subject_id=user.id,
    )
    session.commit()
    return user


def request_email_change(
    *,
    session: Session,
    tokens: Tokens,
    base_url: str,
    user: User,
    new_email: str,
    password: str,
) -> None:
    """Mail a confirmation link to the new address; the old one stays until it is used."""
    if user.password_hash is not None and not verify_password(
        user.password_hash, password, session=session
    ):
        raise ValidationFailed({"password": _("This password is not right.")})
    if new_email == user.email:
        raise ValidationFailed({"email": _("This is already your email address.")})
    taken = get_user_by_email(session=session, email=new_email)
    user.pending_email = new_email
    session.add(user)
    if taken is None:
        send_email_change_link(
            session=session, tokens=tokens, base_url=base_url, user=user, new_email=new_email
        )
    session.commit()


def send_email_change_link(
    *, session: Session, tokens: Tokens, base_url: str, user: User, new_email: str
) -> None:
    """Queue the link that makes `new_email` the account's address once its owner opens it."""
    token = tokens.make("change-email", _link_data(tokens, "change-email", user, email=new_email))
    queue_email(
        session=session,
        to=new_email,
        template="change_email",
        locale=user.locale,
        name=user.display_name,
        url=f"{base_url}/account/email/confirm/{token}",
    )


def confirm_email_change(
    *, session: Session, tokens: Tokens, token: str, clock: Clock = system_clock
) -> User:
    data = tokens.read("change-email", token, max_age_seconds=VERIFY_MAX_AGE)
    user = session.get(User, data.get("uid"))
    new_email = data.get("email")
    if user is None or not user.is_active or not isinstance(new_email, str):
        raise InvalidToken("no such account")
    # Superseded by a later request, or made before the address or the password changed
    # (asking for the same new address again later must not revive the old link).
    if user.pending_email != new_email or not _still_bound(tokens, "change-email", data, user):
        raise InvalidToken("superseded")
    old_email = user.email
    user.email = new_email
    user.pending_email = None
    user.email_verified_at = clock.now()
    session.add(user)
    record(
        session=session,
        actor_id=user.id,
        action="account.email_changed",
        subject_type="user",
        subject_id=user.id,
    )
    try:
        session.commit()
    except IntegrityError:  # someone took the address in between
        session.rollback()
        raise InvalidToken("address taken") from None
    if old_email:
        queue_email(
            session=session,
            to=old_email,
            template="email_changed",
            locale=user.locale,
            name=user.display_name,
            new_email=new_email,
        )
        session.commit()
    return user


def delete_account(
    *, session: Session, user: User, password: str | None, clock: Clock = system_clock
) -> None:
    """Anonymise the account: its ideas and votes stay, nothing points back to the person."""
    if user.password_hash is not None and not verify_password(
        user.password_hash, password or "", session=session
    ):
        raise ValidationFailed({"password": _("This password is not right.")})
    user_id = user.id
    user.email = None
    user.pending_email = None
    user.password_hash = None
    user.display_name = "—"
    user.deleted_at = clock.now()
    user.session_version += 1
    session.add(user)
    session.exec(delete(Identity).where(col(Identity.user_id) == user_id))
    session.exec(delete(Membership).where(col(Membership.user_id) == user_id))
    record(
        session=session,
        actor_id=user_id,
        action="account.deleted",
        subject_type="user",
        subject_id=user_id,
    )
    session.commit()


def sign_out_everywhere(*, session: Session, user: User) -> None:
    """End every session of the account: this browser's, any other device's, and any copy of
    a session cookie. Each cookie carries the account's session version, which moves on here
    in the database itself (a concurrent password reset's bump is not overwritten)."""
    user_id = user.id
    begin_write(session)  # SQLite: the signed-in check's read must not pin an old snapshot
    session.exec(
        update(User)
        .where(col(User.id) == user_id)
        .values(session_version=col(User.session_version) + 1)
    )
    record(
        session=session,
        actor_id=user_id,
        action="account.signed_out_everywhere",
        subject_type="user",
        subject_id=user_id,
    )
    session.commit()


def set_locale(*, session: Session, user: User, locale: str) -> None:
    begin_write(session)  # SQLite: the signed-in check's read must not pin an old snapshot
    user.locale = locale
    session.add(user)
    session.commit()


def create_admin(
    *,
    session: Session,
    email: str,
    password: str,
    display_name: str,
    clock: Clock = system_clock,
) -> User:
    """Create (or promote) a verified administrator account."""
    problems = password_problems(password, email=email)
    if problems:
        raise ValidationFailed({"password": " ".join(problems)})
    user = get_user_by_email(session=session, email=email)
    if user is None:
        user = User(email=email, display_name=display_name, created_at=clock.now())
    user.password_hash = hash_password(password, session=session)
    user.is_admin = True
    user.email_verified_at = user.email_verified_at or clock.now()
    session.add(user)
    session.flush()
    record(
        session=session,
        actor_id=None,
        action="account.admin_granted",
        subject_type="user",
        subject_id=user.id,
    )
    session.commit()
    return user
