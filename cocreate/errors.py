"""Friendly error pages in the visitor's language, for every status we send."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from cocreate.i18n import gettext as _
from cocreate.i18n import negotiate, set_locale
from cocreate.security.access import close_db
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
    }
    return titles.get(status, (_("Error"), _("The request could not be completed.")))


def _locale(request: Request) -> None:
    chosen = request.session.get("locale") if "session" in request.scope else None
    set_locale(
        chosen if isinstance(chosen, str) else negotiate(request.headers.get("accept-language"))
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status in (204, 304):
        return Response(status_code=status)
    _locale(request)
    detail = exc.detail if isinstance(exc.detail, str) else None
    title, message = _messages(status, detail)
    try:
        response = render(
            request,
            "errors/error.html",
            {"status": status, "title": title, "message": message},
            status_code=status,
        )
    finally:
        close_db(request)  # the page is rendered: give the navigation's connection back
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    try:
        _locale(request)
        title, message = _messages(500, None)
        return render(
            request,
            "errors/error.html",
            {"status": 500, "title": title, "message": message},
            status_code=500,
        )
    except Exception:  # the error page itself must never fail
        return PlainTextResponse("Internal Server Error", status_code=500)
    finally:
        close_db(request)
