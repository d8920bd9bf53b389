"""The app factory: settings in, a Starlette app out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from cocreate import errors, favicon, health, images, storage
from cocreate.accounts import oidc
from cocreate.accounts import routes as accounts
from cocreate.brands import routes as brands
from cocreate.campaigns import routes as campaigns
from cocreate.clock import Clock, system_clock
from cocreate.concurrency import Busy, RequestThreads
from cocreate.db import Database, make_engine
from cocreate.fraud import routes as fraud
from cocreate.ideas import routes as ideas
from cocreate.jobs import routes as jobs
from cocreate.jobs.service import make_jobs
from cocreate.jury import routes as jury
from cocreate.moderation import routes as moderation
from cocreate.results import routes as results
from cocreate.security import passwords
from cocreate.security.bodylimit import BodySizeLimitMiddleware
from cocreate.security.headers import SecurityHeadersMiddleware
from cocreate.security.ratelimit import RateLimiter
from cocreate.security.sessions import SessionMiddleware
from cocreate.security.tokens import Tokens
from cocreate.settings import Settings
from cocreate.voting import routes as voting
from cocreate.web import STATIC_DIR, make_templates

log = logging.getLogger(__name__)
SESSION_DAYS = 14


def all_routes(settings: Settings) -> list[BaseRoute]:
    return [
        *health.routes,
        *favicon.routes,
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
        *results.routes,
        *jury.routes,
        *jobs.routes,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]


def create_app(settings: Settings, *, clock: Clock = system_clock) -> Starlette:
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        # A little room beyond the pool for what runs outside requests (the jobs).
        max_overflow=2,
        pool_timeout=settings.overload_wait_seconds,
    )
    threads = RequestThreads(settings.request_threads, settings.overload_wait_seconds)
    passwords.HASHING.configure(wait=settings.overload_wait_seconds)  # one per process

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The job worker runs beside the server (`cocreate serve`) unless COCREATE_JOBS_WORKER
        # is 0 (a separate `cocreate jobs`; the tests run jobs themselves).
        worker = asyncio.create_task(app.state.jobs.work()) if settings.jobs_worker else None
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            app.state.jobs.close()
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
    # Staff pages that show an idea's photo (moderation item, jury scoring) ask for its address.
    app.state.templates.env.globals["image_url"] = partial(images.url_of, app.state.storage)
    app.state.jobs = make_jobs(
        settings=settings, engine=engine, clock=clock, storage=app.state.storage
    )
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
