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
import signal
import socket
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool

from myhealth import __version__
from myhealth.platform import logging as mh_logging
from myhealth.platform.config import ProcessorSettings, load
from myhealth.platform.metrics import HttpMetrics, instrument, new_registry
from myhealth.processor.db_metrics import DatabaseMetrics
from myhealth.processor.observability import SERVICE, IngestMetrics, PoolMetrics
from myhealth.processor.routes import ProcessorState, add_routes, install_error_handlers
from myhealth.storage.db import create_pool

GRACEFUL_SHUTDOWN_SECONDS = 20
DRAIN_SECONDS = 5.0
POOL_MAX_SIZE = 10


def create_app(
    settings: ProcessorSettings, *, pool: AsyncConnectionPool[Any] | None = None
) -> FastAPI:
    """The processor app. The pool is opened by the app's lifespan (not waiting for the
    database: `/ready` reports it) and closed on shutdown, so whoever drives the app without
    a server (httpx.ASGITransport) runs `app.router.lifespan_context(app)` around it."""
    pool = pool or create_pool(settings.database_url, max_size=POOL_MAX_SIZE, name=SERVICE)
    registry = new_registry(SERVICE)
    http_metrics = HttpMetrics(registry, SERVICE)
    db_metrics = DatabaseMetrics()
    registry.register(db_metrics)
    registry.register(PoolMetrics(pool))
    state = ProcessorState(
        settings=settings,
        pool=pool,
        registry=registry,
        ingest_metrics=IngestMetrics(registry),
        db_metrics=db_metrics,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=False)
        try:
            yield
        finally:
            state.draining = True
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
    app.middleware("http")(instrument(app, http_metrics))
    return app


def _uvicorn_config(app: FastAPI, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # our logging (platform.logging) is already configured
        log_level=log_level,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=5,
    )


class _DrainingServer(uvicorn.Server):
    """uvicorn, with a not-ready period before it stops accepting connections on SIGTERM."""

    def __init__(self, config: uvicorn.Config, state: ProcessorState, drain_seconds: float):
        super().__init__(config)
        self.state = state
        self.drain_seconds = drain_seconds

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded for re-raising after shutdown (uvicorn's default): a clean drain exits 0.
        if sig == signal.SIGTERM and not self.state.draining and self.drain_seconds > 0:
            self.state.draining = True
            mh_logging.get_logger(__name__).info("draining", seconds=self.drain_seconds)
            timer = threading.Timer(self.drain_seconds, self._stop)
            timer.daemon = True
            timer.start()
            return
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self._stop()

    def _stop(self) -> None:
        self.state.draining = True
        self.should_exit = True


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(ProcessorSettings, environ)
    mh_logging.configure(SERVICE, settings.LOG_LEVEL)
    log = mh_logging.get_logger(__name__)
    log.info("starting", host=settings.HOST, port=settings.PORT)
    app = create_app(settings)
    config = _uvicorn_config(app, settings.HOST, settings.PORT, settings.LOG_LEVEL)
    _DrainingServer(config, app.state.processor, DRAIN_SECONDS).run()
    log.info("stopped")
    return 0


@contextlib.contextmanager
def running(
    settings: ProcessorSettings, *, pool: AsyncConnectionPool[Any] | None = None
) -> Iterator[str]:
    """Serve the processor on 127.0.0.1 (a free port) in a background thread; yield its base
    URL (`http://127.0.0.1:PORT`); stop it (graceful shutdown) on exit.

    `settings.HOST`/`PORT` are ignored: the port is chosen by the OS when the socket is bound,
    so parallel tests never collide.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        _uvicorn_config(create_app(settings, pool=pool), "127.0.0.1", port, "warning")
    )
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=serve, name=f"processor-{port}", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"processor did not start: {failure[0] if failure else '?'}")
            thread.join(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(GRACEFUL_SHUTDOWN_SECONDS + 10)
        sock.close()
