"""API latency and throughput over the backfilled history, against the same SQL run directly.

The load comes from a separate process (`bench.loadgen`, on loopback), first one request at a
time (latency without queueing: the number compared with the floor), then at a fixed
concurrency (throughput, and latency under load), then open loop: a fixed rate of requests
sent on schedule for a fixed time, latency counted from the scheduled time (the API targets
of docs/performance.md are stated at that rate). Floor: the API's own `Reader` (the same SQL,
the same READ ONLY transaction and statement timeout) through a pool of exactly one
connection, one query at a time, in this process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from bench.backfill import backfilled, log_dir
from bench.common import (
    API_KEY,
    Context,
    percentile,
    postgres_version,
    ratio,
    run_measured,
    start_api,
    table,
    write_result,
)
from myhealth.api.queries import Reader

# The HTTP round trip alone (no database, no auth): what any request costs the load generator
# and uvicorn on this machine, to read the other rows against.
HEALTH = "/health"


def endpoints(today: dt.date) -> dict[str, str]:
    return {
        "dashboard": "/api/v1/dashboard",
        "sleep_90d": (f"/api/v1/sleep?start_date={today - dt.timedelta(days=89)}&end_date={today}"),
        "heart_rate_trend_1y": (
            "/api/v1/trends/heart_rate?bucket=day"
            f"&start_date={today - dt.timedelta(days=364)}&end_date={today}"
        ),
    }


def floor_queries(reader: Reader, today: dt.date) -> dict[str, Callable[[], Awaitable[Any]]]:
    """The same reads the routes make, straight through the API's query code."""
    return {
        "dashboard": reader.dashboard,
        "sleep_90d": lambda: reader.daily("sleep_metrics", today - dt.timedelta(days=89), today),
        "heart_rate_trend_1y": lambda: reader.trend(
            "heart_rate", "day", today - dt.timedelta(days=364), today, "UTC"
        ),
    }


async def measure_floor(url: str, today: dt.date, requests: int, seconds: float) -> dict[str, Any]:
    pool = AsyncConnectionPool(url, min_size=1, max_size=1, open=False)
    await pool.open(wait=True)
    try:
        reader = Reader(pool, statement_timeout_ms=9000)
        out: dict[str, Any] = {}
        for name, query in floor_queries(reader, today).items():
            for _ in range(3):
                await query()  # warm the connection and the caches, as the API's are
            latencies: list[float] = []
            deadline = time.perf_counter() + seconds
            while len(latencies) < requests and time.perf_counter() < deadline:
                sent = time.perf_counter()
                rows = await query()
                latencies.append(time.perf_counter() - sent)
            out[name] = {"latencies": latencies, "rows": len(rows) if isinstance(rows, list) else 1}
        return out
    finally:
        await pool.close()


