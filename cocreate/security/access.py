"""Who may use a route. Every route is built by `route()` and so declares its access.

The wrapper also loads the current user, fixes the request's language, and checks the CSRF
token of every unsafe request, so no handler can forget any of the three.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy.engine import Connection
from sqlmodel import Session, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from cocreate.accounts.models import User
from cocreate.brands.models import Brand, Membership, Role
from cocreate.concurrency import RequestThreads
from cocreate.forms import read_form
from cocreate.group_commit import GroupCommit, session_on
from cocreate.i18n import LOCALES, negotiate, set_locale
from cocreate.integers import IdConvertor  # noqa: F401  (registers `{name:id}` for route paths)
from cocreate.security.csrf import CSRFError, verify_csrf

Endpoint = Callable[[Request], Response]  # plain code, run in a request thread
AsyncEndpoint = Callable[[Request], Awaitable[Response]]  # waits on another server
T = TypeVar("T")


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


def current_user(request: Request) -> User | None:
    """The signed-in account, checked against the database on every request: a disabled or
    deleted account, or a bumped `session_version` (password reset, "sign out everywhere"),
    is refused at once, whatever the signed cookie says. One query on the request's own
    session (the handler reuses it, and may change the account and commit)."""
    if hasattr(request.state, "user"):
        user: User | None = request.state.user
        return user
    user = None
    uid = _claimed_uid(request)
    if uid is not None:
        found = db(request).get(User, uid)
        if found is not None and _still_signed_in(request, found):
            user = found
        else:
            _sign_out(request)
    request.state.user = user
    return user


@dataclass(frozen=True)
class Account:
    """The signed-in account as one row read with SQLAlchemy Core: for routes that only read
    who is signed in (the vote), without the ORM's load. `current_user` gives the `User`."""

    id: int
    email: str | None
    display_name: str
    locale: str | None
    is_admin: bool
    disabled: bool
    deleted_at: datetime | None
    session_version: int
    email_verified_at: datetime | None
    created_at: datetime
    canonical_mailbox: str | None

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_active(self) -> bool:
        return not self.disabled and self.deleted_at is None


@cache
def account_columns() -> tuple[Any, ...]:
    """The columns of `users` an `Account` is made of, in order (`Account(*row)`)."""
    users = User.__table__  # type: ignore[attr-defined]
    return tuple(users.c[field.name] for field in fields(Account))


def claimed_account_id(request: Request) -> int | None:
    """The account id the signed session cookie names (not yet checked)."""
    return _claimed_uid(request)


def _claimed_uid(request: Request) -> int | None:
    uid = request.session.get("uid")
    return uid if isinstance(uid, int) and not isinstance(uid, bool) else None


def _still_signed_in(request: Request, account: User | Account) -> bool:
    return (
        not account.disabled
        and account.deleted_at is None
        and request.session.get("sv") == account.session_version
    )


def _sign_out(request: Request) -> None:
    request.session.pop("uid", None)
    request.session.pop("sv", None)


def choose_locale(request: Request, user: User | Account | None) -> str:
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
    batched: bool = False,
    costly: bool = False,
) -> Route:
    """A route whose endpoint runs behind the checks every request passes, in the request
    model of `cocreate.concurrency`: on the event loop, the path is checked and an unsafe
    request's whole body read and its CSRF token verified; then, in a request thread, the
    signed-in account is read, the language fixed and `access` checked, and the endpoint
    answers; the request's database session is closed before the thread is given back.

    An `async def` endpoint (one that waits on another server: an identity provider) runs on
    the event loop after the checks, and does its database work through `blocking`.

    `batched`: a POST of this route (the vote) runs in a group commit (`group_commit`): with
    the other POSTs of batched routes that arrive meanwhile, in one request thread, on one
    connection (on SQLite one transaction, committed before any of them is answered). Only
    for routes open to every signed-in account, whose endpoint reads the account with its
    own first query (`account_columns`, one round trip less) and checks it with `admit`
    before anything else (the wrapper fails a batched POST that did not).

    `costly`: a POST of this route hashes a password or decodes an image; it waits for one of
    a few places for such requests on the event loop before it takes a thread
    (`RequestThreads.costly`), so a storm of them cannot take every thread.
    """
    assert not batched or access is SIGNED_IN, "a batched route reads only who is signed in"
    waits = inspect.iscoroutinefunction(endpoint)

    async def guarded(request: Request) -> Response:
        try:
            await _checked_on_loop(request)
            threads: RequestThreads = request.app.state.threads
            if waits:
                refused = await threads.run(functools.partial(_refusal, request, access))
                if refused is not None:
                    return refused
                set_locale(request.state.locale)  # fixed in the thread's copy of the context
                waiting: AsyncEndpoint = endpoint  # type: ignore[assignment]
                return await waiting(request)
            sync_endpoint: Endpoint = endpoint  # type: ignore[assignment]
            if batched and request.method == "POST":
                group: GroupCommit = request.app.state.db.group_commit
                answer = functools.partial(_answer, request, sync_endpoint, access, True)
                return await group.run(functools.partial(_answer_on, answer, request))
            answer = functools.partial(_answer, request, sync_endpoint, access)
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


def _answer_on(
    answer: Callable[[], Response], request: Request, connection: Connection
) -> Response:
    """`answer` with the request's session on a group commit's connection."""
    request.state.db_session = session_on(connection)
    return answer()


def _answer(
    request: Request, endpoint: Endpoint, access: Access, batched: bool = False
) -> Response:
    """In a request thread: the access check, then the endpoint's answer. A batched route's
    endpoint checks access itself (`admit`), on the account read with its first query."""
    try:
        if batched:
            answered = endpoint(request)
            if not hasattr(request.state, "account"):
                raise RuntimeError(f"{endpoint.__name__}: a batched route must call admit()")
            return answered
        refused = _refusal(request, access)
        if refused is not None:
            return refused
        return endpoint(request)
    finally:
        close_db(request)


def admit(request: Request, account: Account | None) -> Response | None:
    """A batched route's access check (SIGNED_IN), on the account its endpoint read with its
    first query (`account_columns`; None when the session names none, or no such account):
    the same rule as `current_user`, the same answers as the route wrapper's check, the
    language fixed. None: go on; else the answer (the log-in page)."""
    uid = _claimed_uid(request)
    if account is not None and (account.id != uid or not _still_signed_in(request, account)):
        account = None
    if account is None and uid is not None:
        _sign_out(request)
    request.state.account = account
    return _decided(request, SIGNED_IN, account, allowed=account is not None)


def _refusal(request: Request, access: Access) -> Response | None:
    """Read the signed-in account and fix the language; a redirect to the log-in page for
    an anonymous visitor where one is needed; a 403 for a refused account; else None."""
    user = current_user(request)
    return _decided(request, access, user, allowed=access.allows(request, user, db(request)))


def _decided(
    request: Request, access: Access, user: User | Account | None, *, allowed: bool
) -> Response | None:
    locale = choose_locale(request, user)
    request.state.locale = locale
    set_locale(locale)
    if allowed:
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
