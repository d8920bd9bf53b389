"""Friendly error pages in the visitor's language, for every status we send."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from cocreate.concurrency import RETRY_AFTER_SECONDS, Busy, RequestThreads
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
    if status == 503 and detail == "busy":
        return _("Very busy right now"), _(
            "Many people are here at the same time. Please try again in a few seconds."
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


async def _drawn(request: Request, status: int, detail: str | None = None) -> Response:
    """The error page, drawn in a request thread (it shows the signed-in account, read from
    the database); without the account, on the event loop, when no thread is free."""

    def draw() -> Response:
        _use_locale(request, load_user=True)
        return _page(request, status, detail)

    threads: RequestThreads = request.app.state.threads
    try:
        return await threads.run(draw)
    except Busy:
        return _without_database(request, status, detail)


def _without_database(request: Request, status: int, detail: str | None = None) -> Response:
    request.state.user = None
    _use_locale(request, load_user=False)
    return _page(request, status, detail)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status in (204, 304):
        return Response(status_code=status)
    detail = exc.detail if isinstance(exc.detail, str) else None
    response = await _drawn(request, status, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def overloaded(request: Request, exc: Exception) -> Response:
    """No request thread, database connection or CPU slot came free in time: a 503 to retry
    soon, drawn on the event loop without the database (which is what is short)."""
    log.warning("overloaded on %s %s: %s", request.method, request.url.path, exc)
    response = _without_database(request, 503, "busy")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The database refused or dropped the connection (or SQLite stayed locked): a 503 the
    visitor can retry, not a 500. The page is drawn without the account, which needs it."""
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    response = _without_database(request, 503)
    response.headers["Retry-After"] = "30"
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    hsts = bool(getattr(request.app.state, "settings", None) and request.app.state.settings.https)
    try:
        response = await _drawn(request, 500)
    except Exception:  # the error page itself must never fail
        log.exception("the error page failed too")
        response = PlainTextResponse("Internal Server Error", status_code=500)
    # Starlette sends this page from outside every middleware: add the headers here.
    for name, value in security_headers(hsts=hsts):
        response.headers.setdefault(name.decode(), value.decode())
    return response
