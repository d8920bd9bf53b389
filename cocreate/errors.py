"""Friendly error pages in the visitor's language, for every status we send."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from cocreate.i18n import gettext as _
from cocreate.i18n import negotiate, set_locale
from cocreate.security.access import close_db
from cocreate.security.headers import security_headers
from cocreate.web import render

log = logging.getLogger(__name__)


def _messages(status: int, detail: str | None) -> tuple[str, str]:
    if status == 403 and detail == "csrf":
        return _("This form has expired"), _(
            "For your security the form could not be sent. Go back, reload the page and try again."
        )
    if status == 403 and detail == "unverified":
        return _("Please verify your email"), _(
            "Open the link we sent to your email address to use this page. "
            "You can ask for a new link on your account page."
        )
    titles = {
        400: (_("Bad request"), _("The request could not be understood.")),
        403: (_("Not allowed"), _("You do not have permission to see this page.")),
        404: (_("Page not found"), _("There is nothing at this address.")),
        405: (_("Method not allowed"), _("This page cannot be used that way.")),
        413: (_("Too large"), _("What you sent is too large.")),
        429: (_("Too many requests"), _("Please wait a moment and try again.")),
        500: (_("Something went wrong"), _("An error happened on our side. Please try again.")),
        503: (
            _("Temporarily unavailable"),
            _("The site cannot answer right now. Please try again in a few minutes."),
        ),
    }
    return titles.get(status, (_("Error"), _("The request could not be completed.")))


def _use_locale(request: Request, *, load_user: bool) -> None:
    """The language of the page that failed; when no route chose it (404, 405, 413 before
    routing), the signed-in person's choice, else the browser's."""
    from cocreate.security.access import choose_locale, current_user

    locale = getattr(request.state, "locale", None)
    if not isinstance(locale, str):
        if "session" in request.scope:
            user = None
            if load_user:
                try:
                    user = current_user(request)
                except SQLAlchemyError:
                    request.state.user = None
            locale = choose_locale(request, user)
        else:
            locale = negotiate(request.headers.get("accept-language"))
    request.state.locale = locale
    set_locale(locale)


def _page(request: Request, status: int, detail: str | None = None) -> Response:
    try:
        title, message = _messages(status, detail)
        return render(
            request,
            "errors/error.html",
            {"status": status, "title": title, "message": message},
            status_code=status,
        )
    finally:
        # The route wrapper closed its database session before the exception reached us;
        # rendering (the user, the navigation) may have opened it again. Left open, it would
        # hold a connection "idle in transaction" and block migrations and TRUNCATE.
        close_db(request)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status in (204, 304):
        return Response(status_code=status)
    _use_locale(request, load_user=True)
    detail = exc.detail if isinstance(exc.detail, str) else None
    response = _page(request, status, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The database refused or dropped the connection (or SQLite stayed locked): a 503 the
    visitor can retry, not a 500. The page is drawn without the account, which needs it."""
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    request.state.user = None
    _use_locale(request, load_user=False)
    response = _page(request, 503)
    response.headers["Retry-After"] = "30"
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    hsts = bool(getattr(request.app.state, "settings", None) and request.app.state.settings.https)
    try:
        _use_locale(request, load_user=True)
        response = _page(request, 500)
    except Exception:  # the error page itself must never fail
        log.exception("the error page failed too")
        response = PlainTextResponse("Internal Server Error", status_code=500)
    # Starlette sends this page from outside every middleware: add the headers here.
    for name, value in security_headers(hsts=hsts):
        response.headers.setdefault(name.decode(), value.decode())
    return response
