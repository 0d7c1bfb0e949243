"""What stands between the internet and the routes: client addresses, rate limiting, body
size and time limits, security headers. Pure ASGI middlewares, so they also guard requests
that never reach a route (404s, malformed bodies)."""

from __future__ import annotations

import asyncio
import ipaddress
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddress:
    """The client's address: the socket peer, or, when the peer is a trusted proxy, the
    right-most untrusted address of `X-Forwarded-For` (the left part is client-controlled).

    Always an IP address in canonical form (rate-limiter buckets are keyed by it): a hop that
    is not an IP address means the chain cannot be believed, and the peer is used instead;
    otherwise arbitrary strings would each get a bucket of their own.
    """

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted_proxies
        )

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def of(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = client[0] if client else "unknown"
        if not self.trusted or not self._is_trusted(peer):
            return peer
        forwarded = Headers(scope=scope).getlist("x-forwarded-for")
        hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return _canonical(hop) or peer
        return (_canonical(hops[0]) if hops else None) or peer


def _canonical(address: str) -> str | None:
    """`address` as a canonical IP address string, or None when it is not one."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client: `per_minute` requests in a burst, refilled continuously."""

    MAX_CLIENTS = 100_000  # memory bound; full buckets are forgotten first

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, client: str) -> float:
        """0 when the request may proceed, else the seconds until it may (Retry-After)."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.MAX_CLIENTS:
                self._forget_idle(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full_after = self.capacity / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[key]
        if len(self._buckets) >= self.MAX_CLIENTS:  # all active: drop the oldest half
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in by_age[: len(by_age) // 2]:
                del self._buckets[key]


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


RATE_LIMITED_PREFIXES = ("/auth/", "/api/")


class RateLimitMiddleware:
    """429 with Retry-After once a client exceeds its budget. Covers `/auth/*` and `/api/*`
    (so failed logins count too), never the probes, `/metrics` or the docs."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, client_address: ClientAddress):
        self.app = app
        self.limiter = limiter
        self.client_address = client_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") == "OPTIONS"  # CORS preflights carry no credentials
            or not scope["path"].startswith(RATE_LIMITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        wait = self.limiter.acquire(self.client_address.of(scope))
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            response = _error(429, "rate limit exceeded", {"Retry-After": retry_after})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class TimeoutMiddleware:
    """504 when a request takes longer than `seconds` (the database has its own, shorter
    statement timeout, so this is the backstop)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.timeout(self.seconds)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                # The answer has begun (often the statement timeout's own 504): let it finish
                # rather than cut it off mid-body when the backstop expires a moment later.
                started = True
                deadline.reschedule(None)
            await send(message)

        try:
            async with deadline:
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            if started:
                raise
            await _error(504, "request timed out")(scope, receive, send)


API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The interactive docs page loads everything from this origin and runs no inline script
# (api/docs.py); Swagger UI sets inline styles and uses data: images.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """The usual hardening headers on every response; responses are never cached."""

    def __init__(self, app: ASGIApp, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in self.docs_paths else API_CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Content-Security-Policy", csp)
                headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)
