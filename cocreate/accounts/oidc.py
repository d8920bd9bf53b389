"""Sign in with any number of OpenID Connect providers (authlib, authorization code + PKCE)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth
from httpx2 import HTTPError  # authlib's HTTP client: a closed port raises httpx2.ConnectError
from joserfc.errors import JoseError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cocreate.accounts.models import Identity, User
from cocreate.accounts.routes import log_in
from cocreate.accounts.service import get_user_by_email, send_email_change_link
from cocreate.audit.service import record
from cocreate.clock import Clock, system_clock
from cocreate.forms import normalise_email
from cocreate.i18n import gettext as _
from cocreate.security.access import PUBLIC, blocking, db, route
from cocreate.security.redirects import safe_next
from cocreate.security.tokens import Tokens
from cocreate.settings import OIDCProvider, Settings
from cocreate.web import redirect, render

log = logging.getLogger(__name__)


class AccountConflict(Exception):
    """The provider's email belongs to an account, but the provider did not verify it."""


class AccountDisabled(Exception):
    """The identity or the email leads to an account that may not sign in."""


def make_oauth(settings: Settings) -> OAuth:
    oauth = OAuth()
    for provider in settings.oidc_providers:
        oauth.register(
            name=provider.name,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=provider.metadata_url,
            client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        )
    return oauth


def _claimed_email(claims: dict[str, Any]) -> str | None:
    raw = claims.get("email")
    if not isinstance(raw, str):
        return None
    try:
        return normalise_email(raw)
    except ValueError:
        return None


def sign_in_with_identity(
    *,
    session: Session,
    tokens: Tokens,
    base_url: str,
    provider: OIDCProvider,
    claims: dict[str, Any],
    locale: str | None = None,
    clock: Clock = system_clock,
) -> User:
    """The account for these ID-token claims: linked, matched by verified email, or new.

    Raises AccountConflict when an unverified email matches an account, AccountDisabled when
    the account may not sign in.
    """
    attempt = partial(
        _sign_in,
        session=session,
        tokens=tokens,
        base_url=base_url,
        provider=provider,
        claims=claims,
        locale=locale,
        clock=clock,
    )
    try:
        return attempt()
    except IntegrityError:
        # Two callbacks for the same new person at once (a double click): the other one
        # created the account or the link, which the second attempt finds.
        session.rollback()
        return attempt()


def _sign_in(
    *,
    session: Session,
    tokens: Tokens,
    base_url: str,
    provider: OIDCProvider,
    claims: dict[str, Any],
    locale: str | None,
    clock: Clock,
) -> User:
    issuer, subject = str(claims.get("iss") or provider.issuer), str(claims["sub"])
    identity = session.exec(
        select(Identity).where(Identity.issuer == issuer, Identity.subject == subject)
    ).first()
    if identity is not None:
        user = session.get(User, identity.user_id)
        if user is None or not user.is_active:
            raise AccountDisabled()
        return user
    now = clock.now()
    email = _claimed_email(claims)
    verified = email is not None and claims.get("email_verified") is True
    user = get_user_by_email(session=session, email=email) if email else None
    if user is not None:
        if not verified:
            raise AccountConflict("unverified email of an existing account")
        if not user.is_active:
            raise AccountDisabled()
        if not user.is_verified:
            # The provider proves the mailbox; whoever chose this account's password never
            # did. It may be someone who signed up with this address in advance to share the
            # account its owner is about to use: drop the password and its sessions.
            user.email_verified_at = now
            user.password_hash = None
            user.session_version += 1
            session.add(user)
    else:
        name = str(claims.get("name") or claims.get("preferred_username") or "").strip()[:80]
        user = User(
            # An address the provider did not check is not claimed yet: it becomes the
            # account's when its owner opens the link mailed to it. Otherwise a lax provider
            # would let anyone reserve someone else's address (and later share their account).
            email=email if verified else None,
            pending_email=None if verified else email,
            display_name=name or (email.split("@")[0] if email else _("New member")),
            email_verified_at=now if verified else None,
            locale=locale,
            created_at=now,
        )
        session.add(user)
        session.flush()
        record(
            session=session,
            actor_id=user.id,
            action="account.created",
            subject_type="user",
            subject_id=user.id,
            provider=provider.name,
        )
        if email is not None and not verified:
            send_email_change_link(
                session=session, tokens=tokens, base_url=base_url, user=user, new_email=email
            )
    assert user.id is not None  # flushed above, or read from the database
    session.add(
        Identity(
            user_id=user.id,
            provider=provider.name,
            issuer=issuer,
            subject=subject,
            email=email,
            created_at=now,
        )
    )
    record(
        session=session,
        actor_id=user.id,
        action="account.identity_linked",
        subject_type="user",
        subject_id=user.id,
        provider=provider.name,
    )
    session.commit()
    return user


