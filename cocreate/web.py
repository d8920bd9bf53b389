"""Rendering: one Jinja environment, and the page-or-fragment decision in one place."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from cocreate import i18n
from cocreate.security.csrf import csrf_token

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
HTMX = "vendor/htmx-2.0.11.min.js"


def _context(request: Request) -> dict[str, Any]:
    from cocreate.security.access import current_user
    from cocreate.security.permissions import navigation

    user = current_user(request) if "session" in request.scope else None
    return {
        "user": user,
        "nav": navigation(request, user),
        "locale": getattr(request.state, "locale", i18n.DEFAULT_LOCALE),
        "locales": i18n.LOCALE_NAMES,
        "csrf_token": (lambda: csrf_token(request)) if "session" in request.scope else None,
        "settings": request.app.state.settings,
        "htmx_js": HTMX,
        "flashes": pop_flashes(request) if "session" in request.scope else [],
    }


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    return Jinja2Templates(env=env, context_processors=[_context])


def is_htmx_fragment_request(request: Request) -> bool:
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-boosted") != "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    fragment: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The full page, or only `fragment` for an htmx request that asked for a piece of it."""
    templates: Jinja2Templates = request.app.state.templates
    name = fragment if fragment and is_htmx_fragment_request(request) else template
    response = templates.TemplateResponse(
        request, name, dict(context or {}), status_code=status_code
    )
    if fragment:
        response.headers["Vary"] = "HX-Request"
    return response


def redirect(
    url: str, *, flash: str | None = None, request: Request | None = None
) -> RedirectResponse:
    if flash and request is not None:
        add_flash(request, flash)
    return RedirectResponse(url, status_code=303)


def add_flash(request: Request, message: str) -> None:
    # Assign a new list: Starlette saves the session cookie only when a key is set, so an
    # append to the list already there (a second flash before the next page) would be lost.
    flashes = request.session.get("flashes")
    kept = [f for f in flashes if isinstance(f, str)] if isinstance(flashes, list) else []
    request.session["flashes"] = [*kept, message]


def pop_flashes(request: Request) -> list[str]:
    flashes = request.session.pop("flashes", None)
    return [f for f in flashes if isinstance(f, str)] if isinstance(flashes, list) else []
