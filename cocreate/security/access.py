"""Who may use a route. Every route is built by `route()` and so declares its access.

The wrapper also loads the current user, fixes the request's language, and checks the CSRF
token of every unsafe request, so no handler can forget any of the three.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.concurrency import RequestThreads
from cocreate.db import GroupCommit, Transaction, attach_loaded, begin_write, detached
from cocreate.forms import read_form
from cocreate.i18n import LOCALES, negotiate, set_locale
from cocreate.integers import IdConvertor  # noqa: F401  (registers `{name:id}` for route paths)
from cocreate.security.csrf import CSRFError, verify_csrf

Endpoint = Callable[[Request], Response]  # plain code, run in a request thread
AsyncEndpoint = Callable[[Request], Awaitable[Response]]  # waits on another server
T = TypeVar("T")


@dataclass(frozen=True)
class FastPath:
    """A route's fast path (the vote); see `route`."""

    # What it needs read with the signed-in check (on PostgreSQL in the same round trip),
    # from the request, the account id the session names and the transaction (its `memo`):
    # a statement and its values.
    read: Callable[[Request, int, Transaction], tuple[Any, Mapping[str, Any]]]
    # Its answer, from the signed-in account, the row `read` found and the transaction; or
    # None, having changed nothing, to let the route's endpoint answer. Plain synchronous
    # code: on SQLite it runs inside a group commit (`db.GroupCommit`), with the form already
    # read.
    answer: Callable[[Request, User, tuple[Any, ...] | None, Transaction], Response | None]


@dataclass(frozen=True)
class Access:
    """A named rule; `allows` gets the request, the signed-in user (or None) and a session."""

    name: str
    allows: Callable[[Request, User | None, Session], bool]
    login_required: bool = True
    roles: tuple[Role, ...] = ()
    # Only the person who owns the object named in the path (an idea's author): nobody else,
    # admins included. The authorisation matrix test relies on this flag.
    owner_only: bool = False


PUBLIC = Access("public", lambda request, user, session: True, login_required=False)
SIGNED_IN = Access("signed in", lambda request, user, session: user is not None)
VERIFIED = Access(
    "verified email", lambda request, user, session: user is not None and user.is_verified
)
ADMIN = Access("admin", lambda request, user, session: user is not None and user.is_admin)


def brand_role(*roles: Role) -> Access:
    """Members of the brand named by the `brand` path parameter with one of `roles`; admins."""

    def allows(request: Request, user: User | None, session: Session) -> bool:
        if user is None:
            return False
        if user.is_admin:
            return True
        membership = session.exec(
            select(Membership)
            .join(Brand, Brand.id == Membership.brand_id)  # type: ignore[arg-type]
            .where(Brand.slug == request.path_params.get("brand"), Membership.user_id == user.id)
        ).first()
        return membership is not None and Role(membership.role) in roles

    return Access("brand " + "/".join(roles), allows, roles=tuple(roles))


def db(request: Request) -> Session:
    """The request's database session, opened on first use and closed by the route wrapper."""
    session: Session | None = getattr(request.state, "db_session", None)
    if session is None:
        session = Session(request.app.state.db.engine, expire_on_commit=False)
        request.state.db_session = session
    return session


def close_db(request: Request) -> None:
    """Close the request's session and forget it, so that a later `db(request)` (the error
    page, which runs after the route) opens a fresh one instead of silently reusing a closed
    session, whose new connection nobody would ever give back to the pool."""
    session: Session | None = getattr(request.state, "db_session", None)
    if session is not None:
        session.close()
        del request.state.db_session


USERS = User.__table__  # type: ignore[attr-defined]


@cache
def _user_by_id() -> Any:
    """Built once: building a statement and its cache key costs more than running it."""
    return core_select(*USERS.c).where(USERS.c.id == bindparam("uid"))


def current_user(request: Request) -> User | None:
    """The signed-in account, checked against the database on every request: a disabled or
    deleted account, or a bumped `session_version` (password reset, "sign out everywhere"),
    is refused at once, whatever the signed cookie says.

    The check is one prepared Core query on the request's own session and connection (the
    handler reuses both), not `session.get`: the ORM's load path cost more than the query.
    The account is then attached to the session as if loaded, so that handlers can change
    it and commit, and `session.get(User, id)` returns this same object.
    """
    if hasattr(request.state, "user"):
        user: User | None = request.state.user
        return user
    user = None
    uid = _claimed_uid(request)
    if uid is not None:
        session = db(request)
        row = session.connection().execute(_user_by_id(), {"uid": uid}).first()
        if row is not None and _still_signed_in(request, row._mapping):
            user = attach_loaded(session, User, row._mapping)
        else:
            _sign_out(request)
    request.state.user = user
    return user