def _provider(request: Request) -> OIDCProvider:
    name = request.path_params["provider"]
    for provider in request.app.state.settings.oidc_providers:
        if provider.name == name:
            return provider  # type: ignore[no-any-return]
    raise HTTPException(404)


def _failed(request: Request, provider: OIDCProvider, status_code: int) -> Response:
    return render(
        request, "accounts/oidc_failed.html", {"provider": provider}, status_code=status_code
    )


async def oidc_start(request: Request) -> Response:
    """Waits on the provider (discovery), so it runs on the event loop; pages are drawn in a
    request thread (`blocking`)."""
    provider = _provider(request)
    request.session["oidc_next"] = safe_next(request.query_params.get("next"))
    client = request.app.state.oauth.create_client(provider.name)
    callback = f"{request.app.state.settings.base_url}/login/oidc/{provider.name}/callback"
    try:
        response: Response = await client.authorize_redirect(request, callback)
    except (HTTPError, AuthlibBaseError, ValueError) as exc:  # down, or not a provider (no JSON)
        log.warning("OIDC provider %s unreachable: %s", provider.name, exc)
        return await blocking(request, lambda: _failed(request, provider, 502))
    return response


async def oidc_callback(request: Request) -> Response:
    """Waits on the provider (the token), then signs in in a request thread."""
    provider = _provider(request)
    client = request.app.state.oauth.create_client(provider.name)
    try:
        token = await client.authorize_access_token(request)
    except HTTPError as exc:
        log.warning("OIDC provider %s unreachable: %s", provider.name, exc)
        return await blocking(request, lambda: _failed(request, provider, 502))
    # Wrong or replayed state, refused consent, bad code, or an ID token that fails checks.
    except (AuthlibBaseError, JoseError, ValueError, KeyError) as exc:
        log.info("OIDC sign-in with %s failed: %s", provider.name, exc)
        return await blocking(request, lambda: _failed(request, provider, 400))
    claims = dict(token.get("userinfo") or {})
    return await blocking(request, lambda: _signed_in(request, provider, claims))


def _signed_in(request: Request, provider: OIDCProvider, claims: dict[str, Any]) -> Response:
    """In a request thread: the account the provider's claims name, signed in."""
    if not claims.get("sub"):
        return _failed(request, provider, 400)
    try:
        user = sign_in_with_identity(
            session=db(request),
            tokens=request.app.state.tokens,
            base_url=request.app.state.settings.base_url,
            provider=provider,
            claims=claims,
            locale=request.state.locale,
            clock=request.app.state.clock,
        )
    except AccountConflict:
        return render(
            request, "accounts/oidc_conflict.html", {"provider": provider}, status_code=409
        )
    except AccountDisabled:
        raise HTTPException(403) from None
    next_url = safe_next(request.session.pop("oidc_next", None))
    log_in(request, user)
    return redirect(next_url)


def routes(settings: Settings) -> list[BaseRoute]:
    return [
        route("/login/oidc/{provider}", oidc_start, access=PUBLIC),
        route("/login/oidc/{provider}/callback", oidc_callback, access=PUBLIC),
    ]
