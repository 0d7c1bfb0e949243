"""The three daily relations (docs/architecture.md#the-daily-relations) hold what their rules
derive from ingested documents.

The expected rows are computed here, in Python, straight from those rules, and compared
with what PostgreSQL's views return for the same documents.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import psycopg

from .support import example_documents, ingest

MAIN_TYPES = ("long_sleep", "sleep")


def half_away_from_zero(value: float | int | None) -> int | None:
    if value is None:
        return None
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def period(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(base)
    document.update(changes)
    return document


def sleep_periods() -> list[dict[str, Any]]:
    """Recorded periods plus variations that exercise every rule of the main period."""
    recorded = example_documents("sleep")
    long_sleep = next(p for p in recorded if p["type"] == "long_sleep")
    return [
        *recorded,
        # 2024-11-11: two long_sleep of equal length, the later bedtime_end wins; a longer
        # 'rest' and 'late_nap' are never the main period.
        period(long_sleep, id="tie-early", day="2024-11-11", total_sleep_duration=25000,
               bedtime_end="2024-11-11T07:00:00+01:00", latency=150, average_hrv=41),
        period(long_sleep, id="tie-late", day="2024-11-11", total_sleep_duration=25000,
               bedtime_end="2024-11-11T07:30:00+01:00", latency=90, average_hrv=44,
               lowest_heart_rate=49),
        period(long_sleep, id="rest-1", day="2024-11-11", type="rest",
               total_sleep_duration=40000),
        period(long_sleep, id="nap-1", day="2024-11-11", type="late_nap",
               total_sleep_duration=39000),
        # 2024-11-12: no long_sleep: the longest 'sleep' is the main period.
        period(long_sleep, id="short-a", day="2024-11-12", type="sleep",
               total_sleep_duration=3000, latency=30),
        period(long_sleep, id="short-b", day="2024-11-12", type="sleep",
               total_sleep_duration=5000, latency=45, average_hrv=None),
        # 2024-11-20: only a deleted period: no main period, no row of its own.
        period(long_sleep, id="deleted-1", day="2024-11-20", type="deleted"),
    ]  # fmt: skip


def main_periods(periods: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    chosen: dict[str, dict[str, Any]] = {}
    for day in {p["day"] for p in periods}:
        for kind in MAIN_TYPES:
            candidates = [p for p in periods if p["day"] == day and p.get("type") == kind]
            if candidates:
                chosen[day] = max(
                    candidates,
                    key=lambda p: (
                        p.get("total_sleep_duration") or -1,
                        dt.datetime.fromisoformat(p["bedtime_end"]),
                    ),
                )
                break
    return chosen


def test_sleep_activity_and_readiness_views(client: httpx.Client, db: psycopg.Connection) -> None:
    periods = sleep_periods()
    daily_sleep = example_documents("daily_sleep")
    readiness = example_documents("daily_readiness")
    [activity] = example_documents("daily_activity")
    activities = [
        activity,
        period(activity, id="activity-2", day="2024-11-12", high_activity_time=60,
               medium_activity_time=30, score=None),
    ]  # fmt: skip
    ingest(client, "sleep", periods)
    ingest(client, "daily_sleep", daily_sleep)
    ingest(client, "daily_readiness", readiness)
    ingest(client, "daily_activity", activities)

    main = main_periods(periods)
    assert main["2024-11-11"]["id"] == "tie-late"
    assert main["2024-11-12"]["id"] == "short-b"
    assert "2024-11-20" not in main

    scores = {d["day"]: d.get("score") for d in daily_sleep}
    expected_sleep = []
    for day in sorted(set(scores) | set(main)):
        m = main.get(day, {})
        expected_sleep.append(
            (
                day,
                scores.get(day),
                m.get("total_sleep_duration"),
                m.get("efficiency"),
                half_away_from_zero(m["latency"] / 60) if m.get("latency") is not None else None,
                m.get("deep_sleep_duration"),
                m.get("light_sleep_duration"),
                m.get("rem_sleep_duration"),
                m.get("average_hrv"),
                m.get("lowest_heart_rate"),
            )
        )
    assert (
        db.execute(
            """SELECT date::text, score, duration_seconds, efficiency, latency_minutes,
                      deep_sleep_seconds, light_sleep_seconds, rem_sleep_seconds,
                      average_hrv, lowest_heart_rate
               FROM sleep_metrics ORDER BY date"""
        ).fetchall()
        == expected_sleep
    )

    expected_activity = [
        (
            a["day"],
            a.get("score"),
            a.get("steps"),
            a.get("total_calories"),
            a.get("active_calories"),
            half_away_from_zero((a["high_activity_time"] + a["medium_activity_time"]) / 60),
        )
        for a in sorted(activities, key=lambda a: a["day"])
    ]
    assert expected_activity[1][5] == 2  # 90 s = 1.5 min rounds away from zero
    assert (
        db.execute(
            """SELECT date::text, score, steps, calories, active_calories, active_minutes
               FROM activity_metrics ORDER BY date"""
        ).fetchall()
        == expected_activity
    )

    expected_readiness = [
        (
            r["day"],
            r.get("score"),
            main.get(r["day"], {}).get("average_hrv"),
            main.get(r["day"], {}).get("lowest_heart_rate"),
            r.get("temperature_deviation"),
        )
        for r in sorted(readiness, key=lambda r: r["day"])
    ]
    assert (
        db.execute(
            """SELECT date::text, score, hrv, resting_hr, temperature_deviation::float8
               FROM readiness_metrics ORDER BY date"""
        ).fetchall()
        == expected_readiness
    )
    assert expected_readiness[-2][2] == 44  # 2024-11-11 joins the tie-late main period
