"""Backfill and incremental run: `myhealth collect` end to end, against its COPY floor.

Three separate processes, as in production: the sandbox (Oura), the processor, and the
collector, each with its own memory. The history is `Sizes.history_days` ending today, with
the sandbox's clock frozen at the start of the benchmark run.

Floor: the very rows the backfill stored (archive, typed tables, heart_rate), read back into
memory and written with `COPY` into the same tables of a fresh database. That is the least
work PostgreSQL must do to hold this data; everything above it is ours (fetching, paging,
JSON, validation, upserts).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from bench import replay
from bench.common import (
    INGEST_TOKEN,
    SEED,
    Context,
    Databases,
    Finished,
    postgres_version,
    ratio,
    run_measured,
    start_processor,
    start_sandbox,
    table,
    write_result,
)
from myhealth.oura.catalog import DATA_TYPES
from myhealth.platform.config import SandboxSettings
from myhealth.sandbox.documents import Sandbox
from myhealth.sandbox.server import create_app
from myhealth.sandbox.state import Faults

HEART_RATE = "heartrate"
ARCHIVE = "oura_documents"
TIMEZONE = "UTC"


def databases(ctx: Context) -> Databases:
    dbs = ctx.shared.get("databases")
    if dbs is None:
        dbs = Databases().start()
        ctx.shared["databases"] = dbs
    assert isinstance(dbs, Databases)
    return dbs


def log_dir(ctx: Context) -> Path:
    path = ctx.results_dir / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def collector_env(
    ctx: Context, database_url: str, sandbox_url: str, processor_url: str
) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "USER_TIMEZONE": TIMEZONE,
        "OURA_API_BASE_URL": sandbox_url,
        "OURA_TOKEN_URL": f"{sandbox_url}/oauth/token",
        "OURA_API_KEY": "bench-static-token",  # the sandbox takes any bearer
        "OURA_BACKFILL_START": ctx.first_day.isoformat(),
        "PROCESSOR_URL": processor_url,
        "INGEST_TOKEN": INGEST_TOKEN,
    }


def _sandbox_requests(client: httpx.Client, sandbox_url: str) -> tuple[dict[str, int], int]:
    """Oura requests since the last reset, by route, and how many the replay layer did not
    have from the warm-up (bench.replay)."""
    stats = client.get(f"{sandbox_url}{replay.REQUESTS_PATH}").json()
    requests = {
        route: count
        for route, count in stats["requests_by_route"].items()
        if "/usercollection/" in route
    }
    return requests, int(stats["misses"])


@contextmanager
def pipeline(ctx: Context, database_url: str) -> Iterator[tuple[Any, Any]]:
    logs = log_dir(ctx)
    with (
        start_sandbox(ctx, logs, replay=True) as sandbox,
        start_processor(database_url, logs) as processor,
    ):
        yield sandbox, processor


def warm_up(ctx: Context, sandbox: Any, start: dt.date) -> int:
    """Every answer of [start, today] fetched once before the clock starts (bench.replay)."""
    return replay.warm(sandbox.url, start, ctx.today, zoneinfo.ZoneInfo(TIMEZONE))


def collect(
    ctx: Context, database_url: str, sandbox: Any, processor: Any
) -> tuple[Finished, dict[str, int], int]:
    """One `myhealth collect` subprocess; the Oura requests it made, by route, and those the
    replay layer had to pass to the sandbox."""
    with httpx.Client(timeout=10) as client:
        client.post(f"{sandbox.url}/_sandbox/reset")
        finished = run_measured(
            ["-m", "myhealth", "collect", "--no-progress"],
            collector_env(ctx, database_url, sandbox.url, processor.url),
            ctx.sizes.step_timeout,
        )
        requests, misses = _sandbox_requests(client, sandbox.url)
    if finished.returncode != 0:
        raise RuntimeError(
            f"myhealth collect exited {finished.returncode}:\n{finished.stderr[-4000:]}"
        )
    return finished, requests, misses


def stored_counts(database_url: str) -> dict[str, int]:
    """Rows per data type in its typed table, plus the archive."""
    counts: dict[str, int] = {}
    with psycopg.connect(database_url) as conn:
        for data_type in DATA_TYPES.values():
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(data_type.table))
            row = conn.execute(query).fetchone()
            counts[data_type.name] = int(row[0]) if row else 0
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(ARCHIVE))
        ).fetchone()
        counts[ARCHIVE] = int(row[0]) if row else 0
    return counts


def type_finish_seconds(database_url: str) -> dict[str, float]:
    """Seconds from the start of the latest run to the end of each type (the critical path)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """SELECT t.data_type, extract(epoch FROM t.finished_at - r.started_at)::float8
               FROM sync_run_types AS t JOIN sync_runs AS r USING (run_id)
               WHERE r.run_id = (SELECT max(run_id) FROM sync_runs)"""
        ).fetchall()
    return {str(name): round(float(seconds), 1) for name, seconds in rows if seconds is not None}


