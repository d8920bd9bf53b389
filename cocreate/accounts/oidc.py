"""Sign in with any number of OpenID Connect providers (authlib, authorization code + PKCE)."""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.starlette_client import OAuth, OAuthError
from httpx import HTTPError
from sqlmodel import Session, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from cocreate.accounts.models import Identity, User
from cocreate.accounts.routes import log_in
from cocreate.accounts.service import get_user_by_email
from cocreate.audit.service import record
from cocreate.clock import Clock, system_clock
from cocreate.forms import normalise_email
from cocreate.i18n import gettext as _
from cocreate.security.access import PUBLIC, db, route
from cocreate.security.redirects import safe_next
from cocreate.settings import OIDCProvider, Settings
from cocreate.web import redirect, render

log = logging.getLogger(__name__)


class AccountConflict(Exception):
    """The provider's email belongs to an account, but the provider did not verify it."""


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


def sign_in_with_identity(
    *,
    session: Session,
    provider: OIDCProvider,
    claims: dict[str, Any],
    clock: Clock = system_clock,
) -> User:
    """The account for these ID-token claims: linked, matched by verified email, or new."""
    issuer, subject = str(claims.get("iss") or provider.issuer), str(claims["sub"])
    identity = session.exec(
        select(Identity).where(Identity.issuer == issuer, Identity.subject == subject)
    ).first()
    if identity is not None:
        user = session.get(User, identity.user_id)
        if user is None or not user.is_active:
            raise AccountConflict("account disabled")
        return user
    email: str | None = None
    raw_email = claims.get("email")
    if isinstance(raw_email, str):
        try:
            email = normalise_email(raw_email)
        except ValueError:
            email = None
    verified = claims.get("email_verified") is True
    user = get_user_by_email(session=session, email=email) if email else None
    if user is not None and (not verified or not user.is_active):
        raise AccountConflict("unverified email of an existing account")
    if user is None:
        name = str(claims.get("name") or claims.get("preferred_username") or "")[:80].strip()
        user = User(
            email=email,
            display_name=name or (email.split("@")[0] if email else _("New member")),
            email_verified_at=clock.now() if (email and verified) else None,
            created_at=clock.now(),
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
    elif user.email_verified_at is None:
        user.email_verified_at = clock.now()  # the provider vouches for the mailbox
        session.add(user)
    assert user.id is not None  # flushed above
    session.add(
        Identity(
            user_id=user.id,
            provider=provider.name,
            issuer=issuer,
            subject=subject,
            email=email,
            created_at=clock.now(),
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


async def oidc_start(request: Request) -> Response:
    provider = _provider(request)
    request.session["oidc_next"] = safe_next(request.query_params.get("next"))
    client = request.app.state.oauth.create_client(provider.name)
    callback = f"{request.app.state.settings.base_url}/login/oidc/{provider.name}/callback"
    try:
        response: Response = await client.authorize_redirect(request, callback)
    except (OAuthError, HTTPError) as exc:
        log.warning("OIDC provider %s unreachable: %s", provider.name, exc)
        return render(request, "accounts/oidc_failed.html", {"provider": provider}, status_code=502)
    return response


async def oidc_callback(request: Request) -> Response:
    provider = _provider(request)
    client = request.app.state.oauth.create_client(provider.name)
    try:
        token = await client.authorize_access_token(request)
    except (OAuthError, HTTPError, ValueError, KeyError) as exc:
        log.info("OIDC sign-in with %s failed: %s", provider.name, exc)
        return render(request, "accounts/oidc_failed.html", {"provider": provider}, status_code=400)
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub"):
        return render(request, "accounts/oidc_failed.html", {"provider": provider}, status_code=400)
    try:
        user = sign_in_with_identity(
            session=db(request), provider=provider, claims=claims, clock=request.app.state.clock
        )
    except AccountConflict:
        return render(
            request, "accounts/oidc_conflict.html", {"provider": provider}, status_code=409
        )
    next_url = safe_next(request.session.pop("oidc_next", None))
    log_in(request, user)
    return redirect(next_url)


def routes(settings: Settings) -> list[BaseRoute]:
    return [
        route("/login/oidc/{provider}", oidc_start, access=PUBLIC),
        route("/login/oidc/{provider}/callback", oidc_callback, access=PUBLIC),
    ]
