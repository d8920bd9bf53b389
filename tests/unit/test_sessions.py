"""The session middleware: Starlette's cookie, verified once per cookie value.

A small Starlette app around the real middleware, driven by TestClient; the middleware's
clock is a settable one, so that a cookie can be seen to expire while it is in the cache.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware as StarletteSessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from cocreate.security.sessions import MAX_CACHED_COOKIE, SessionMiddleware

SECRET = "session-test-secret-" + "s" * 32
COOKIE = "cocreate_session"
MAX_AGE = 14 * 24 * 3600
T0 = int(time.time())  # Starlette's own middleware, read in one test, checks real time


class SettableClock:
    def __init__(self) -> None:
        self.at = float(T0)

    def __call__(self) -> float:
        return self.at


async def read(request: Request) -> Response:
    return JSONResponse(dict(request.session))


async def put(request: Request) -> Response:
    for key, value in request.query_params.items():
        request.session[key] = value
    return JSONResponse(dict(request.session))


async def put_list(request: Request) -> Response:
    request.session["flashes"] = ["first"]
    return JSONResponse(dict(request.session))


async def append_in_place(request: Request) -> Response:
    """Changes a list inside the session without telling the session (no new cookie)."""
    request.session["flashes"].append("leaked")
    return JSONResponse(dict(request.session))


async def pop_in_place(request: Request) -> Response:
    """Changes the request's copy of a flat session, then answers without saving it."""
    dict.pop(request.session, "uid", None)  # the dict itself: the session is not marked
    return JSONResponse(dict(request.session))


async def clear(request: Request) -> Response:
    request.session.clear()
    return JSONResponse({})


async def nothing(request: Request) -> Response:
    return JSONResponse({})


ROUTES = [
    Route("/read", read),
    Route("/put", put),
    Route("/put-list", put_list),
    Route("/append-in-place", append_in_place),
    Route("/pop-in-place", pop_in_place),
    Route("/clear", clear),
    Route("/nothing", nothing),
]


def make_app(clock: SettableClock, **options: Any) -> tuple[Starlette, SessionMiddleware]:
    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=SECRET,
                cookie_name=COOKIE,
                max_age=MAX_AGE,
                now=clock,
                **options,
            )
        ],
    )
    client = TestClient(app)
    client.get("/nothing")  # builds the middleware stack
    stack: Any = app.middleware_stack
    while not isinstance(stack, SessionMiddleware):
        stack = stack.app
    return app, stack


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def app(clock: SettableClock) -> tuple[Starlette, SessionMiddleware]:
    return make_app(clock)


def starlette_cookie(payload: dict[str, Any], signed_at: int = T0, secret: str = SECRET) -> str:
    """The cookie Starlette's SessionMiddleware sets for `payload` at `signed_at`."""

    class At(TimestampSigner):
        def get_timestamp(self) -> int:
            return signed_at

    return At(secret).sign(base64.b64encode(json.dumps(payload).encode())).decode()


def browser(app: Starlette, cookie: str | None = None) -> TestClient:
    client = TestClient(app)
    if cookie is not None:
        client.cookies.set(COOKIE, cookie)
    return client


def test_a_cookie_signed_by_starlettes_middleware_is_read(app: Any) -> None:
    cookie = starlette_cookie({"uid": 7, "sv": 2, "csrf": "tok"})
    assert browser(app[0], cookie).get("/read").json() == {"uid": 7, "sv": 2, "csrf": "tok"}


def test_a_cookie_we_set_is_read_by_starlettes_middleware(app: Any) -> None:
    response = browser(app[0]).get("/put?uid=3")
    ours = response.cookies[COOKIE]
    starlette_app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(StarletteSessionMiddleware, secret_key=SECRET, session_cookie=COOKIE)
        ],
    )
    assert browser(starlette_app, ours).get("/read").json() == {"uid": "3"}


def test_the_set_cookie_header_is_starlettes(app: Any) -> None:
    header = browser(app[0]).get("/put?a=1").headers["set-cookie"]
    value = header.split(";")[0].split("=", 1)[1]
    assert header == f"{COOKIE}={value}; path=/; Max-Age={MAX_AGE}; httponly; samesite=lax"


def test_https_only_marks_the_cookie_secure(clock: SettableClock) -> None:
    app, _ = make_app(clock, https_only=True)
    header = TestClient(app, base_url="https://testserver").get("/put?a=1").headers["set-cookie"]
    assert header.endswith("; httponly; samesite=lax; secure")


def test_the_cache_never_gives_one_cookie_the_session_of_another(app: Any) -> None:
    starlette_app, middleware = app
    alice = browser(starlette_app, starlette_cookie({"uid": 1, "sv": 0}))
    bob = browser(starlette_app, starlette_cookie({"uid": 2, "sv": 5}))
    for _ in range(3):
        assert alice.get("/read").json() == {"uid": 1, "sv": 0}
        assert bob.get("/read").json() == {"uid": 2, "sv": 5}
    assert len(middleware.cache) == 2