def served_counts(ctx: Context) -> dict[str, int]:
    """What the sandbox serves for the history, counted in-process from the same logic
    (its own `Sandbox` over the same seed, clock and first day), independent of the pipeline."""
    app = create_app(SandboxSettings(SANDBOX_SEED=SEED), now=ctx.now, first_day=ctx.first_day)
    sandbox = Sandbox(app.state.sandbox)
    counts: dict[str, int] = {}
    days = [
        ctx.first_day + dt.timedelta(days=n) for n in range((ctx.today - ctx.first_day).days + 1)
    ]
    for data_type in DATA_TYPES.values():
        if data_type.name == HEART_RATE:
            start = dt.datetime.combine(ctx.first_day, dt.time(), dt.UTC)
            end = dt.datetime.combine(ctx.today + dt.timedelta(days=1), dt.time(), dt.UTC)
            rows, _ = sandbox.heart_rate(start, end, None, 10**9)
            counts[data_type.name] = len(rows)
        elif data_type.name == "personal_info":
            counts[data_type.name] = 1
        elif data_type.name == "ring_configuration":
            counts[data_type.name] = len(sandbox.person.ring_configurations())
        else:
            counts[data_type.name] = sum(
                len(sandbox.day_documents(data_type.name, d)) for d in days
            )
    return counts


def minimum_requests(served: dict[str, int]) -> dict[str, int]:
    """The fewest requests Oura's paging allows: one per full page, at least one per type."""
    faults = Faults()
    minimum = {}
    for name, count in served.items():
        data_type = DATA_TYPES[name]
        if data_type.window == "none":
            minimum[name] = 1
            continue
        page = faults.heartrate_page_size if name == HEART_RATE else faults.page_size
        minimum[name] = max(1, math.ceil(count / page))
    return minimum


def by_type(requests: dict[str, int]) -> dict[str, int]:
    """Sandbox route templates (`GET /v2/usercollection/vO2_max`) -> product type names."""
    routes = {data_type.route: data_type.name for data_type in DATA_TYPES.values()}
    out: dict[str, int] = {}
    for route, count in requests.items():
        segment = route.split("/usercollection/", 1)[1].split("/", 1)[0]
        name = routes.get(segment, segment)
        out[name] = out.get(name, 0) + count
    return out


