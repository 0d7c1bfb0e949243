"""Prometheus helpers shared by the services.

Every service owns an explicit `CollectorRegistry` (no global registry), names its metrics
`myhealth_<subsystem>_<name>_<unit>` and labels HTTP metrics by route *template*, never by
raw path, so label values stay bounded.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myhealth import __version__
from myhealth.platform.logging import get_logger

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def new_registry(service: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    info = Gauge(
        "myhealth_build_info",
        "Build information of the running service (always 1).",
        ["service", "version"],
        registry=registry,
    )
    info.labels(service=service, version=__version__).set(1)
    return registry


class HttpMetrics:
    """Request counter and latency histogram, labelled by service, method, route and status."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.requests = Counter(
            "myhealth_http_requests_total",
            "HTTP requests handled, by route template and status code.",
            ["service", "method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "myhealth_http_request_duration_seconds",
            "HTTP request latency, by route template.",
            ["service", "method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "myhealth_http_requests_in_flight",
            "HTTP requests being handled right now.",
            ["service"],
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(self.service, method, route, str(status)).inc()
        self.latency.labels(self.service, method, route).observe(seconds)


def route_template(request: Request) -> str:
    """The matched route's path template (`/api/v1/trends/{metric}`), or `unmatched`."""
    # Set by the router once it matched; the only reliable source for routers added with
    # include_router (FastAPI wraps those in objects that have no `path`).
    matched = request.scope.get("route")
    if getattr(matched, "path", None):
        return str(matched.path)  # type: ignore[union-attr]
    # Not routed yet (a 429 or 413 answered by a middleware): match the templates ourselves.
    return _match(request.app.router.routes, request.scope) or "unmatched"


def _match(routes: Iterable[Any], scope: Scope) -> str | None:
    """The path template of the first route matching `scope`, descending into included
    routers (this FastAPI keeps them as objects with an `original_router` and no `path`)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None and getattr(route, "path", None) is None:
            if found := _match(inner.routes, scope):
                return found
            continue
        match, _ = route.matches(scope)
        if match == Match.FULL and getattr(route, "path", None):
            return str(route.path)
    return None


QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics"})


def _finished(metrics: HttpMetrics, request: Request, status: int, elapsed: float) -> None:
    """Record one finished request: its metrics, and its log line unless it is a probe."""
    route = route_template(request)
    metrics.in_flight.labels(metrics.service).dec()
    metrics.observe(request.method, route, status, elapsed)
    if route not in QUIET_ROUTES:
        get_logger("http").info(
            "request",
            method=request.method,
            route=route,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )


def instrument(app: ASGIApp, metrics: HttpMetrics) -> Callable[..., Awaitable[Response]]:
    """Return an HTTP middleware (`app.middleware("http")`) that records metrics and one log
    line per request. `HttpInstrumentation` does the same as a pure ASGI middleware, without
    the task and streams `call_next` costs on every request."""

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        metrics.in_flight.labels(metrics.service).inc()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            _finished(metrics, request, status, time.perf_counter() - started)

    return middleware


class HttpInstrumentation:
    """Metrics and one log line per HTTP request, as a pure ASGI middleware (add it last, so
    it is outermost and sees every final status). The status is the one the response started
    with; 500 when the app raised before starting one."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        self.metrics.in_flight.labels(self.metrics.service).inc()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            _finished(self.metrics, Request(scope), status, time.perf_counter() - started)


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class PoolMetrics(Collector):
    """`myhealth_db_pool_connections{service,state}`, read from the pool at scrape time."""

    def __init__(self, pool: AsyncConnectionPool[Any], service: str) -> None:
        self.pool = pool
        self.service = service

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        stats = self.pool.get_stats()
        family = GaugeMetricFamily(
            "myhealth_db_pool_connections",
            "Database pool connections: size (open), available (idle), waiting (requests).",
            labels=["service", "state"],
        )
        family.add_metric([self.service, "size"], stats.get("pool_size", 0))
        family.add_metric([self.service, "available"], stats.get("pool_available", 0))
        family.add_metric([self.service, "waiting"], stats.get("requests_waiting", 0))
        yield family