def load(
    base_url: str, token: str, paths: list[str], requests: int, seconds: float, concurrency: int
) -> dict[str, Any]:
    config = {
        "base_url": base_url,
        "token": token,
        "paths": paths,
        "requests": requests,
        "seconds": seconds,
        "concurrency": concurrency,
        "warmup": 3,
    }
    finished = run_measured(
        ["-m", "bench.loadgen", json.dumps(config)], {}, timeout=seconds * len(paths) + 120
    )
    if finished.returncode != 0:
        raise RuntimeError(f"load generator failed: {finished.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(finished.stdout)
    return result


def open_loop(base_url: str, token: str, paths: list[str], rate: float, seconds: float) -> Any:
    config = {
        "mode": "rate",
        "base_url": base_url,
        "token": token,
        "paths": paths,
        "rate": rate,
        "seconds": seconds,
        "warmup": 3,
    }
    finished = run_measured(
        ["-m", "bench.loadgen", json.dumps(config)], {}, timeout=(seconds + 30) * len(paths) + 60
    )
    if finished.returncode != 0:
        raise RuntimeError(f"load generator failed: {finished.stderr[-2000:]}")
    return json.loads(finished.stdout)


def merge(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One result per endpoint from several rounds: latencies pooled, counts added."""
    merged: dict[str, Any] = {}
    for result in rounds:
        for key, run in result.items():
            into = merged.setdefault(key, {**run, "latencies": [], "errors": 0, "seconds": 0.0})
            into["latencies"] = into["latencies"] + run["latencies"]
            into["errors"] += run.get("errors", 0)
            into["seconds"] += run.get("seconds", 0.0)
    return merged


def response_rows(body: Any) -> int:
    """Rows in an answer, to compare with the rows the floor's SQL returned."""
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        return len(body["data"])
    if isinstance(body, dict) and isinstance(body.get("points"), list):
        return len(body["points"])
    return 1


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    latencies = run["latencies"]
    return {
        "requests": len(latencies),
        "errors": run.get("errors", 0),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "throughput_rps": round(len(latencies) / run["seconds"], 1) if run.get("seconds") else None,
    }


def run_api(ctx: Context) -> dict[str, Any]:
    url = backfilled(ctx)
    sizes = ctx.sizes
    paths = endpoints(ctx.today)
    with start_api(url, log_dir(ctx)) as api:
        idle_rss = api.rss_mib
        with httpx.Client(base_url=api.url, timeout=10) as client:
            token = client.post("/auth/login", json={"api_key": API_KEY}).json()["access_token"]
            bodies = {name: client.get(path, headers={"Authorization": f"Bearer {token}"})
                      for name, path in paths.items()}  # fmt: skip
        statuses = {name: response.status_code for name, response in bodies.items()}
        targets = [HEALTH, *paths.values()]
        # Ours one at a time and the floor alternate in rounds, so a change in the machine's
        # load during the run weighs on both sides alike.
        rounds = 1 if sizes.quick else 3
        per_round = max(1, sizes.floor_requests // rounds)
        seconds = sizes.api_seconds / 2 / rounds
        serial_rounds, floor_rounds = [], []
        for _ in range(rounds):
            serial_rounds.append(load(api.url, token, targets, per_round, seconds, 1))
            floor_rounds.append(asyncio.run(measure_floor(url, ctx.today, per_round, seconds)))
        serial = merge(serial_rounds)
        floor = merge(floor_rounds)
        concurrent = load(
            api.url,
            token,
            targets,
            sizes.api_requests,
            sizes.api_seconds,
            sizes.api_concurrency,
        )
        at_rate = open_loop(api.url, token, targets, sizes.api_rate, sizes.api_rate_seconds)
        peak_rss = api.peak_mib
        loaded_rss = api.rss_mib
        startup = api.startup_seconds
    results: dict[str, Any] = {
        "concurrency": sizes.api_concurrency,
        "open_loop_rate": sizes.api_rate,
        "open_loop_seconds": sizes.api_rate_seconds,
        "api_startup_seconds": round(startup, 3),
        "api_rss_idle_mib": idle_rss,
        "api_rss_after_load_mib": loaded_rss,
        "api_peak_rss_mib": peak_rss,
        "endpoints": {},
    }
    rows = []
    rate_rows = []

    def rate_summary(path: str) -> dict[str, Any]:
        run = at_rate[path]
        summary = summarize(run)
        summary["late_sends"] = run["late_sends"]
        summary["statuses"] = run["statuses"]
        summary["connections"] = run["connections"]
        rate_rows.append([
            path, summary["requests"], summary["throughput_rps"], summary["p50_ms"],
            summary["p95_ms"], summary["p99_ms"], summary["errors"], summary["connections"],
        ])  # fmt: skip
        return summary

    health_serial, health_loaded = summarize(serial[HEALTH]), summarize(concurrent[HEALTH])
    results["http_round_trip"] = {
        "path": HEALTH,
        "serial": health_serial,
        "concurrent": health_loaded,
        "open_loop": rate_summary(HEALTH),
    }
    rows.append([
        "(GET /health: HTTP only)", health_serial["p50_ms"], health_serial["p95_ms"],
        health_serial["p99_ms"], None, None, health_loaded["p50_ms"], health_loaded["p95_ms"],
        health_loaded["p99_ms"], health_loaded["throughput_rps"], health_loaded["errors"],
    ])  # fmt: skip
    for name, path in paths.items():
        ours_serial = summarize(serial[path])
        ours_loaded = summarize(concurrent[path])
        floor_stats = summarize(floor[name])
        results["endpoints"][name] = {
            "path": path,
            "status": statuses[name],
            "response_bytes": len(bodies[name].content),
            "response_rows": response_rows(bodies[name].json()),
            "floor_rows": floor[name]["rows"],
            "serial": ours_serial,
            "concurrent": ours_loaded,
            "floor": floor_stats,
            "open_loop": rate_summary(path),
            "p50_ratio_to_floor": ratio(ours_serial["p50_ms"], floor_stats["p50_ms"]),
        }
        rows.append([
            name, ours_serial["p50_ms"], ours_serial["p95_ms"], ours_serial["p99_ms"],
            floor_stats["p50_ms"], ratio(ours_serial["p50_ms"], floor_stats["p50_ms"]),
            ours_loaded["p50_ms"], ours_loaded["p95_ms"], ours_loaded["p99_ms"],
            ours_loaded["throughput_rps"], ours_loaded["errors"],
        ])  # fmt: skip
    text = table(
        f"API over {sizes.history_days} days of data (latency in ms; load from a separate process)",
        [
            "endpoint", "p50", "p95", "p99", "floor p50", "p50/floor",
            f"p50@{sizes.api_concurrency}", f"p95@{sizes.api_concurrency}",
            f"p99@{sizes.api_concurrency}", "req/s", "errors",
        ],
        rows,
    )  # fmt: skip
    rate_text = table(
        f"Open loop: {sizes.api_rate:g} requests/s scheduled for {sizes.api_rate_seconds:g} s per "
        "endpoint (latency in ms from the scheduled time)",
        ["path", "requests", "req/s", "p50", "p95", "p99", "errors", "connections"],
        rate_rows,
    )
    write_result(
        ctx,
        "api",
        parameters={
            "history_days": sizes.history_days,
            "serial_requests_cap": sizes.floor_requests,
            "concurrent_requests_cap": sizes.api_requests,
            "seconds_cap_per_endpoint": sizes.api_seconds,
            "concurrency": sizes.api_concurrency,
            "floor": "myhealth.api.queries.Reader over a 1-connection pool, sequential",
            "serial_and_floor_rounds": 1 if sizes.quick else 3,
            "open_loop_rate": sizes.api_rate,
            "open_loop_seconds": sizes.api_rate_seconds,
        },
        results=results,
        tables=[text, rate_text],
        postgres=postgres_version(url),
    )
    return results
