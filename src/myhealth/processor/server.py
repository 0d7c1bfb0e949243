"""`myhealth processor`: the data-processor HTTP service.

`create_app(settings)` builds the whole app from its settings (and, for tests, an optional
pool); `command()` serves it with uvicorn; `running(settings)` serves it on 127.0.0.1 in a
background thread for tests, benchmarks and the demo.

Shutdown (SIGTERM, as Kubernetes sends it): `/ready` turns 503 at once so the endpoint is
taken out of the Service, the server keeps serving for `DRAIN_SECONDS`, then stops accepting
connections and lets in-flight batches finish (up to `GRACEFUL_SHUTDOWN_SECONDS`); the lifespan
closes the pool last and the command exits 0. Ctrl-C (SIGINT) skips the drain delay; a second
Ctrl-C forces the exit. A batch is one transaction, so an interrupted one leaves nothing behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool
from starlette.types import Scope

from myhealth import __version__
from myhealth.oura.client import OuraClient, client_from_settings
from myhealth.platform import logging as mh_logging
from myhealth.platform.body_limit import BodyLimitMiddleware
from myhealth.platform.config import OuraSettings, ProcessorSettings, load
from myhealth.platform.http import serve, serve_in_thread, uvicorn_config
from myhealth.platform.metrics import HttpMetrics, PoolMetrics, instrument, new_registry
from myhealth.processor import rollup_zone
from myhealth.processor.db_metrics import DatabaseMetrics
from myhealth.processor.observability import SERVICE, IngestMetrics
from myhealth.processor.routes import ProcessorState, add_routes, install_error_handlers
from myhealth.storage.db import create_pool, create_probe_pool
from myhealth.webhooks.worker import WebhookMetrics, WebhookWorker, running_worker

GRACEFUL_SHUTDOWN_SECONDS = 20
DRAIN_SECONDS = 5.0
POOL_MAX_SIZE = 10


def create_app(
    settings: ProcessorSettings,
    *,
    pool: AsyncConnectionPool[Any] | None = None,
    webhook_oura: OuraClient | None = None,
) -> FastAPI:
    """The processor app. The pool is opened by the app's lifespan (not waiting for the
    database: `/ready` reports it) and closed on shutdown, so whoever drives the app without
    a server (httpx.ASGITransport) runs `app.router.lifespan_context(app)` around it.
    With `webhook_oura` (the Oura client of the owner) the webhook worker runs alongside."""
    pool = pool or create_pool(settings.database_url, max_size=POOL_MAX_SIZE, name=SERVICE)
    probe_pool = create_probe_pool(settings.database_url, name=SERVICE)
    registry = new_registry(SERVICE)
    http_metrics = HttpMetrics(registry, SERVICE)
    db_metrics = DatabaseMetrics(settings.USER_TIMEZONE)
    registry.register(db_metrics)
    registry.register(PoolMetrics(pool, SERVICE))
    state = ProcessorState(
        settings=settings,
        pool=pool,
        probe_pool=probe_pool,
        registry=registry,
        ingest_metrics=IngestMetrics(registry),
        db_metrics=db_metrics,
    )

    worker = (
        WebhookWorker(
            pool,
            webhook_oura,
            WebhookMetrics(registry),
            poll_seconds=settings.WEBHOOK_POLL_SECONDS,
        )
        if webhook_oura is not None
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=False)
        await probe_pool.open(wait=False)
        rollup = asyncio.create_task(rollup_zone.ensure_zone(pool, settings.USER_TIMEZONE))
        async with running_worker(worker, webhook_oura):
            try:
                yield
            finally:
                state.draining = True
                rollup.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await rollup
            await probe_pool.close()
            await pool.close()

    app = FastAPI(
        title="myHealth processor",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.processor = state
    add_routes(app)
    install_error_handlers(app)

    def count_refusal(scope: Scope, reason: str) -> None:
        # myhealth_ingest_requests_rejected_total is about ingest requests only.
        if scope["path"] == "/api/v1/ingest":
            state.ingest_metrics.requests_rejected.labels(reason).inc()

    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.INGEST_MAX_BYTES,
        detail=f"request body exceeds INGEST_MAX_BYTES ({settings.INGEST_MAX_BYTES} bytes)",
        on_refused=count_refusal,
    )
    app.middleware("http")(instrument(app, http_metrics))
    return app


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(ProcessorSettings, environ)
    mh_logging.configure(SERVICE, settings.LOG_LEVEL)
    log = mh_logging.get_logger(__name__)
    log.info("starting", host=settings.HOST, port=settings.PORT)
    webhook_oura = None
    if settings.WEBHOOK_WORKER_ENABLED:
        webhook_oura = client_from_settings(load(OuraSettings, environ))
    app = create_app(settings, webhook_oura=webhook_oura)
    state: ProcessorState = app.state.processor
    config = uvicorn_config(
        app,
        settings.HOST,
        settings.PORT,
        log_level=settings.LOG_LEVEL,
        graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS,
    )
    serve(config, on_draining=lambda: setattr(state, "draining", True), drain_seconds=DRAIN_SECONDS)
    log.info("stopped")
    return 0


@contextlib.contextmanager
def running(
    settings: ProcessorSettings,
    *,
    pool: AsyncConnectionPool[Any] | None = None,
    webhook_oura: OuraClient | None = None,
) -> Iterator[str]:
    """Serve the processor on 127.0.0.1 (a free port) in a background thread; yield its base
    URL (`http://127.0.0.1:PORT`); stop it (graceful shutdown) on exit.

    `settings.HOST`/`PORT` are ignored, so parallel tests never collide.
    """
    with serve_in_thread(
        create_app(settings, pool=pool, webhook_oura=webhook_oura),
        name=SERVICE,
        graceful_shutdown_seconds=GRACEFUL_SHUTDOWN_SECONDS,
    ) as url:
        yield url
