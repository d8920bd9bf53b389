"""The app factory: settings in, a Starlette app out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from cocreate import errors, health, storage
from cocreate.accounts import oidc
from cocreate.accounts import routes as accounts
from cocreate.brands import routes as brands
from cocreate.campaigns import routes as campaigns
from cocreate.clock import Clock, system_clock
from cocreate.concurrency import Busy, RequestThreads
from cocreate.db import Database, make_engine
from cocreate.fraud import routes as fraud
from cocreate.ideas import images
from cocreate.ideas import routes as ideas
from cocreate.moderation import routes as moderation
from cocreate.moderation.service import purge_rejected_images
from cocreate.notifications.service import deliver_due
from cocreate.security import passwords
from cocreate.security.bodylimit import BodySizeLimitMiddleware
from cocreate.security.headers import SecurityHeadersMiddleware
from cocreate.security.ratelimit import RateLimiter
from cocreate.security.sessions import SessionMiddleware
from cocreate.security.tokens import Tokens
from cocreate.settings import Settings
from cocreate.voting import jury_routes, results_routes
from cocreate.voting import routes as voting
from cocreate.web import STATIC_DIR, make_templates

log = logging.getLogger(__name__)
SESSION_DAYS = 14
PURGE_INTERVAL_SECONDS = 60  # finally rejected ideas' images: see purge_rejected_images


def all_routes(settings: Settings) -> list[BaseRoute]:
    return [
        *health.routes,
        # Starlette tries the routes in order, matching each one's pattern: the vote
        # endpoints, the hottest, come first (no other route's pattern can match their paths).
        *voting.routes,
        *accounts.routes,
        *oidc.routes(settings),
        *brands.routes,
        *campaigns.routes,
        *ideas.routes,
        *storage.routes,
        *moderation.routes,
        *fraud.routes,
        *results_routes.routes,
        *jury_routes.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def create_app(settings: Settings, *, clock: Clock = system_clock) -> Starlette:
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        # A little room beyond the pool for what runs outside requests (the email sender).
        max_overflow=2,
        pool_timeout=settings.overload_wait_seconds,
    )
    threads = RequestThreads(settings.request_threads, settings.overload_wait_seconds)
    passwords.HASHING.configure(wait=settings.overload_wait_seconds)  # one per process

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = []
        # One switch for the in-process background work (tests turn it off and call it).
        if settings.outbox_interval_seconds > 0:
            tasks.append(asyncio.create_task(_send_outbox_forever(app)))
            tasks.append(asyncio.create_task(_purge_images_forever(app)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            engine.dispose()

    app = Starlette(
        routes=all_routes(settings),
        middleware=[
            Middleware(SecurityHeadersMiddleware, hsts=settings.https),
            Middleware(BodySizeLimitMiddleware),
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key,
                cookie_name="cocreate_session",
                max_age=SESSION_DAYS * 24 * 3600,
                same_site="lax",
                https_only=settings.https,
            ),
        ],
        exception_handlers={
            HTTPException: errors.http_error,
            Busy: errors.overloaded,
            PoolTimeout: errors.overloaded,
            OperationalError: errors.database_unavailable,
            500: errors.server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.threads = threads
    app.state.db = Database(engine, threads)
    app.state.templates = make_templates()
    app.state.tokens = Tokens(settings.secret_key)
    app.state.rate_limiter = RateLimiter(settings.redis_url)
    app.state.clock = clock
    app.state.storage = storage.make_storage(settings)
    # Who may fetch a stored file, by its folder (see storage.serve_media).
    app.state.media_rules = {"ideas": ideas.image_audience, "covers": campaigns.cover_audience}
    # One decode gate per process: the app is created once per worker.
    app.state.uploads = images.UploadPolicy(
        gate=images.DecodeGate(settings.image_decodes, settings.image_decode_wait_seconds),
        limiter=app.state.rate_limiter,
        rate_limit=settings.upload_rate_limit,
    )
    app.state.oauth = oidc.make_oauth(settings)
    return app


async def _send_outbox_forever(app: Starlette) -> None:
    settings: Settings = app.state.settings
    while True:
        try:
            await asyncio.to_thread(
                deliver_due,
                app.state.db.engine,
                settings.smtp_url,
                settings.mail_from,
                clock=app.state.clock,
            )
        except Exception:  # a bad row or a database blip must not stop the sender for good
            log.exception("outbox delivery failed")
        await asyncio.sleep(settings.outbox_interval_seconds)


async def _purge_images_forever(app: Starlette) -> None:
    while True:
        try:
            await asyncio.to_thread(_purge_images, app)
        except Exception:  # a database blip must not stop the purge for good
            log.exception("purging rejected ideas' images failed")
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)


def _purge_images(app: Starlette) -> None:
    with Session(app.state.db.engine, expire_on_commit=False) as session:
        purge_rejected_images(session=session, storage=app.state.storage, clock=app.state.clock)
