"""The daily heart-rate rollup stays equal to a full recomputation from the samples.

Through the real processor over HTTP and PostgreSQL: random batches of samples (new ones and
revisions of earlier ones, a few days around a DST change), time-zone changes in between (the
rebuild the processor makes at start), concurrent batches on the same days, and a processor
restarted with another USER_TIMEZONE. After each: `heart_rate_daily` equals the samples
grouped by their date in the stored zone, row for row.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from myhealth.processor.server import running
from myhealth.storage import heart_rate_daily
from tests import fuzzing

from .support import INGEST_TOKEN, ingest, processor_settings

# Around the US and EU DST changes of 2026 (8 and 29 March): local days of 23 hours.
FIRST_INSTANT = dt.datetime(2026, 3, 7, 0, 0, tzinfo=dt.UTC)
SPAN_MINUTES = 4 * 24 * 60
ZONES = (
    "UTC",
    "America/New_York",
    "Europe/Helsinki",
    "Asia/Kolkata",  # +05:30
    "Pacific/Kiritimati",  # +14:00
    "Pacific/Pago_Pago",  # -11:00
    "America/Santiago",
)
SOURCES = ("awake", "rest", "workout")

FULL_RECOMPUTATION = """
    SELECT ("timestamp" AT TIME ZONE %s)::date AS day, count(*), sum(bpm), min(bpm), max(bpm)
    FROM heart_rate GROUP BY 1 ORDER BY 1
"""


def rollup(db: psycopg.Connection) -> tuple[str | None, list[tuple[Any, ...]]]:
    zone = db.execute("SELECT timezone FROM heart_rate_daily_zone").fetchone()
    rows = db.execute(
        "SELECT day, samples, bpm_sum, bpm_min, bpm_max FROM heart_rate_daily ORDER BY day"
    ).fetchall()
    return (zone[0] if zone else None), rows


def assert_exact(db: psycopg.Connection, zone: str) -> None:
    stored_zone, rows = rollup(db)
    assert stored_zone == zone
    assert rows == db.execute(FULL_RECOMPUTATION, (zone,)).fetchall()


def wait_for_zone(db: psycopg.Connection, zone: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while rollup(db)[0] != zone:
        assert time.monotonic() < deadline, f"no rollup for {zone} within {timeout} s"
        time.sleep(0.05)


def change_zone(database_url: str, zone: str) -> None:
    """What a processor started with USER_TIMEZONE=zone does first."""

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            await heart_rate_daily.ensure_zone(conn, zone)

    asyncio.run(run())


def sample(minute: int, source: str, bpm: int) -> dict[str, Any]:
    instant = FIRST_INSTANT + dt.timedelta(minutes=minute)
    return {"timestamp": instant.isoformat(), "source": source, "bpm": bpm}


@pytest.fixture
def processor(database_url: str, db: psycopg.Connection) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    with (
        running(processor_settings(database_url, USER_TIMEZONE="UTC")) as url,
        httpx.Client(base_url=url, headers=headers, timeout=60) as http,
    ):
        wait_for_zone(db, "UTC")
        yield http


# A batch: samples on a coarse grid of minutes (so batches revise each other's samples).
_batch = st.lists(
    st.builds(
        sample,
        st.integers(0, SPAN_MINUTES // 30).map(lambda n: n * 30),
        st.sampled_from(SOURCES),
        st.integers(30, 220),
    ),
    min_size=1,
    max_size=40,
)
_step = st.one_of(_batch, st.sampled_from(ZONES))


@given(steps=st.lists(_step, min_size=1, max_size=8))
@settings(max_examples=fuzzing.examples(15, 300))
def test_rollup_equals_full_recomputation(
    processor: httpx.Client,
    db: psycopg.Connection,
    database_url: str,
    steps: list[list[dict[str, Any]] | str],
) -> None:
    db.execute("TRUNCATE heart_rate, heart_rate_daily, heart_rate_daily_zone")
    zone = "UTC"
    change_zone(database_url, zone)
    for step in steps:
        if isinstance(step, str):
            zone = step
            change_zone(database_url, zone)
        else:
            ingest(processor, "heartrate", step)
        assert_exact(db, zone)


def test_concurrent_batches_on_the_same_days_stay_exact(
    processor: httpx.Client, db: psycopg.Connection
) -> None:
    # Eight batches at once, every one touching every day of the span, interleaved minutes.
    batches = [
        [
            sample(minute, SOURCES[b % 3], 40 + (minute + b) % 150)
            for minute in range(b, SPAN_MINUTES, 97)
        ]
        for b in range(8)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda batch: ingest(processor, "heartrate", batch), batches))
    stored = db.execute("SELECT count(*) FROM heart_rate").fetchone()
    assert stored == (sum(r["inserted"] for r in results),)
    assert_exact(db, "UTC")


def test_a_processor_with_another_zone_rebuilds_at_start(
    database_url: str, db: psycopg.Connection, processor: httpx.Client
) -> None:
    ingest(
        processor,
        "heartrate",
        [sample(m, "awake", 60 + m % 50) for m in range(0, SPAN_MINUTES, 45)],
    )
    assert_exact(db, "UTC")
    with running(processor_settings(database_url, USER_TIMEZONE="Asia/Kolkata")):
        wait_for_zone(db, "Asia/Kolkata")
    assert_exact(db, "Asia/Kolkata")
    assert rollup(db)[1] != db.execute(FULL_RECOMPUTATION, ("UTC",)).fetchall()