def test_a_tampered_cookie_is_refused_even_while_the_genuine_one_is_cached(app: Any) -> None:
    starlette_app, middleware = app
    genuine = starlette_cookie({"uid": 1, "sv": 0})
    assert browser(starlette_app, genuine).get("/read").json() == {"uid": 1, "sv": 0}
    data, timestamp, signature = genuine.split(".")
    other_payload = base64.b64encode(json.dumps({"uid": 2, "sv": 0}).encode()).decode()
    # The first character: every bit of it is the signature's (the last one's low bits are
    # base64 padding, so changing "A" to "B" there may decode to the same signature).
    other_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    for forged in (
        f"{other_payload}.{timestamp}.{signature}",  # someone else's uid, the same signature
        f"{data}.{timestamp}.{other_signature}",  # the same session, another signature
        starlette_cookie({"uid": 2, "sv": 0}, secret="not-" + SECRET),  # another key
        genuine + "x",
        genuine[:-1],
        "",
        "a.b",
        "a.b.c",
        "not base64!.x.y",
        "null",
    ):
        client = browser(starlette_app, forged)
        assert client.get("/read").json() == {}, forged
        # An emptied session of a refused cookie is not "cleared": no cookie is deleted.
        assert "set-cookie" not in client.get("/clear").headers
    assert list(middleware.cache) == [genuine]


def test_an_expired_cookie_is_refused_even_when_cached(app: Any, clock: SettableClock) -> None:
    starlette_app, middleware = app
    cookie = starlette_cookie({"uid": 1, "sv": 0}, signed_at=T0)
    client = browser(starlette_app, cookie)
    assert client.get("/read").json() == {"uid": 1, "sv": 0}
    assert cookie in middleware.cache
    clock.at = T0 + MAX_AGE  # the last second it is valid
    assert client.get("/read").json() == {"uid": 1, "sv": 0}
    clock.at = T0 + MAX_AGE + 1
    assert client.get("/read").json() == {}
    assert cookie not in middleware.cache


def test_an_expired_cookie_is_refused_when_first_seen(app: Any, clock: SettableClock) -> None:
    starlette_app, middleware = app
    old = starlette_cookie({"uid": 1, "sv": 0}, signed_at=T0 - MAX_AGE - 1)
    assert browser(starlette_app, old).get("/read").json() == {}
    future = starlette_cookie({"uid": 1, "sv": 0}, signed_at=T0 + 60)
    assert browser(starlette_app, future).get("/read").json() == {}  # as TimestampSigner
    assert not middleware.cache


def test_a_changed_session_is_signed_again_and_an_unchanged_one_is_not(
    app: Any, clock: SettableClock
) -> None:
    starlette_app, middleware = app
    cookie = starlette_cookie({"uid": 1, "sv": 0})
    client = browser(starlette_app, cookie)
    unchanged = client.get("/read")
    assert "set-cookie" not in unchanged.headers
    assert unchanged.headers["vary"] == "Cookie"  # the session was read
    assert "vary" not in client.get("/nothing").headers  # ... and here it was not

    clock.at = T0 + 100
    changed = client.get("/put?locale=fr")
    new_cookie = changed.cookies[COOKIE]
    assert new_cookie != cookie
    # Signed now, so the new cookie lives a full max_age from now.
    _, signed_at = TimestampSigner(SECRET).unsign(new_cookie, return_timestamp=True)
    assert signed_at.timestamp() == T0 + 100
    assert new_cookie in middleware.cache  # the next request is a hit
    assert browser(starlette_app, new_cookie).get("/read").json() == {
        "uid": 1,
        "sv": 0,
        "locale": "fr",
    }
    # The old cookie still holds what it held: the change went into the new one only.
    assert browser(starlette_app, cookie).get("/read").json() == {"uid": 1, "sv": 0}


def test_a_request_changing_its_copy_does_not_change_the_cached_session(app: Any) -> None:
    starlette_app, _ = app
    flat = browser(starlette_app, starlette_cookie({"uid": 1, "sv": 0}))
    assert flat.get("/pop-in-place").json() == {"sv": 0}
    assert flat.get("/read").json() == {"uid": 1, "sv": 0}

    nested = browser(starlette_app)
    nested.get("/put-list")  # a session holding a list, signed and cached by the middleware
    assert nested.get("/append-in-place").json()["flashes"] == ["first", "leaked"]
    assert nested.get("/read").json()["flashes"] == ["first"]


def test_clearing_a_session_deletes_the_cookie(app: Any) -> None:
    starlette_app, _ = app
    client = browser(starlette_app, starlette_cookie({"uid": 1, "sv": 0}))
    header = client.get("/clear").headers["set-cookie"]
    assert header == (
        f"{COOKIE}=null; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly; samesite=lax"
    )


def test_the_cache_is_bounded_and_forgets_the_least_recently_used(
    clock: SettableClock,
) -> None:
    starlette_app, middleware = make_app(clock, cache_size=2)
    first, second, third = (starlette_cookie({"uid": n, "sv": 0}) for n in (1, 2, 3))
    browser(starlette_app, first).get("/read")
    browser(starlette_app, second).get("/read")
    browser(starlette_app, first).get("/read")  # first is now the most recently used
    browser(starlette_app, third).get("/read")
    assert list(middleware.cache) == [first, third]
    # A forgotten cookie is verified again, not refused.
    assert browser(starlette_app, second).get("/read").json() == {"uid": 2, "sv": 0}


def test_a_long_cookie_is_verified_every_time_and_never_cached(app: Any) -> None:
    starlette_app, middleware = app
    payload = {"uid": 1, "sv": 0, "oidc_next": "/" + "x" * MAX_CACHED_COOKIE}
    client = browser(starlette_app, starlette_cookie(payload))
    assert client.get("/read").json() == payload
    assert client.get("/read").json() == payload
    assert not middleware.cache


def test_an_existing_vary_header_is_kept(app: Any) -> None:
    async def varies(request: Request) -> Response:
        request.session.get("uid")
        return JSONResponse({}, headers={"vary": "HX-Request"})

    starlette_app, _ = app
    starlette_app.router.routes.append(Route("/varies", varies))
    response = browser(starlette_app).get("/varies")
    assert response.headers["vary"] == "HX-Request, Cookie"
