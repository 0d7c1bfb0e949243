"""Serving the HTTP services: one uvicorn setup for every service, two ways to run it.

- `serve(...)` runs a service in the foreground (`myhealth processor|api|sandbox`). On SIGTERM,
  as Kubernetes sends it, the service first turns not-ready (`on_draining`), keeps serving for
  `drain_seconds` so the endpoint leaves the Service, then stops accepting connections and lets
  in-flight requests finish. Ctrl-C (SIGINT) skips the drain delay; a second one forces the exit.
- `serve_in_thread(app)` serves an app on 127.0.0.1, on a port the OS picks, in a background
  thread for the length of a `with` block: tests, benchmarks and the demo use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from myhealth.platform.logging import get_logger


def uvicorn_config(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "info",
    graceful_shutdown_seconds: float = 20,
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # platform.logging is already configured
        log_level=log_level,
        access_log=False,  # one line per request comes from platform.metrics.instrument
        proxy_headers=False,  # forwarded addresses are the services' own decision
        server_header=False,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=int(graceful_shutdown_seconds),
    )


class DrainingServer(uvicorn.Server):
    """uvicorn with a not-ready period before it stops accepting connections on SIGTERM."""

    def __init__(
        self, config: uvicorn.Config, on_draining: Callable[[], None], drain_seconds: float
    ) -> None:
        super().__init__(config)
        self.on_draining = on_draining
        self.drain_seconds = drain_seconds
        self.draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded for re-raising after shutdown (uvicorn's default): a clean drain exits 0.
        if sig == signal.SIGTERM and not self.draining and self.drain_seconds > 0:
            self.draining = True
            self.on_draining()
            get_logger(__name__).info("draining", seconds=self.drain_seconds)
            timer = threading.Timer(self.drain_seconds, self._stop)
            timer.daemon = True
            timer.start()
            return
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self._stop()

    def _stop(self) -> None:
        if not self.draining:
            self.draining = True
            self.on_draining()
        self.should_exit = True


def serve(config: uvicorn.Config, *, on_draining: Callable[[], None], drain_seconds: float) -> bool:
    """Serve in the foreground until stopped; False when the server could not start."""
    server = DrainingServer(config, on_draining, drain_seconds)
    server.run()
    return server.started


@contextlib.contextmanager
def serve_in_thread(
    app: ASGIApp, *, name: str = "http", graceful_shutdown_seconds: float = 5
) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a background thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn_config(
            app, port=port, log_level="warning", graceful_shutdown_seconds=graceful_shutdown_seconds
        )
    )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"{name}-{port}", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"{name} did not start: {failure[0] if failure else '?'}")
            thread.join(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(graceful_shutdown_seconds + 10)
        sock.close()
