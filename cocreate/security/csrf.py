"""CSRF protection for every unsafe request.

Two checks: the browser's own Sec-Fetch-Site / Origin must not say "another site", and the
request must carry the session's token, as the `csrf_token` form field or the `X-CSRFToken`
header (htmx). Our own check because the packages around take the token from only one place.
"""

from __future__ import annotations

import hmac
import secrets
from functools import lru_cache
from urllib.parse import urlsplit

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.types import Scope

from cocreate.security.headers import request_header

FIELD = "csrf_token"
HEADER = "x-csrftoken"
SESSION_KEY = "csrf"


class CSRFError(Exception):
    pass


def _own_netloc(scope: Scope) -> str:
    """`urlsplit(str(request.base_url)).netloc`, without building the base URL (a copy of
    the scope and two URL objects) on every request: it depends only on the scheme, the Host
    header and the server address, which a site sees few distinct values of."""
    server = scope.get("server")
    return _netloc(
        scope.get("scheme", "http"),
        request_header(scope, b"host"),
        None if server is None else tuple(server),
    )


@lru_cache(maxsize=256)
def _netloc(scheme: str, host: bytes | None, server: tuple[str, int] | None) -> str:
    scope: Scope = {
        "type": "http",
        "scheme": scheme,
        "server": server,
        "path": "/",
        "query_string": b"",
        "headers": [] if host is None else [(b"host", host)],
    }
    return urlsplit(str(URL(scope=scope))).netloc


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


async def verify_csrf(request: Request) -> None:
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CSRFError("cross-site request")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != _own_netloc(request.scope):
        raise CSRFError("origin mismatch")
    expected_token = request.session.get(SESSION_KEY)
    if not isinstance(expected_token, str):
        raise CSRFError("no token in session")
    sent = request.headers.get(HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), expected_token.encode()):
        raise CSRFError("missing or wrong token")
