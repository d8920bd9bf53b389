"""Security headers on every response."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)


def request_header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of the request header `name` (lower-case), read straight from the
    ASGI scope: middleware on every request skips building a `Headers` object for one."""
    for key, value in scope["headers"]:
        if key == name:
            found: bytes = value
            return found
    return None


def security_headers(*, hsts: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if hsts:
        headers.append((b"strict-transport-security", b"max-age=31536000"))
    return headers


class SecurityHeadersMiddleware:
    """Adds the headers to every response, except the 500 page: Starlette sends that one
    from outside all middleware, so `errors.server_error` adds them itself."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.headers = security_headers(hsts=hsts)
        self.names = frozenset(name for name, _ in self.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                # A header the response set itself (a page's own CSP, say) is kept as it is.
                present = self.names.intersection([name.lower() for name, _ in headers])
                if present:
                    headers += [(k, v) for k, v in self.headers if k not in present]
                else:
                    headers += self.headers
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
