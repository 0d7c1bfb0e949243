"""`myhealth api`: the app factory and the process around it.

`create_app(settings, pool=...)` builds the whole HTTP app from its dependencies (tests drive
it end to end); `command()` reads the settings, runs it under uvicorn and shuts down the
podinfo way: on SIGTERM `/ready` turns 503 at once, the server keeps serving for
`API_SHUTDOWN_DELAY_SECONDS` so load balancers notice, then drains in-flight requests.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import Gauge
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.responses import JSONResponse

from myhealth import __version__
from myhealth.api import guards
from myhealth.api.docs import docs_router
from myhealth.api.queries import Reader
from myhealth.api.routes import ApiContext, data, probes, public
from myhealth.api.token_auth import ApiTokenChecker
from myhealth.platform import logging as mh_logging
from myhealth.platform.body_limit import BodyLimitMiddleware
from myhealth.platform.config import ApiSettings, load
from myhealth.platform.errors import UserFacingError
from myhealth.platform.http import serve, uvicorn_config
from myhealth.platform.metrics import (
    HttpInstrumentation,
    HttpMetrics,
    PoolMetrics,
    new_registry,
)
from myhealth.storage.db import create_pool, create_probe_pool, describe
from myhealth.webhooks.receiver import Receiver, webhook_router

SERVICE = "api"
DOCS_URL = "/docs"
OPENAPI_URL = "/openapi.json"

DESCRIPTION = """\
Read-only access to one person's Oura Ring data: daily sleep, activity and readiness, a
dashboard summary and trends.

**Authentication**: exchange the API key for a token at `POST /auth/login`, then send
`Authorization: Bearer <access_token>` with every `/api/v1/*` request. Tokens are HS256 JWTs
that expire after `expires_in` seconds. For scripts and integrations, `myhealth token create`
makes a long-lived, revocable token (`mhp_…`) that is sent the same way and is accepted on
`GET /api/v1/*` only.

Errors are JSON objects with a `detail` string. `/auth/login` and `/api/v1/*` are rate
limited per client (429 with `Retry-After`).
"""


def _validation_detail(exc: RequestValidationError) -> str:
    """One readable sentence for FastAPI's list of validation errors."""
    parts = []
    for error in exc.errors():
        location = [str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body")]
        name = ".".join(location) or "request"
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        value = error.get("input")
        if error.get("type", "").startswith("date") and isinstance(value, str):
            message = f"invalid date {value!r} (expected YYYY-MM-DD)"
        parts.append(f"{name}: {message}")
    return "; ".join(parts) or "invalid request"


def create_app(settings: ApiSettings, *, pool: AsyncConnectionPool | None = None) -> FastAPI:
    """The whole API. Opens (and later closes) `pool`, or a pool it creates from settings."""
    # No check on checkout (a round trip per request): the reader retries a read whose
    # connection turned out dead (docs/performance.md#the-api-reads).
    pool = pool or create_pool(
        settings.database_url, min_size=1, max_size=10, name=SERVICE, check_on_checkout=False
    )
    probe_pool = create_probe_pool(settings.database_url, name=SERVICE)
    registry = new_registry(SERVICE)
    http_metrics = HttpMetrics(registry, SERVICE)
    registry.register(PoolMetrics(pool, SERVICE))
    db_up = Gauge(
        "myhealth_db_up",
        "1 when the last readiness probe reached the database, else 0.",
        ["service"],
        registry=registry,
    )
    db_up.labels(SERVICE).set(0)
    # The database gives up a little before the request does, so a slow query ends cleanly.
    statement_timeout_ms = max(100, math.floor(settings.API_REQUEST_TIMEOUT_SECONDS * 900))
    context = ApiContext(
        settings=settings,
        reader=Reader(pool, statement_timeout_ms=statement_timeout_ms),
        probe_pool=probe_pool,
        registry=registry,
        db_up=db_up,
        api_tokens=ApiTokenChecker(pool, statement_timeout_ms=statement_timeout_ms),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=False)
        await probe_pool.open(wait=False)
        try:
            yield
        finally:
            await probe_pool.close()
            await pool.close()

    app = FastAPI(
        title="myHealth API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # api/docs.py serves the page and its assets itself (no CDN)
        redoc_url=None,
        openapi_url=OPENAPI_URL,
    )
    app.state.context = context
    app.include_router(public)
    app.include_router(data)
    app.include_router(probes)
    if settings.webhooks_enabled:  # else /webhooks/oura answers 404 (docs/webhooks.md#receiver)
        app.include_router(webhook_router(Receiver(settings, pool, registry)))
    app.include_router(
        docs_router(
            title=app.title, version=__version__, docs_url=DOCS_URL, openapi_url=OPENAPI_URL
        )
    )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    @app.exception_handler(psycopg.errors.QueryCanceled)
    async def query_timed_out(_: Request, exc: Exception) -> JSONResponse:
        mh_logging.get_logger(__name__).warning("statement timeout")
        return JSONResponse({"detail": "request timed out"}, status_code=504)

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def database_down(_: Request, exc: Exception) -> JSONResponse:
        mh_logging.get_logger(__name__).warning("database unavailable", error=type(exc).__name__)
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    # Middlewares, innermost first: time limit, body limit, rate limit, CORS (so even a 429
    # is readable by an allowed browser origin), security headers; metrics/logging outermost.
    app.add_middleware(guards.TimeoutMiddleware, seconds=settings.API_REQUEST_TIMEOUT_SECONDS)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.API_MAX_BODY_BYTES)
    app.add_middleware(
        guards.RateLimitMiddleware,
        limiter=guards.RateLimiter(settings.RATE_LIMIT_PER_MINUTE),
        client_address=guards.ClientAddress(settings.TRUSTED_PROXIES),
    )
    if settings.CORS_ORIGINS:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.CORS_ORIGINS,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(guards.SecurityHeadersMiddleware, docs_paths=[DOCS_URL])
    app.add_middleware(HttpInstrumentation, metrics=http_metrics)
    return app


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(ApiSettings, environ)
    mh_logging.configure(SERVICE, settings.LOG_LEVEL)
    log = mh_logging.get_logger(__name__)
    app = create_app(settings)
    context: ApiContext = app.state.context

    def start_draining() -> None:
        context.draining = True

    # Forwarded addresses are handled by TRUSTED_PROXIES only (uvicorn's proxy_headers is off).
    config = uvicorn_config(
        app,
        settings.HOST,
        settings.PORT,
        log_level=settings.LOG_LEVEL,
        graceful_shutdown_seconds=math.ceil(settings.API_REQUEST_TIMEOUT_SECONDS) + 1,
    )
    config.h11_max_incomplete_event_size = 16_384
    log.info(
        "starting",
        address=f"http://{settings.HOST}:{settings.PORT}",
        database=describe(settings.database_url),
    )
    started = serve(
        config, on_draining=start_draining, drain_seconds=settings.API_SHUTDOWN_DELAY_SECONDS
    )
    if not started:
        raise UserFacingError(f"could not start on {settings.HOST}:{settings.PORT}")
    log.info("stopped")
    return 0
