"""Rendering: one Jinja environment, and the page-or-fragment decision in one place."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

from jinja2 import Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.templating import Jinja2Templates

from cocreate import i18n
from cocreate.art import idea_picture
from cocreate.security.csrf import csrf_token

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
HTMX = "vendor/htmx-2.0.11.min.js"
T = TypeVar("T")


class _Lazy(Sequence[T]):
    """A list computed on first use: a template that never reads it (an htmx fragment, a
    plain page without a header) costs no query and consumes nothing (flash messages)."""

    def __init__(self, compute: Callable[[], list[T]]) -> None:
        self._compute: Callable[[], list[T]] | None = compute
        self._items: list[T] = []

    def _get(self) -> list[T]:
        if self._compute is not None:
            self._items, self._compute = self._compute(), None
        return self._items

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator[T]:
        return iter(self._get())


def _context(request: Request) -> dict[str, Any]:
    from cocreate.security.access import current_user
    from cocreate.security.permissions import navigation

    has_session = "session" in request.scope
    user = current_user(request) if has_session else None
    return {
        "user": user,
        # Both read only by the page layout (base.html), never by a fragment: the navigation
        # costs a query for a signed-in person, and popping the flashes would lose them.
        "nav": _Lazy(lambda: navigation(request, user)),
        "locale": getattr(request.state, "locale", i18n.DEFAULT_LOCALE),
        "locales": i18n.LOCALE_NAMES,
        "csrf_token": (lambda: csrf_token(request)) if has_session else None,
        "settings": request.app.state.settings,
        "htmx_js": HTMX,
        "flashes": _Lazy(lambda: pop_flashes(request)) if has_session else [],
    }


def make_templates() -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        # Every template escapes (a plain True: no function call for each new context).
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # No stat() of every template and include on every render: templates change only
        # with a new release, and a new release restarts the server.
        auto_reload=False,
    )
    # Newstyle: a translation is always a format string, its variables escaped.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.globals["idea_picture"] = idea_picture  # a photo or placeholder art (cocreate/art.py)
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
