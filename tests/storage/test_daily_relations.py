"""The three daily relations (docs/architecture.md#the-daily-relations) against hand-built rows
that cover the edge cases."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

D = dt.date(2025, 3, 10)
_ids = itertools.count()


def _insert(conn: psycopg.Connection, table: str, **values: Any) -> None:
    columns = ", ".join(f'"{c}"' for c in values)
    placeholders = ", ".join(["%s"] * len(values))
    conn.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders})".encode(),
        list(values.values()),
    )


def period(
    conn: psycopg.Connection,
    day: dt.date,
    type_: str | None,
    total: int | None,
    *,
    end_hour: int = 7,
    latency: int | None = 600,
    hrv: int | None = 40,
    lowest: int | None = 50,
) -> str:
    period_id = f"p{next(_ids)}"
    bedtime_end = dt.datetime.combine(day, dt.time(end_hour), tzinfo=dt.UTC)
    _insert(
        conn,
        "sleep_periods",
        id=period_id,
        day=day,
        type=type_,
        total_sleep_duration=total,
        bedtime_start=bedtime_end - dt.timedelta(hours=8),
        bedtime_end=bedtime_end,
        efficiency=90,
        latency=latency,
        deep_sleep_duration=(total or 0) // 4,
        light_sleep_duration=(total or 0) // 2,
        rem_sleep_duration=(total or 0) // 4,
        average_hrv=hrv,
        lowest_heart_rate=lowest,
    )
    return period_id


def rows(conn: psycopg.Connection, relation: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"SELECT * FROM {relation} ORDER BY date".encode()).fetchall()


def test_main_period_is_the_longest_long_sleep(db: psycopg.Connection) -> None:
    _insert(db, "daily_sleep", id="ds", day=D, score=81)
    period(db, D, "long_sleep", 20000, hrv=41)
    period(db, D, "long_sleep", 25000, hrv=42)
    period(db, D, "sleep", 30000, hrv=43)  # a long nap still loses to a long_sleep
    period(db, D, "rest", 40000, hrv=44)
    [row] = rows(db, "sleep_metrics")
    assert (row["date"], row["score"], row["duration_seconds"], row["average_hrv"]) == (
        D,
        81,
        25000,
        42,
    )
    assert (row["deep_sleep_seconds"], row["light_sleep_seconds"], row["rem_sleep_seconds"]) == (
        6250,
        12500,
        6250,
    )


def test_tie_goes_to_the_later_bedtime_end(db: psycopg.Connection) -> None:
    period(db, D, "long_sleep", 25000, end_hour=6, hrv=30)
    period(db, D, "long_sleep", 25000, end_hour=9, hrv=31)
    [row] = rows(db, "sleep_metrics")
    assert row["average_hrv"] == 31


def test_naps_only_day_uses_the_longest_nap(db: psycopg.Connection) -> None:
    period(db, D, "sleep", 1800, hrv=50)
    period(db, D, "sleep", 3600, hrv=51)
    [row] = rows(db, "sleep_metrics")
    assert (row["score"], row["duration_seconds"], row["average_hrv"]) == (None, 3600, 51)


@pytest.mark.parametrize("type_", ["rest", "deleted", "late_nap", None])
def test_rest_deleted_late_nap_are_never_the_main_period(
    db: psycopg.Connection, type_: str | None
) -> None:
    period(db, D, type_, 30000)
    assert rows(db, "sleep_metrics") == []
    _insert(db, "daily_sleep", id="ds", day=D, score=70)
    [row] = rows(db, "sleep_metrics")
    assert row["score"] == 70
    assert all(row[c] is None for c in row if c not in {"date", "score"})


def test_latency_is_rounded_half_away_from_zero(db: psycopg.Connection) -> None:
    for offset, latency in enumerate([390, 450, 89, 29, None]):
        period(db, D + dt.timedelta(days=offset), "long_sleep", 25000, latency=latency)
    assert [r["latency_minutes"] for r in rows(db, "sleep_metrics")] == [7, 8, 1, 0, None]


def test_readiness_without_a_sleep_period(db: psycopg.Connection) -> None:
    _insert(db, "daily_readiness", id="r1", day=D, score=77, temperature_deviation=-0.12)
    _insert(db, "daily_readiness", id="r2", day=D + dt.timedelta(days=1), score=80)
    period(db, D + dt.timedelta(days=1), "long_sleep", 26000, hrv=55, lowest=48)
    period(db, D + dt.timedelta(days=2), "long_sleep", 26000)  # no readiness: no row
    assert [
        (r["date"], r["score"], r["hrv"], r["resting_hr"], r["temperature_deviation"])
        for r in rows(db, "readiness_metrics")
    ] == [
        (D, 77, None, None, -0.12),
        (D + dt.timedelta(days=1), 80, 55, 48, None),
    ]


def test_activity_metrics_and_missing_keys(db: psycopg.Connection) -> None:
    _insert(
        db,
        "daily_activity",
        id="a1",
        day=D,
        score=88,
        steps=12345,
        total_calories=2600,
        active_calories=640,
        high_activity_time=1530,
        medium_activity_time=1500,
    )
    _insert(db, "daily_activity", id="a2", day=D + dt.timedelta(days=1))  # keys missing
    assert rows(db, "activity_metrics") == [
        {
            "date": D,
            "score": 88,
            "steps": 12345,
            "calories": 2600,
            "active_calories": 640,
            "active_minutes": 51,  # (1530 + 1500) / 60 = 50.5 -> 51
        },
        {
            "date": D + dt.timedelta(days=1),
            "score": None,
            "steps": None,
            "calories": None,
            "active_calories": None,
            "active_minutes": None,
        },
    ]


def test_rows_exist_exactly_as_the_spec_says(db: psycopg.Connection) -> None:
    # sleep_metrics: a daily_sleep document or a main period; nothing else makes a row.
    _insert(db, "daily_sleep", id="ds1", day=D, score=60)
    period(db, D + dt.timedelta(days=1), "long_sleep", 20000)
    period(db, D + dt.timedelta(days=2), "rest", 20000)
    _insert(db, "daily_activity", id="a", day=D + dt.timedelta(days=3), steps=5)
    assert [r["date"] for r in rows(db, "sleep_metrics")] == [D, D + dt.timedelta(days=1)]
    assert [r["date"] for r in rows(db, "activity_metrics")] == [D + dt.timedelta(days=3)]
    assert rows(db, "readiness_metrics") == []
