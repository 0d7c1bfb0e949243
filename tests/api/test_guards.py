"""Rate limiting, client addresses behind proxies, CORS, size limits, headers, probes and
metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from myhealth.api.guards import ClientAddress, RateLimiter, TimeoutMiddleware

from .conftest import API_KEY, ClientFactory, bearer


def test_rate_limit_is_429_with_retry_after(
    make_client: ClientFactory, filled_database_url: str
) -> None:
    client = make_client(filled_database_url, RATE_LIMIT_PER_MINUTE="3")
    headers = bearer(client)  # 1st request
    assert client.get("/api/v1/sleep", headers=headers).status_code == 200
    assert client.get("/api/v1/sleep", headers=headers).status_code == 200
    limited = client.get("/api/v1/sleep", headers=headers)
    assert limited.status_code == 429
    assert limited.json() == {"detail": "rate limit exceeded"}
    assert 1 <= int(limited.headers["Retry-After"]) <= 20  # one token per 20 s at 3/min
    # Logins count too (no unlimited key guessing) ...
    assert client.post("/auth/login", json={"api_key": "guess"}).status_code == 429
    # ... but probes and metrics are never limited.
    for path in ("/health", "/ready", "/metrics", "/openapi.json"):
        assert client.get(path).status_code == 200, path


def test_rate_limit_is_per_client() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.acquire("a"), limiter.acquire("a")] == [0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(30.0)
    assert limiter.acquire("b") == 0.0
    now[0] = 30.0  # one token back after 30 s at 2/min
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def _scope(peer: str, forwarded: str | None) -> dict[str, object]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "client": (peer, 1234), "headers": headers}


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        pytest.param([], "203.0.113.9", "198.51.100.1", "203.0.113.9", id="no-proxies-ignored"),
        pytest.param(["10.0.0.0/8"], "192.0.2.5", "198.51.100.1", "192.0.2.5", id="untrusted-peer"),
        pytest.param(["10.0.0.0/8"], "10.1.2.3", "198.51.100.1", "198.51.100.1", id="trusted"),
        pytest.param(["10.0.0.0/8"], "10.1.2.3", "evil-bucket-1", "10.1.2.3", id="not-an-ip"),
        pytest.param(
            ["10.0.0.0/8"], "10.1.2.3", "198.51.100.1:4321", "10.1.2.3", id="ip-with-port"
        ),
        pytest.param(["10.0.0.0/8"], "10.1.2.3", "2001:DB8:0::1", "2001:db8::1", id="canonical"),
        pytest.param(
            ["10.0.0.0/8"], "10.1.2.3", "1.1.1.1, 198.51.100.1, 10.9.9.9", "198.51.100.1",
            id="spoofed-left-part-ignored",
        ),
        pytest.param(["10.0.0.1"], "10.0.0.1", None, "10.0.0.1", id="trusted-no-header"),
    ],
)  # fmt: skip
def test_forwarded_address_trusted_only_from_proxies(
    trusted: list[str], peer: str, forwarded: str | None, expected: str
) -> None:
    assert ClientAddress(trusted).of(_scope(peer, forwarded)) == expected


def test_forwarded_clients_are_limited_separately_behind_a_trusted_proxy(
    make_client: ClientFactory, filled_database_url: str
) -> None:
    # The test client's peer address is "testclient"; not an IP, so it cannot be trusted:
    # X-Forwarded-For must be ignored and every request counted against the peer.
    client = make_client(filled_database_url, RATE_LIMIT_PER_MINUTE="2", TRUSTED_PROXIES="::1")
    for n, address in enumerate(["198.51.100.1", "198.51.100.2", "198.51.100.3"]):
        response = client.post(
            "/auth/login", json={"api_key": API_KEY}, headers={"X-Forwarded-For": address}
        )
        assert response.status_code == (200 if n < 2 else 429)


def test_cors_allows_configured_origins_only(
    make_client: ClientFactory, filled_database_url: str
) -> None:
    client = make_client(filled_database_url, CORS_ORIGINS="https://eric-n.com")
    preflight = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = client.options("/api/v1/sleep", headers={"Origin": "https://eric-n.com", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://eric-n.com"
    refused = client.options(
        "/api/v1/sleep", headers={"Origin": "https://evil.example", **preflight}
    )
    assert refused.status_code == 400
    assert "Access-Control-Allow-Origin" not in refused.headers
    simple = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in simple.headers
    simple = client.get("/health", headers={"Origin": "https://eric-n.com"})
    assert simple.headers["Access-Control-Allow-Origin"] == "https://eric-n.com"


def test_no_cors_headers_without_configured_origins(client: TestClient) -> None:
    response = client.get("/health", headers={"Origin": "https://eric-n.com"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_large_bodies_are_refused(client: TestClient) -> None:
    response = client.post("/auth/login", json={"api_key": "x" * 20_000})
    assert response.status_code == 413
    assert "detail" in response.json()


def test_an_oversized_chunked_body_is_413(client: TestClient) -> None:
    """No Content-Length: the size is only known while reading. This used to be 400 (the
    guard's error was raised inside FastAPI's body parsing, which answers 400)."""

    def chunks() -> Iterator[bytes]:
        yield b'{"api_key": "'
        for _ in range(40):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(
        "/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "detail" in response.json()


def test_refusals_before_routing_are_labelled_with_their_route(
    make_client: ClientFactory, filled_database_url: str
) -> None:
    """429 and 413 are answered by middlewares before the router runs; they used to be
    counted as route="unmatched"."""
    client = make_client(filled_database_url, RATE_LIMIT_PER_MINUTE="2")
    client.post("/auth/login", json={"api_key": "x" * 20_000})
    client.post("/auth/login", json={"api_key": "guess"})
    client.post("/auth/login", json={"api_key": "guess"})
    metrics = client.get("/metrics").text
    line = (
        'myhealth_http_requests_total{{method="POST",route="/auth/login",service="api",'
        'status="{}"}}'
    )
    assert line.format("413") + " 1.0" in metrics
    assert line.format("429") + " 1.0" in metrics
    assert 'route="unmatched"' not in metrics


def test_security_headers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert response.headers["Cache-Control"] == "no-store"
    assert "server" not in {k.lower() for k in response.headers if k.lower() == "x-powered-by"}


def test_probes(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}


def test_not_ready_when_the_database_is_gone(make_client: ClientFactory) -> None:
    client = make_client("postgresql://nobody@127.0.0.1:1/none")
    assert client.get("/health").status_code == 200
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "database unavailable"}
    assert 'myhealth_db_up{service="api"} 0.0' in client.get("/metrics").text
    login = client.post("/auth/login", json={"api_key": API_KEY})
    token = login.json()["access_token"]
    data = client.get("/api/v1/sleep", headers={"Authorization": f"Bearer {token}"})
    assert data.status_code == 503
    assert data.json() == {"detail": "database unavailable"}


def test_metrics_tell_the_database_state_without_a_readiness_probe(
    make_client: ClientFactory, filled_database_url: str
) -> None:
    """Compose has no readiness probe: each scrape pings, or `myhealth_db_up` would stay at
    its start value 0 and MyhealthDatabaseUnreachable fire on a healthy API."""
    up = make_client(filled_database_url)
    assert 'myhealth_db_up{service="api"} 1.0' in up.get("/metrics").text
    down = make_client("postgresql://nobody@127.0.0.1:1/none")
    assert 'myhealth_db_up{service="api"} 0.0' in down.get("/metrics").text


def test_metrics_follow_the_contract(client: TestClient, auth: dict[str, str]) -> None:
    client.get("/ready")
    client.get("/api/v1/trends/steps", headers=auth)
    text = client.get("/metrics").text
    for line in (
        'myhealth_build_info{service="api"',
        'myhealth_db_up{service="api"} 1.0',
        'myhealth_db_pool_connections{service="api",state="size"}',
        'myhealth_db_pool_connections{service="api",state="available"}',
        'myhealth_db_pool_connections{service="api",state="waiting"}',
        'myhealth_http_requests_in_flight{service="api"}',
        'myhealth_http_requests_total{method="GET",route="/api/v1/trends/{metric}",service="api",status="200"}',
        'myhealth_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/trends/{metric}",service="api"}',
    ):  # fmt: skip
        assert line in text, line
    assert "/api/v1/trends/steps" not in text  # labelled by template, never the raw path


async def _slow(request: Request) -> JSONResponse:
    await asyncio.sleep(2)
    return JSONResponse({"late": True})


def test_slow_requests_get_504() -> None:
    app = TimeoutMiddleware(Starlette(routes=[Route("/slow", _slow)]), seconds=0.2)
    with TestClient(app) as client:
        response = client.get("/slow")
    assert response.status_code == 504
    assert response.json() == {"detail": "request timed out"}


def test_slow_queries_get_504(make_client: ClientFactory, filled_database_url: str) -> None:
    # A lock held by another session makes the query wait; the statement timeout (90 % of
    # the request timeout) ends it before the request's own deadline.
    client = make_client(filled_database_url, API_REQUEST_TIMEOUT_SECONDS="0.5")
    headers = bearer(client)
    with psycopg.connect(filled_database_url) as locker:
        locker.execute("LOCK TABLE daily_activity IN ACCESS EXCLUSIVE MODE")
        response = client.get("/api/v1/activity", headers=headers)
        locker.rollback()
    assert response.status_code == 504
    assert response.json() == {"detail": "request timed out"}
