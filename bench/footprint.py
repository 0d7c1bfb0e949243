"""Footprint: start-up time to ready, resident memory idle and under load, per service.

Start-up is spawn → first 200 from the readiness route (`/ready` for processor and API, which
checks the database; `/health` for the sandbox). Idle RSS is read a second after ready; under
load, each service gets a short bounded load and we read VmRSS and the high-water mark VmHWM.
The collector has no idle state: its peak comes from the backfill (ru_maxrss).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.api import endpoints, load
from bench.backfill import databases, log_dir
from bench.common import (
    API_KEY,
    SEED,
    Context,
    Service,
    postgres_version,
    start_api,
    start_processor,
    start_sandbox,
    table,
    write_result,
)
from bench.ingest import documents, send
from myhealth.sandbox.generator import Person


def _load_sandbox(ctx: Context, service: Service, seconds: float) -> int:
    start = dt.datetime.combine(max(ctx.first_day, ctx.today - dt.timedelta(days=6)), dt.time())
    params = {"start_datetime": start.isoformat() + "+00:00"}
    sent = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=service.url, headers={"Authorization": "Bearer x"}) as client:
        while time.monotonic() < deadline and sent < 200:
            client.get("/v2/usercollection/heartrate", params=params)
            client.get(
                "/v2/usercollection/daily_activity",
                params={"start_date": ctx.first_day.isoformat(), "end_date": ctx.today.isoformat()},
            )
            sent += 2
    return sent


def _load_processor(ctx: Context, service: Service, seconds: float) -> int:
    samples = documents(Person(SEED), "heartrate", 20_000 if not ctx.sizes.quick else 2_000)
    batches = [samples[i : i + 1000] for i in range(0, len(samples), 1000)]
    result = asyncio.run(send(service.url, "heartrate", batches, seconds))
    return int(result["batches"])


def _load_api(ctx: Context, service: Service, seconds: float) -> int:
    with httpx.Client(base_url=service.url, timeout=10) as client:
        token = client.post("/auth/login", json={"api_key": API_KEY}).json()["access_token"]
    paths = list(endpoints(ctx.today).values())
    result = load(service.url, token, paths, 500, seconds / len(paths), ctx.sizes.api_concurrency)
    return sum(len(run["latencies"]) for run in result.values())


def run_footprint(ctx: Context) -> dict[str, Any]:
    dbs = databases(ctx)
    empty_url = dbs.fresh("footprint")
    api_url = ctx.shared.get("backfilled_url", empty_url)
    seconds = 1.5 if ctx.sizes.quick else 10.0
    starts = 1 if ctx.sizes.quick else 3
    logs = log_dir(ctx)
    services: dict[str, tuple[Callable[[], Service], Callable[[Context, Service, float], int]]] = {
        "sandbox": (lambda: start_sandbox(ctx, logs), _load_sandbox),
        "processor": (lambda: start_processor(empty_url, logs), _load_processor),
        "api": (lambda: start_api(api_url, logs), _load_api),
    }
    results: dict[str, Any] = {
        "api_data": "backfilled history" if api_url != empty_url else "empty database"
    }
    rows = []
    for name, (start, apply_load) in services.items():
        startups = []
        for attempt in range(starts):
            service = start()
            startups.append(service.startup_seconds)
            if attempt < starts - 1:
                service.stop()
        with service:
            time.sleep(0.5 if ctx.sizes.quick else 1.0)
            idle = service.rss_mib
            requests = apply_load(ctx, service, seconds)
            loaded = service.rss_mib
            peak = service.peak_mib
        startups.sort()
        results[name] = {
            "startup_seconds_median": round(startups[len(startups) // 2], 3),
            "startup_seconds_all": [round(s, 3) for s in startups],
            "rss_idle_mib": idle,
            "rss_after_load_mib": loaded,
            "peak_rss_mib": peak,
            "load_requests": requests,
        }
        rows.append([name, results[name]["startup_seconds_median"], idle, loaded, peak])
    peaks = ctx.shared.get("backfill_peaks")
    if peaks:
        results["backfill_peaks_mib"] = peaks
        rows.append(["collector (backfill)", None, None, None, peaks["collector"]])
        rows.append(["processor (backfill)", None, None, None, peaks["processor"]])
        rows.append(["sandbox (backfill)", None, None, None, peaks["sandbox"]])
    text = table(
        "footprint: start-up to ready and resident memory (MiB)",
        ["service", "start-up s", "RSS idle", "RSS after load", "peak RSS"],
        rows,
    )
    write_result(
        ctx,
        "footprint",
        parameters={"starts_per_service": starts, "load_seconds": seconds},
        results=results,
        tables=[text],
        postgres=postgres_version(empty_url),
    )
    return results