def copy_floor(dbs: Databases, source_url: str) -> dict[str, Any]:
    """Seconds to COPY the stored rows into the same tables of a fresh database."""
    tables = [ARCHIVE, *(data_type.table for data_type in DATA_TYPES.values())]
    dumps: dict[str, tuple[list[str], bytes]] = {}
    with psycopg.connect(source_url) as conn:
        for name in tables:
            columns = [
                str(row[0])
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_name = %s AND is_generated = 'NEVER'"
                    "  AND identity_generation IS NULL ORDER BY ordinal_position",
                    (name,),
                )
            ]
            query = sql.SQL("COPY {} ({}) TO STDOUT (FORMAT binary)").format(
                sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            buffer = bytearray()
            with conn.cursor().copy(query) as copy:
                for chunk in copy:
                    buffer += chunk
            dumps[name] = (columns, bytes(buffer))
    target = dbs.fresh("copy_floor")
    cpu_before = dbs.cpu_seconds()
    started = time.monotonic()
    with psycopg.connect(target) as conn:
        for name, (columns, data) in dumps.items():
            query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
                sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with conn.cursor().copy(query) as copy:
                for offset in range(0, len(data), 1 << 20):
                    copy.write(data[offset : offset + (1 << 20)])
        conn.commit()
    seconds = time.monotonic() - started
    postgres_cpu = dbs.cpu_seconds() - cpu_before
    megabytes = sum(len(data) for _, data in dumps.values()) / 1e6
    return {
        "seconds": round(seconds, 3),
        "postgres_cpu_seconds": round(postgres_cpu, 2),
        "copied_megabytes": round(megabytes, 1),
    }


def backfilled(ctx: Context) -> str:
    """The URL of a database holding the full history (runs the backfill benchmark once)."""
    if "backfilled_url" not in ctx.shared:
        run_backfill(ctx)
    url = ctx.shared["backfilled_url"]
    assert isinstance(url, str)
    return url


def run_backfill(ctx: Context) -> dict[str, Any]:
    dbs = databases(ctx)
    url = dbs.fresh("backfill")
    with pipeline(ctx, url) as (sandbox, processor):
        warm_up(ctx, sandbox, ctx.first_day)
        cpu_before = processor.cpu_seconds, sandbox.cpu_seconds, dbs.cpu_seconds()
        finished, requests, misses = collect(ctx, url, sandbox, processor)
        processor_cpu = round(processor.cpu_seconds - cpu_before[0], 2)
        sandbox_cpu = round(sandbox.cpu_seconds - cpu_before[1], 2)
        postgres_cpu = round(dbs.cpu_seconds() - cpu_before[2], 2)
        processor_peak = processor.peak_mib
        sandbox_peak = sandbox.peak_mib
    ctx.shared["backfilled_url"] = url
    ctx.shared["backfill_peaks"] = {
        "collector": finished.max_rss_mib,
        "processor": processor_peak,
        "sandbox": sandbox_peak,
    }
    stored = stored_counts(url)
    finished_after = type_finish_seconds(url)
    served = served_counts(ctx)
    minimum = minimum_requests(served)
    made = by_type(requests)
    floor = copy_floor(dbs, url)
    documents = sum(n for name, n in stored.items() if name not in (HEART_RATE, ARCHIVE))
    samples = stored[HEART_RATE]
    seconds = finished.seconds
    results: dict[str, Any] = {
        "wall_seconds": round(seconds, 3),
        "documents_stored": documents,
        "heart_rate_samples_stored": samples,
        "archive_rows": stored[ARCHIVE],
        "documents_served": sum(n for name, n in served.items() if name != HEART_RATE),
        "heart_rate_samples_served": served[HEART_RATE],
        "documents_per_second": round(documents / seconds, 1),
        "samples_per_second": round(samples / seconds, 1),
        "oura_requests": sum(made.values()),
        "oura_requests_minimum": sum(minimum.values()),
        "oura_requests_not_replayed": misses,
        "collector_peak_rss_mib": finished.max_rss_mib,
        "collector_cpu_seconds": finished.cpu_seconds,
        "processor_cpu_seconds": processor_cpu,
        "sandbox_cpu_seconds": sandbox_cpu,
        "postgres_cpu_seconds": postgres_cpu,
        "processor_peak_rss_mib": processor_peak,
        "sandbox_peak_rss_mib": sandbox_peak,
        "floor_copy_seconds": floor["seconds"],
        "floor_copied_megabytes": floor["copied_megabytes"],
        "floor_postgres_cpu_seconds": floor["postgres_cpu_seconds"],
        "ratio_to_floor": ratio(seconds, floor["seconds"]),
        "per_type": {
            name: {
                "served": served[name],
                "stored": stored[name],
                "requests": made.get(name, 0),
                "minimum_requests": minimum[name],
                "finished_after_seconds": finished_after.get(name),
            }
            for name in DATA_TYPES
        },
    }
    summary = table(
        f"backfill: {ctx.sizes.history_days} days of every data type, empty database",
        ["measure", "ours", "floor (COPY)", "ours / floor"],
        [
            ["wall time, s", seconds, floor["seconds"], results["ratio_to_floor"]],
            ["documents stored", documents, None, None],
            ["heart-rate samples stored", samples, None, None],
            ["documents / s", results["documents_per_second"], None, None],
            ["samples / s", results["samples_per_second"], None, None],
            ["Oura requests (minimum)", results["oura_requests"], results["oura_requests_minimum"],
             ratio(results["oura_requests"], results["oura_requests_minimum"])],
            ["collector CPU, s", finished.cpu_seconds, None, None],
            ["processor CPU, s", processor_cpu, None, None],
            ["PostgreSQL CPU, s", postgres_cpu, floor["postgres_cpu_seconds"],
             ratio(postgres_cpu, floor["postgres_cpu_seconds"])],
            ["sandbox CPU (Oura's side, replayed), s", sandbox_cpu, None, None],
            ["Oura requests not replayed", misses, None, None],
            ["collector peak RSS, MiB", finished.max_rss_mib, None, None],
            ["processor peak RSS, MiB", processor_peak, None, None],
        ],
    )  # fmt: skip
    per_type = table(
        "backfill per data type",
        ["data type", "served", "stored", "requests", "minimum", "done after s"],
        [
            [
                name,
                row["served"],
                row["stored"],
                row["requests"],
                row["minimum_requests"],
                row["finished_after_seconds"],
            ]
            for name, row in results["per_type"].items()
        ],
    )
    write_result(
        ctx,
        "backfill",
        parameters={
            "history_days": ctx.sizes.history_days,
            "first_day": ctx.first_day.isoformat(),
            "last_day": ctx.today.isoformat(),
            "page_size": Faults().page_size,
            "heartrate_page_size": Faults().heartrate_page_size,
            "collector": "myhealth collect (COLLECT_CONCURRENCY=4, COLLECT_BATCH_SIZE=500)",
        },
        results=results,
        tables=[summary, per_type],
        postgres=postgres_version(url),
    )
    return results


def run_incremental(ctx: Context) -> dict[str, Any]:
    """A `myhealth collect` right after the backfill: nothing new, only the refetch window."""
    url = backfilled(ctx)
    runs = []
    with pipeline(ctx, url) as (sandbox, processor):
        warm_up(ctx, sandbox, ctx.today - dt.timedelta(days=7))
        for _ in range(3 if not ctx.sizes.quick else 1):
            finished, requests, misses = collect(ctx, url, sandbox, processor)
            runs.append((finished, requests))
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT counts FROM sync_runs ORDER BY started_at DESC, run_id DESC LIMIT 1"
        ).fetchone()
    counts: dict[str, Any] = (
        row[0] if row and isinstance(row[0], dict) else json.loads(row[0]) if row else {}
    )
    seconds = sorted(finished.seconds for finished, _ in runs)
    median = seconds[len(seconds) // 2]
    requests_made = sum(runs[-1][1].values())
    results = {
        "runs": len(runs),
        "wall_seconds_median": round(median, 3),
        "wall_seconds_all": [round(s, 3) for s in seconds],
        "oura_requests": requests_made,
        "documents_refetched": sum(counts.get("documents", {}).values()),
        "collector_peak_rss_mib": max(finished.max_rss_mib for finished, _ in runs),
        "collector_cpu_seconds_median": sorted(f.cpu_seconds for f, _ in runs)[len(runs) // 2],
        "refetch_days": 7,
        "oura_requests_not_replayed": misses,
    }
    summary = table(
        "incremental run: nothing new since the backfill (re-fetches the trailing 7 days)",
        ["measure", "value"],
        [
            ["wall time (median), s", median],
            ["Oura requests", requests_made],
            ["documents re-fetched", results["documents_refetched"]],
            ["collector CPU (median), s", results["collector_cpu_seconds_median"]],
            ["collector peak RSS, MiB", results["collector_peak_rss_mib"]],
        ],
    )
    write_result(
        ctx,
        "incremental",
        parameters={"history_days": ctx.sizes.history_days, "OURA_REFETCH_DAYS": 7},
        results=results,
        tables=[summary],
        postgres=postgres_version(url),
    )
    return results
