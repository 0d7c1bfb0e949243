"""Processor throughput: batches of daily documents and of heart-rate samples.

The processor runs as its own process on a fresh database; this process sends batches one
after the other with the collector's own `ProcessorClient`, so the numbers include HTTP and
JSON on both sides, as in a backfill. Each case sends new documents (inserts), then sends its
first batches again (all unchanged: what the trailing re-fetch of every run costs).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import Any

from bench.backfill import databases, log_dir
from bench.common import (
    INGEST_TOKEN,
    SEED,
    Context,
    percentile,
    postgres_version,
    start_processor,
    table,
    write_result,
)
from myhealth.collector.ingest import ProcessorClient
from myhealth.platform.bounded_json import RawJsonObject
from myhealth.platform.retry import DEFAULT_RETRY
from myhealth.sandbox.generator import Person

FIRST_DAY = dt.date(2021, 1, 1)


def cases(quick: bool) -> list[tuple[str, int]]:
    """(data type, documents per batch)."""
    if quick:
        return [("daily_readiness", 50), ("daily_activity", 20), ("sleep", 20), ("heartrate", 500)]
    return [
        ("daily_readiness", 500),
        ("daily_activity", 500),
        ("sleep", 100),
        ("heartrate", 1000),
        ("heartrate", 5000),
    ]


def documents(person: Person, data_type: str, count: int) -> list[dict[str, Any]]:
    """`count` distinct documents: real generated ones, copied under new ids when a year of
    history is not enough (the processor keys daily documents by id)."""
    out: list[dict[str, Any]] = []
    day = FIRST_DAY
    if data_type == "heartrate":
        while len(out) < count:
            out.extend(person.heart_rate(day))
            day += dt.timedelta(days=1)
        return out[:count]
    base: list[dict[str, Any]] = []
    while len(base) < count and day < FIRST_DAY + dt.timedelta(days=365):
        base.extend(person.documents(data_type, day))
        day += dt.timedelta(days=1)
    copy = 0
    while len(out) < count:
        for document in base:
            out.append({**document, "id": f"{document['id']}-{copy}"} if copy else document)
        copy += 1
    return out[:count]


def as_fetched(document: dict[str, Any]) -> RawJsonObject:
    """A document as the Oura client hands it to the collector: its text and its members."""
    return RawJsonObject(json.dumps(document, separators=(",", ":")), document)


async def send(
    base_url: str, data_type: str, batches: Sequence[Sequence[dict[str, Any]]], seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    sent = 0
    counts = {"inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    async with ProcessorClient(
        base_url, INGEST_TOKEN, retry=DEFAULT_RETRY.single_attempt()
    ) as client:
        deadline = time.perf_counter() + seconds
        started = time.perf_counter()
        for batch in batches:
            if time.perf_counter() > deadline:
                break
            began = time.perf_counter()
            result = await client.ingest(data_type, batch)
            latencies.append(time.perf_counter() - began)
            sent += len(batch)
            counts["inserted"] += result.inserted
            counts["updated"] += result.updated
            counts["unchanged"] += result.unchanged
            counts["rejected"] += len(result.rejected)
        elapsed = time.perf_counter() - started
    return {
        "batches": len(latencies),
        "documents": sent,
        "seconds": round(elapsed, 3),
        "documents_per_second": round(sent / elapsed, 1) if elapsed else None,
        "batch_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "batch_p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        **counts,
    }


def run_ingest(ctx: Context) -> dict[str, Any]:
    sizes = ctx.sizes
    url = databases(ctx).fresh("ingest")
    person = Person(SEED)
    results: dict[str, Any] = {"cases": []}
    rows = []
    with start_processor(url, log_dir(ctx)) as processor:
        idle = processor.rss_mib
        for data_type, batch_size in cases(sizes.quick):
            docs = documents(person, data_type, batch_size * sizes.ingest_batches)
            # Heart-rate cases share days: each case gets its own range of samples.
            if data_type == "heartrate":
                offset = sum(
                    c["documents"] for c in results["cases"] if c["data_type"] == data_type
                )
                docs = documents(person, data_type, offset + len(docs))[offset:]
            # As the collector sends them: each document's JSON text as fetched, forwarded
            # without encoding (bench.ingest measured json.dumps of every document on the
            # sending side until 2026-12).
            texts = [as_fetched(doc) for doc in docs]
            batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
            fresh = asyncio.run(send(processor.url, data_type, batches, sizes.ingest_seconds))
            again = asyncio.run(
                send(
                    processor.url,
                    data_type,
                    batches[: min(3, fresh["batches"])],
                    sizes.ingest_seconds,
                )
            )
            case = {
                "data_type": data_type,
                "batch_size": batch_size,
                "new": fresh,
                "unchanged": again,
            }
            case["documents"] = fresh["documents"]
            results["cases"].append(case)
            for label, run in (("new", fresh), ("unchanged", again)):
                rows.append([
                    f"{data_type} x{batch_size} ({label})", run["batches"], run["documents"],
                    run["documents_per_second"], run["batch_p50_ms"], run["batch_p95_ms"],
                ])  # fmt: skip
        results["processor_rss_idle_mib"] = idle
        results["processor_peak_rss_mib"] = processor.peak_mib
    text = table(
        "ingest: POST /api/v1/ingest, one batch at a time (HTTP + JSON + validation + upsert)",
        ["case", "batches", "documents", "docs/s", "batch p50 ms", "batch p95 ms"],
        rows,
    )
    write_result(
        ctx,
        "ingest",
        parameters={
            "batches_per_case_cap": sizes.ingest_batches,
            "seconds_per_case_cap": sizes.ingest_seconds,
        },
        results=results,
        tables=[text],
        postgres=postgres_version(url),
    )
    return results