def _claimed_uid(request: Request) -> int | None:
    uid = request.session.get("uid")
    return uid if isinstance(uid, int) and not isinstance(uid, bool) else None


def _still_signed_in(request: Request, account: Mapping[Any, Any]) -> bool:
    return (
        not account["disabled"]
        and account["deleted_at"] is None
        and request.session.get("sv") == account["session_version"]
    )


def _sign_out(request: Request) -> None:
    request.session.pop("uid", None)
    request.session.pop("sv", None)


def _signed_in_with(
    request: Request, uid: int, tx: Transaction, fast: FastPath
) -> tuple[User | None, tuple[Any, ...] | None]:
    """`current_user` for a fast path, on its transaction and with what it reads: the same
    rule, and the account as an object in no session (the fast path only reads it). None:
    not signed in (the route's endpoint then answers, as for anyone else)."""
    account_row, found = tx.first_each([(_user_by_id(), {"uid": uid}), fast.read(request, uid, tx)])
    if account_row is None:
        return None, None
    account = dict(zip(USERS.c.keys(), account_row, strict=True))
    if not _still_signed_in(request, account):
        return None, None
    return detached(User, account), found


def choose_locale(request: Request, user: User | None) -> str:
    chosen = request.session.get("locale")
    if isinstance(chosen, str) and chosen in LOCALES:
        return chosen
    if user is not None and user.locale in LOCALES:
        return str(user.locale)
    return negotiate(request.headers.get("accept-language"))


def route(
    path: str,
    endpoint: Endpoint | AsyncEndpoint,
    *,
    access: Access,
    methods: Sequence[str] = ("GET",),
    name: str | None = None,
    writes: bool = False,
    fast: FastPath | None = None,
    costly: bool = False,
) -> Route:
    """A route whose endpoint runs behind the checks every request passes, in the request
    model of `cocreate.concurrency`: on the event loop, the path is checked and an unsafe
    request's whole body read and its CSRF token verified; then, in a request thread, the
    signed-in account is read, the language fixed and `access` checked, and the endpoint
    answers; the request's database session is closed before the thread is given back.

    An `async def` endpoint (one that waits on another server: an identity provider) runs on
    the event loop after the checks, and does its database work through `blocking`.

    `writes`: every POST of this route writes (a vote). On SQLite its transaction then
    begins as the writer before the signed-in user is read, instead of beginning as a reader
    that `begin_write` must end midway: two statements fewer on the hottest path.

    `costly`: a POST of this route hashes a password or decodes an image; it waits for one of
    a few places for such requests on the event loop before it takes a thread
    (`RequestThreads.costly`), so a storm of them cannot take every thread.

    `fast`: a POST is first offered to this fast path, once it passed the checks every request
    passes (a usable path, a readable body, the CSRF token) and the account is signed in,
    with that account and a transaction on a pooled connection, without a session
    (`db.GroupCommit`: on SQLite a savepoint in a transaction shared with the other votes of
    the same batch, already the writer). It answers, or returns None having changed nothing,
    and `endpoint` answers as usual. Only for routes open to every signed-in account: the
    fast path is given no other rule to check.
    """
    assert fast is None or access is SIGNED_IN, "a fast path checks only that one is signed in"
    waits = inspect.iscoroutinefunction(endpoint)

    async def guarded(request: Request) -> Response:
        try:
            await _checked_on_loop(request)
            if fast is not None and request.method == "POST":
                answered = await _try_fast_path(request, fast)
                if answered is not None:
                    return answered
            threads: RequestThreads = request.app.state.threads
            if waits:
                refused = await threads.run(functools.partial(_refusal, request, access))
                if refused is not None:
                    return refused
                set_locale(request.state.locale)  # fixed in the thread's copy of the context
                waiting: AsyncEndpoint = endpoint  # type: ignore[assignment]
                return await waiting(request)
            sync_endpoint: Endpoint = endpoint  # type: ignore[assignment]
            answer = functools.partial(_answer, request, sync_endpoint, access, writes)
            if costly and request.method == "POST":
                async with threads.costly():
                    return await threads.run(answer)
            return await threads.run(answer)
        finally:
            await request.close()  # uploaded files of a multipart form; Starlette leaves them open

    guarded.access = access  # type: ignore[attr-defined]
    guarded.__name__ = endpoint.__name__
    guarded.__doc__ = endpoint.__doc__
    return Route(path, guarded, methods=list(methods), name=name or endpoint.__name__)


