"""A large heart-rate batch is written set-based: a handful of statements, not one per row."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import httpx
import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from myhealth.processor.server import running

from .support import INGEST_TOKEN, example_documents, processor_settings


class CountingConnection(AsyncConnection[Any]):
    """Counts the statements the processor sends."""

    statements: ClassVar[list[str]] = []

    async def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query if isinstance(query, str) else repr(query)
        CountingConnection.statements.append(text)
        return await super().execute(query, *args, **kwargs)


def samples(count: int, start: dt.datetime) -> list[dict[str, Any]]:
    return [
        {
            "bpm": 50 + n % 70,
            "source": "awake" if n % 3 else "rest",
            "timestamp": (start + dt.timedelta(seconds=5 * n)).isoformat(),
        }
        for n in range(count)
    ]


def wait_for_rollup_zone(db: psycopg.Connection, zone: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = db.execute("SELECT timezone FROM heart_rate_daily_zone").fetchone()
        if row == (zone,):
            return
        time.sleep(0.05)
    raise AssertionError(f"the processor did not build the daily rollup for {zone} in time")


def test_five_thousand_samples_in_a_few_statements(
    database_url: str, db: psycopg.Connection
) -> None:
    pool = AsyncConnectionPool(
        database_url,
        connection_class=CountingConnection,
        min_size=1,
        max_size=2,
        open=False,
        kwargs={"autocommit": False},
    )
    batch = samples(5000, dt.datetime(2024, 12, 13, 22, 0, tzinfo=dt.UTC))
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    with (
        running(processor_settings(database_url), pool=pool) as url,
        httpx.Client(base_url=url, headers=headers, timeout=60) as http,
    ):
        http.post("/api/v1/ingest", json={"data_type": "heartrate", "documents": batch[:1]})
        wait_for_rollup_zone(db, "UTC")  # the processor's start-up build, out of the count
        CountingConnection.statements.clear()

        response = http.post("/api/v1/ingest", json={"data_type": "heartrate", "documents": batch})

        assert response.status_code == 200, response.text
        assert response.json() == {
            "received": 5000,
            "inserted": 4999,
            "updated": 0,
            "unchanged": 1,
            "rejected": [],
        }
        # Session settings + one upsert (no archive for heart rate, no quarantine), and the
        # daily rollup's three (lock, the days' locks, recompute the days).
        assert len(CountingConnection.statements) <= 6, CountingConnection.statements

        batch[10]["bpm"] = 200
        again = http.post("/api/v1/ingest", json={"data_type": "heartrate", "documents": batch})
        assert (again.json()["updated"], again.json()["unchanged"]) == (1, 4999)

    row = db.execute("SELECT count(*), max(bpm) FROM heart_rate").fetchone()
    assert row == (5000, 200)


def test_recorded_heart_rate_round_trips(client: httpx.Client) -> None:
    documents = example_documents("heartrate")
    client.post("/api/v1/ingest", json={"data_type": "heartrate", "documents": documents})

    stored = client.get("/api/v1/metrics/heartrate").json()["data"]

    def normalised(rows: list[dict[str, Any]]) -> list[tuple[dt.datetime, str, int]]:
        return sorted(
            (dt.datetime.fromisoformat(r["timestamp"]), r["source"], r["bpm"]) for r in rows
        )

    assert normalised(stored) == normalised(documents)
    assert all(row["timestamp"].endswith("+00:00") for row in stored)


def test_concurrent_overlapping_batches_do_not_deadlock(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    batch = samples(2000, dt.datetime(2024, 12, 1, tzinfo=dt.UTC))
    orders = [batch, batch[::-1], batch[1000:] + batch[:1000], batch[::-1]]

    def post(documents: list[dict[str, Any]]) -> int:
        response = client.post(
            "/api/v1/ingest", json={"data_type": "heartrate", "documents": documents}
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(post, orders))

    assert statuses == [200, 200, 200, 200]
    assert db.execute("SELECT count(*) FROM heart_rate").fetchone() == (2000,)


def test_heart_rate_reads_are_paged(client: httpx.Client, db: psycopg.Connection) -> None:
    """An unbounded answer was 85 MB; now pages of at most `limit` samples, following
    `next_cursor` yields every sample exactly once, and a forged cursor is a 422."""
    db.execute(
        """INSERT INTO heart_rate ("timestamp", source, bpm)
           SELECT timestamptz '2024-01-01 00:00:00.123456Z' + n * interval '1 minute',
                  source, 60
           FROM generate_series(0, 249) AS n, unnest(ARRAY['awake', 'rest']) AS source"""
    )
    seen: list[tuple[str, str]] = []
    pages = 0
    cursor: str | None = None
    while True:
        params = {"limit": "120", **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/metrics/heartrate", params=params).json()
        assert len(body["data"]) <= 120
        seen.extend((sample["timestamp"], sample["source"]) for sample in body["data"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    assert len(seen) == 500
    assert len(set(seen)) == 500
    assert seen == sorted(seen)

    bad = client.get("/api/v1/metrics/heartrate", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert "cursor" in bad.json()["detail"]
    too_many = client.get("/api/v1/metrics/heartrate", params={"limit": "1000000"})
    assert too_many.status_code == 422
