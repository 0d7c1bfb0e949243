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

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from myhealth.platform.logging import get_logger

# How long a client may take to send a request's line and headers. uvicorn has no such limit:
# its keep-alive timer stops at the first byte, so a client trickling one header byte at a time
# could hold a connection (and a slot of the server's connection limit) forever.
HEADER_READ_TIMEOUT_SECONDS = 10.0


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head (request line + headers).

    The deadline is armed when the connection opens and again after each response; when it
    fires while no request is being handled (h11 has not seen a complete head), the connection
    is closed. Slow bodies are the body guard's business (platform/body_limit.py).
    """

    header_timeout: float = HEADER_READ_TIMEOUT_SECONDS
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._cancel_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _header_timed_out(self) -> None:
        self._header_deadline = None
        handling = self.cycle is not None and not self.cycle.response_complete
        if handling or self.transport.is_closing():
            return
        if self.conn.their_state in (h11.IDLE, h11.DONE):
            get_logger(__name__).info("request head timed out", seconds=self.header_timeout)
            self.transport.close()


def header_deadline_protocol(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class with its own deadline (a class attribute: uvicorn instantiates it)."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})


def uvicorn_config(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "info",
    graceful_shutdown_seconds: float = 20,
    header_timeout_seconds: float = HEADER_READ_TIMEOUT_SECONDS,
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        http=header_deadline_protocol(header_timeout_seconds),
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
    app: ASGIApp,
    *,
    name: str = "http",
    graceful_shutdown_seconds: float = 5,
    header_timeout_seconds: float = HEADER_READ_TIMEOUT_SECONDS,
) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (a free port) in a background thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn_config(
            app,
            port=port,
            log_level="warning",
            graceful_shutdown_seconds=graceful_shutdown_seconds,
            header_timeout_seconds=header_timeout_seconds,
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
