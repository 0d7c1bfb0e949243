"""Sandbox -> collector -> processor -> PostgreSQL -> API and dashboards, checked against
values computed independently from what the sandbox served (by the rules in docs/api.md and
docs/architecture.md#the-daily-relations)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from statistics import mean
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
import yaml

from ..collector import expected
from ..observability.conftest import VIEWER_ZONES
from ..observability.grafana_checks import (
    RULES_FILE,
    TimeRange,
    expand_sql,
    load_dashboards,
    rule_unknown_metrics,
    scraped_metric_names,
    unknown_metrics,
)
from ..observability.test_dashboards import run_all_sql
from .conftest import TIMEZONE, System

SLEEP_COLUMNS = (
    "date",
    "score",
    "duration_seconds",
    "efficiency",
    "latency_minutes",
    "deep_sleep_seconds",
    "light_sleep_seconds",
    "rem_sleep_seconds",
    "average_hrv",
    "lowest_heart_rate",
)
ACTIVITY_COLUMNS = ("date", "score", "steps", "calories", "active_calories", "active_minutes")
READINESS_COLUMNS = ("date", "score", "hrv", "resting_hr", "temperature_deviation")


def _get(system: System, path: str, **params: str) -> Any:
    response = httpx.get(
        f"{system.api_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {system.token()}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _served(system: System, name: str) -> list[dict[str, Any]]:
    return expected.served(system.sandbox_url, name, system.start, system.end, TIMEZONE)


def _as_rows(data: list[dict[str, Any]], columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [
        tuple(dt.date.fromisoformat(row[c]) if c == "date" else row[c] for c in columns)
        for row in data
    ]


def test_daily_routes_equal_the_spec_derivation_of_what_oura_served(system: System) -> None:
    window = {"start_date": str(system.start), "end_date": str(system.end)}
    periods = _served(system, "sleep")
    sleep = _get(system, "/api/v1/sleep", **window)["data"]
    assert _as_rows(sleep, SLEEP_COLUMNS) == expected.sleep_metrics(
        _served(system, "daily_sleep"), periods
    )
    activity = _get(system, "/api/v1/activity", **window)["data"]
    assert _as_rows(activity, ACTIVITY_COLUMNS) == expected.activity_metrics(
        _served(system, "daily_activity")
    )
    readiness = _get(system, "/api/v1/readiness", **window)["data"]
    assert _as_rows(readiness, READINESS_COLUMNS) == expected.readiness_metrics(
        _served(system, "daily_readiness"), periods
    )
    assert min(len(sleep), len(activity), len(readiness)) > 100


def test_dashboard_averages_what_was_stored(system: System) -> None:
    body = _get(system, "/api/v1/dashboard")
    latest = dt.date.fromisoformat(body["date"])
    assert latest == system.end
    scores = {
        dt.date.fromisoformat(doc["day"]): doc.get("score")
        for doc in _served(system, "daily_readiness")
    }
    last_7 = [scores.get(latest - dt.timedelta(days=i)) for i in range(7)]
    assert body["readiness"]["avg_7d"] == mean(s for s in last_7 if s is not None)
    assert body["last_sync"]["status"] == "succeeded"
    assert body["last_sync"]["data_types"] == 18


def test_heart_rate_trend_counts_every_stored_sample(system: System) -> None:
    samples = _served(system, "heartrate")
    body = _get(
        system,
        "/api/v1/trends/heart_rate",
        start_date=str(system.start),
        end_date=str(system.end),
        bucket="month",
    )
    assert sum(point["count"] for point in body["points"]) == len(samples)
    assert min(point["min"] for point in body["points"]) == min(s["bpm"] for s in samples)


def test_every_dashboard_query_runs_on_pipeline_data(system: System) -> None:
    to = dt.datetime.combine(system.end + dt.timedelta(days=1), dt.time(), dt.UTC)
    ranges = {  # viewers west and east of UTC, and in UTC (docs/monitoring.md#time-zones)
        f"last-{days}d": TimeRange(start=to - dt.timedelta(days=days), end=to, timezone=zone)
        for days, zone in VIEWER_ZONES.items()
    }
    errors, empty, count = run_all_sql(system.database_url, ranges)
    assert errors == []
    # Collector runs are stamped with the wall clock, the data with the sandbox's frozen one.
    assert [where for where in empty if "collector runs" not in where] == []
    assert count > 150


# Daily panels whose points are one per stored day of one table: (file, panel) → that day set.
ONE_POINT_PER_DAY = {
    (
        "readiness.json",
        "Readiness score",
    ): "SELECT day FROM daily_readiness WHERE score IS NOT NULL",
    ("activity.json", "Activity score"): "SELECT day FROM daily_activity WHERE score IS NOT NULL",
    ("readiness.json", "Resilience"): "SELECT day FROM daily_resilience WHERE level IS NOT NULL",
}


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Pacific/Auckland"])
def test_daily_panels_draw_the_stored_days_on_pipeline_data(system: System, zone: str) -> None:
    """Days that went through sandbox → collector → processor are drawn on their own date for a
    viewer west and east of UTC (docs/monitoring.md#time-zones)."""
    dashboards = load_dashboards()
    local = ZoneInfo(zone)
    start = dt.datetime.combine(system.start - dt.timedelta(days=1), dt.time(), local)
    end = dt.datetime.combine(system.end + dt.timedelta(days=2), dt.time(), local)
    time_range = TimeRange(start=start, end=end, timezone=zone)
    with psycopg.connect(system.database_url) as conn:
        for (name, title), stored_sql in ONE_POINT_PER_DAY.items():
            (target,) = [
                target
                for panel in dashboards[name]["panels"]
                if panel["title"] == title
                for target in panel.get("targets", [])
                if target.get("format") == "time_series"
            ]
            rows = conn.execute(expand_sql(target["rawSql"], time_range)).fetchall()
            drawn = sorted(row[0].astimezone(local).date() for row in rows if row[1] is not None)
            stored = sorted(day for (day,) in conn.execute(stored_sql).fetchall())
            assert len(stored) > 100, (name, title)
            assert drawn == stored, (name, title)


def test_every_metric_the_dashboards_and_alerts_use_is_exported(system: System) -> None:
    _get(system, "/api/v1/sleep")  # so the API has served a request of its own
    exported: set[str] = set()
    for url in (system.processor_url, system.api_url, system.sandbox_url):
        response = httpx.get(f"{url}/metrics", timeout=30)
        assert response.status_code == 200
        exported |= scraped_metric_names(response.text)
    for name, dashboard in load_dashboards().items():
        assert unknown_metrics(dashboard, exported) == [], name
    rules = yaml.safe_load(RULES_FILE.read_text())
    assert rule_unknown_metrics(rules, exported) == []


def test_score_trends_by_day_week_and_month(system: System) -> None:
    scores = {
        dt.date.fromisoformat(doc["day"]): doc["score"]
        for doc in _served(system, "daily_readiness")
        if doc.get("score") is not None
    }
    starts: dict[str, Callable[[dt.date], dt.date]] = {
        "day": lambda d: d,
        "week": lambda d: d - dt.timedelta(days=d.weekday()),  # weeks start on Monday
        "month": lambda d: d.replace(day=1),
    }
    for bucket, start_of in starts.items():
        groups: dict[dt.date, list[int]] = {}
        for day, score in sorted(scores.items()):
            groups.setdefault(start_of(day), []).append(score)
        body = _get(
            system,
            "/api/v1/trends/readiness_score",
            start_date=str(system.start),
            end_date=str(system.end),
            bucket=bucket,
        )
        assert body["bucket"] == bucket
        assert [
            (dt.date.fromisoformat(p["start"]), p["min"], p["max"], p["count"])
            for p in body["points"]
        ] == [(start, min(v), max(v), len(v)) for start, v in groups.items()], bucket
        for point, values in zip(body["points"], groups.values(), strict=True):
            assert point["avg"] == pytest.approx(mean(values))