def loop_route(path: str, endpoint: AsyncEndpoint, *, access: Access) -> Route:
    """A public GET answered by the event loop alone: no session read, no thread, no
    database (health checks: they must answer while every thread and connection is taken,
    and only while the loop turns)."""
    assert access is PUBLIC, "a loop route reads no account to check access with"

    async def answered(request: Request) -> Response:
        return await endpoint(request)

    answered.access = access  # type: ignore[attr-defined]
    answered.__name__ = endpoint.__name__
    answered.__doc__ = endpoint.__doc__
    return Route(path, answered, methods=["GET"], name=endpoint.__name__)


async def blocking(request: Request, work: Callable[[], T]) -> T:
    """`work` (database work, rendering) in a request thread, for an `async def` endpoint;
    the request's database session is closed before the thread is given back."""
    threads: RequestThreads = request.app.state.threads
    return await threads.run(functools.partial(_closing, request, work))


def _closing(request: Request, work: Callable[[], T]) -> T:
    locale = getattr(request.state, "locale", None)
    if isinstance(locale, str):
        set_locale(locale)
    try:
        return work()
    finally:
        close_db(request)


async def _checked_on_loop(request: Request) -> None:
    """What needs no database: the path, and an unsafe request's body and CSRF token, read
    whole before any thread or connection is taken (a client sending slowly holds neither)."""
    if request.method == "HEAD":
        # Handlers branch on GET versus POST; a HEAD must take the GET branch, never the
        # form-processing one (which would run without a CSRF check). The server drops the body.
        request.scope["method"] = "GET"
    if any(_unusable(value) for value in request.path_params.values()):
        raise HTTPException(404)  # e.g. /c/a%00b: no such page, and PostgreSQL refuses NUL
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        await read_form(request)  # a 400 for an undecodable body, before any handler sees it
        try:
            await verify_csrf(request)
        except CSRFError as exc:
            raise HTTPException(403, "csrf") from exc


async def _try_fast_path(request: Request, fast: FastPath) -> Response | None:
    """The fast path's answer, or None when the account is not signed in or the fast path
    declines (the route's endpoint then answers as for anyone else)."""
    uid = _claimed_uid(request)
    if uid is None:
        return None

    def answer(tx: Transaction) -> Response | None:
        user, found = _signed_in_with(request, uid, tx, fast)
        if user is None:
            return None
        locale = choose_locale(request, user)
        request.state.locale = locale
        set_locale(locale)
        answered = fast.answer(request, user, found, tx)
        if answered is not None:
            request.state.user = user  # for whatever runs after (an error page)
        return answered

    group: GroupCommit = request.app.state.db.group_commit
    return await group.run(answer)


def _answer(request: Request, endpoint: Endpoint, access: Access, writes: bool) -> Response:
    """In a request thread: the access check, then the endpoint's answer."""
    try:
        if writes and request.method == "POST":
            begin_write(db(request))
        refused = _refusal(request, access)
        if refused is not None:
            return refused
        return endpoint(request)
    finally:
        close_db(request)


def _refusal(request: Request, access: Access) -> Response | None:
    """Read the signed-in account and fix the language; a redirect to the log-in page for
    an anonymous visitor where one is needed; a 403 for a refused account; else None."""
    user = current_user(request)
    locale = choose_locale(request, user)
    request.state.locale = locale
    set_locale(locale)
    if access.allows(request, user, db(request)):
        return None
    if user is None and access.login_required:
        # After login, come back to the page; a refused POST is not replayed, so go home.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if access is VERIFIED:
        raise HTTPException(403, "unverified")
    raise HTTPException(403)


def _unusable(value: object) -> bool:
    return isinstance(value, str) and (len(value) > 200 or any(ord(c) < 32 for c in value))


def access_of(endpoint: Any) -> Access | None:
    found = getattr(endpoint, "access", None)
    return found if isinstance(found, Access) else None
