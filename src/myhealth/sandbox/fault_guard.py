"""The middleware in front of the data routes: injected faults (delay, 5xx bursts, 429s,
403s), bearer-token auth and scope checks; it counts every request for `/_sandbox/stats`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response

from myhealth.platform.metrics import route_template
from myhealth.sandbox.data_routes import PREFIXES
from myhealth.sandbox.responses import error_response
from myhealth.sandbox.state import SandboxState

# The OAuth scope each route needs; types without a scope of their own are `daily`
# (docs/oura-api.md#scopes).
ROUTE_SCOPES: dict[str, set[str]] = {
    "heartrate": {"heartrate"},
    "workout": {"workout"},
    "session": {"session"},
    "tag": {"tag"},
    "enhanced_tag": {"tag"},
    "daily_spo2": {"spo2", "spo2Daily"},
    "personal_info": {"personal", "email"},
}


def _scope_needed(path: str) -> set[str]:
    for prefix in PREFIXES:
        if path.startswith(prefix + "/"):
            route = path[len(prefix) + 1 :].split("/")[0]
            return ROUTE_SCOPES.get(route, {"daily"})
    return set()


def fault_guard(state: SandboxState) -> Callable[..., Awaitable[Response]]:
    """Faults and bearer auth on the data routes; request counting on every route."""

    async def middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await _guarded(request, call_next)
        with state.lock:
            state.requests[
                f"{request.method} {route_template(request)} {response.status_code}"
            ] += 1
        return response

    async def _guarded(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # The webhook subscription API takes application credentials, checked by its routes.
        if not request.url.path.startswith("/v2/") or request.url.path.startswith("/v2/webhook/"):
            return await call_next(request)
        faults = state.faults
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        with state.lock:
            state.data_requests += 1
            number = state.data_requests
            burst = state.faults.error_burst > 0
            if burst:
                state.faults.error_burst -= 1
        if burst:
            return error_response(faults.error_status, "Service temporarily unavailable.")
        if faults.rate_limit_every and number % faults.rate_limit_every == 0:
            return error_response(
                429,
                "Rate limit exceeded.",
                {
                    "Retry-After": str(faults.retry_after),
                    "X-RateLimit-Limit": "5000",
                    "X-RateLimit-Window": "300",
                    "X-RateLimit-Reset": str(int(time.time()) + faults.retry_after),
                    "X-RateLimit-Tier": "access_token",
                },
            )
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error_response(401, "Not authenticated.")
        if not state.access_allowed(token.strip()):
            return error_response(401, "Access token is expired, malformed or revoked.")
        if faults.forbidden:
            return error_response(403, "Access forbidden: the Oura membership has expired.")
        if faults.enforce_scopes:
            needed = _scope_needed(request.url.path)
            granted = state.scope_of(token.strip())
            if needed and granted is not None and not needed & granted:
                return error_response(
                    403, f"Access forbidden: the token lacks the {min(needed)} scope."
                )
        return await call_next(request)

    return middleware
