"""Processor ingest throughput: heart-rate batches of growing size, first stored then re-sent
unchanged, over real HTTP against a throwaway PostgreSQL.

    uv run --frozen python -m bench.processor_ingest [--sizes 1000,5000,50000]

Prints a table and writes bench/results/processor_ingest.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from myhealth.platform.config import ProcessorSettings, load
from myhealth.processor.server import running
from myhealth.storage import migrate
from myhealth.storage.local_cluster import LocalCluster

RESULTS = Path(__file__).parent / "results" / "processor_ingest.json"


def heart_rate_samples(count: int, start: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "bpm": 55 + n % 60,
            "source": "awake",
            "timestamp": (start + dt.timedelta(seconds=5 * n)).isoformat(),
        }
        for n in range(count)
    ]


def run(sizes: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cluster = LocalCluster().start()
    try:
        url = cluster.create_database("bench_processor")
        with psycopg.connect(url) as conn:
            migrate.apply(conn)
        settings = load(ProcessorSettings, {"DATABASE_URL": url, "INGEST_MAX_BYTES": "104857600"})
        with running(settings) as base_url, httpx.Client(base_url=base_url, timeout=300) as http:
            start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
            for size in sizes:
                batch = {"data_type": "heartrate", "documents": heart_rate_samples(size, start)}
                for phase in ("insert", "unchanged"):
                    began = time.perf_counter()
                    response = http.post("/api/v1/ingest", json=batch)
                    seconds = time.perf_counter() - began
                    response.raise_for_status()
                    rows.append(
                        {
                            "documents": size,
                            "phase": phase,
                            "seconds": round(seconds, 3),
                            "documents_per_second": round(size / seconds),
                            "answer": {k: v for k, v in response.json().items() if k != "rejected"},
                        }
                    )
                start += dt.timedelta(days=366)  # the next size writes new rows
    finally:
        cluster.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,5000,50000")
    args = parser.parse_args(argv)
    rows = run([int(size) for size in args.sizes.split(",")])
    print(f"{'documents':>10} {'phase':>10} {'seconds':>8} {'docs/s':>8}")
    for row in rows:
        print(
            f"{row['documents']:>10} {row['phase']:>10} {row['seconds']:>8.3f}"
            f" {row['documents_per_second']:>8}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "processor_ingest", "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
