"""The signed session cookie, verified once per cookie value instead of once per request.

The cookie is exactly Starlette's SessionMiddleware's (which this replaces): base64 of the
session's JSON, signed with itsdangerous' TimestampSigner and the app's secret. Sessions
issued before the switch stay valid, and the other way round.

Starlette checks the HMAC (deriving the key again), decodes base64 and parses the JSON on
every request. A signed-in visitor sends the same cookie with each of many requests, so the
payload of a cookie whose signature checked out is kept in a bounded LRU keyed by the
cookie's exact value: only the server can produce a value whose signature is valid, and a
value found in the cache is the very string that was verified. Every hit still checks the
cookie's age against `max_age`, from the timestamp signed into the cookie itself, so an
expired cookie is refused whether cached or not. Forged or expired cookies are never cached.

Each request gets its own copy of the cached payload (a fresh parse when it holds lists or
dicts, which a handler could change in place), so nothing one request does to its session
can reach another's. As with Starlette, the cookie is signed again only when the request
changed its session; the value signed then goes straight into the cache, so the request
after a login or a flash message is a hit too.
"""

from __future__ import annotations

import json
import time
from base64 import b64decode, b64encode
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

from itsdangerous import BadData, Signer
from itsdangerous.encoding import base64_decode, base64_encode, bytes_to_int, int_to_bytes
from starlette.middleware.sessions import Session
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cocreate.security.headers import request_header

CACHE_SIZE = 4096
# A signed-in session is about 200 characters. Longer ones (a `next` URL kept during an
# OpenID login, whose length the visitor chooses) are checked each time instead, so that
# the cache stays a few megabytes at most.
MAX_CACHED_COOKIE = 1024
_SEP = b"."
_SCALARS = (str, int, float, bool, type(None))


class _Verified:
    """A cookie whose signature checked out: when it was signed, and what it holds."""

    __slots__ = ("flat", "signed_at", "text")

    def __init__(self, signed_at: int, payload: dict[str, Any], text: str) -> None:
        self.signed_at = signed_at
        # A session of strings and numbers is copied for each request; one holding a list or
        # a dict (flash messages), which a handler could change in place, is parsed afresh.
        flat = all(isinstance(value, _SCALARS) for value in payload.values())
        self.flat = payload if flat else None
        self.text = None if flat else text

    def session(self) -> Session:
        if self.flat is not None:
            return Session(self.flat)
        return Session(json.loads(self.text or "{}"))


class SessionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        secret_key: str,
        cookie_name: str,
        max_age: int,
        same_site: Literal["lax", "strict", "none"] = "lax",
        https_only: bool = False,
        cache_size: int = CACHE_SIZE,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        # TimestampSigner's own format (value.timestamp.signature); its key derivation and
        # HMAC are Signer's. Signing and checking the timestamp here lets `now` be injected.
        self.signer = Signer(secret_key)
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.now = now
        self.cache_size = cache_size
        self.cache: OrderedDict[str, _Verified] = OrderedDict()
        flags = f"httponly; samesite={same_site}" + ("; secure" if https_only else "")
        self.set_cookie = f"{cookie_name}={{}}; path=/; Max-Age={max_age}; {flags}"
        self.delete_cookie = (
            f"{cookie_name}=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; {flags}"
        ).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        verified = self.verified(_cookie(scope, self.cookie_name))
        scope["session"] = Session() if verified is None else verified.session()
        had_session = verified is not None

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.write(scope["session"], message, had_session)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def verified(self, cookie: str | None) -> _Verified | None:
        """The cookie's session if its signature is ours and it is not older than max_age."""
        if cookie is None:
            return None
        found = self.cache.get(cookie)
        if found is None:
            found = self._check(cookie)
            if found is None or not self._fresh(found):
                return None
            self._remember(cookie, found)
        elif self._fresh(found):
            self.cache.move_to_end(cookie)
        else:
            del self.cache[cookie]
            return None
        return found

    def _fresh(self, verified: _Verified) -> bool:
        """TimestampSigner.unsign's own rule: not older than max_age, not from the future."""
        return 0 <= int(self.now()) - verified.signed_at <= self.max_age

    def _check(self, cookie: str) -> _Verified | None:
        try:
            signed = cookie.encode("utf-8")
            value, signature = signed.rsplit(_SEP, 1)
            if not self.signer.verify_signature(value, signature):
                return None
            data, timestamp = value.rsplit(_SEP, 1)
            signed_at = bytes_to_int(base64_decode(timestamp))
            text = b64decode(data).decode("utf-8")
            payload = json.loads(text)
        except (ValueError, BadData):  # no separator, bad base64 / UTF-8 / JSON / timestamp
            return None
        return _Verified(signed_at, payload, text) if isinstance(payload, dict) else None

    def _remember(self, cookie: str, verified: _Verified) -> None:
        if len(cookie) > MAX_CACHED_COOKIE:
            return
        self.cache[cookie] = verified
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)

    def sign(self, session: dict[str, Any]) -> str:
        """The cookie value for `session`, signed now; remembered as verified."""
        text = json.dumps(session)
        signed_at = int(self.now())
        value = b64encode(text.encode("utf-8")) + _SEP + base64_encode(int_to_bytes(signed_at))
        cookie = (value + _SEP + self.signer.get_signature(value)).decode("ascii")
        # Parsed back, not `session` itself: the cache must not share objects with a request.
        self._remember(cookie, _Verified(signed_at, json.loads(text), text))
        return cookie

    def write(self, session: Session, message: Message, had_session: bool) -> None:
        headers = message.get("headers")
        if not isinstance(headers, list):
            headers = message["headers"] = list(headers or ())
        if session.accessed:
            _add_vary_cookie(headers)
        if session.modified and session:
            cookie = self.set_cookie.format(self.sign(session))
            headers.append((b"set-cookie", cookie.encode("latin-1")))
        elif session.modified and had_session:  # emptied: the browser forgets the cookie
            headers.append((b"set-cookie", self.delete_cookie))


def _cookie(scope: Scope, name: str) -> str | None:
    """The named cookie, found as `request.cookies` finds it: in the first Cookie header,
    the last occurrence of the name winning."""
    header = request_header(scope, b"cookie")
    return None if header is None else cookie_parser(header.decode("latin-1")).get(name)


def _add_vary_cookie(headers: list[tuple[bytes, bytes]]) -> None:
    """What Starlette's `MutableHeaders.add_vary_header("Cookie")` does, without building
    the MutableHeaders: the Vary headers joined into the first one, then ", Cookie"."""
    at = [i for i, (key, _) in enumerate(headers) if key == b"vary"]
    if not at:
        headers.append((b"vary", b"Cookie"))
        return
    headers[at[0]] = (b"vary", b", ".join([*(headers[i][1] for i in at), b"Cookie"]))
    for i in reversed(at[1:]):
        del headers[i]
