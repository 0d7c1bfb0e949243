"""Trends: aggregated by PostgreSQL per day, Monday-start week and month."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from . import dataset
from .conftest import get_json

METRICS = [
    "sleep_score",
    "sleep_duration",
    "activity_score",
    "steps",
    "active_minutes",
    "readiness_score",
    "hrv",
    "resting_hr",
    "temperature_deviation",
    "heart_rate",
]


@pytest.mark.parametrize("bucket", ["day", "week", "month"])
@pytest.mark.parametrize("metric", METRICS)
def test_trend_matches_python_aggregation(
    client: TestClient, auth: dict[str, str], data: dataset.Dataset, metric: str, bucket: str
) -> None:
    # A range that starts mid-week and mid-month: edge buckets are partial but keep their
    # calendar start.
    start, end = dt.date(2026, 1, 7), dt.date(2026, 3, 4)
    body = get_json(
        client,
        f"/api/v1/trends/{metric}",
        auth,
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        bucket=bucket,
    )
    expected = data.trend(metric, bucket, start, end)
    assert expected, "the dataset must have values in the range"
    assert body["metric"] == metric
    assert body["bucket"] == bucket
    assert [p["start"] for p in body["points"]] == [p["start"] for p in expected]
    for got, want in zip(body["points"], expected, strict=True):
        assert got["count"] == want["count"]
        assert got["avg"] == pytest.approx(want["avg"])
        assert got["min"] == pytest.approx(want["min"])
        assert got["max"] == pytest.approx(want["max"])


def test_week_buckets_start_on_monday_and_month_on_the_first(
    client: TestClient, auth: dict[str, str]
) -> None:
    params = {"start_date": "2026-01-07", "end_date": "2026-03-04"}
    weeks = get_json(client, "/api/v1/trends/steps", auth, bucket="week", **params)["points"]
    assert weeks[0]["start"] == "2026-01-05"  # the Monday before the 7th
    assert all(dt.date.fromisoformat(p["start"]).weekday() == 0 for p in weeks)
    assert weeks[0]["count"] <= 5  # partial: only the 7th..11th are in range
    months = get_json(client, "/api/v1/trends/steps", auth, bucket="month", **params)["points"]
    assert [p["start"] for p in months] == ["2026-01-01", "2026-02-01", "2026-03-01"]


def test_heart_rate_days_follow_the_user_time_zone(
    client: TestClient, auth: dict[str, str], data: dataset.Dataset
) -> None:
    body = get_json(
        client,
        "/api/v1/trends/heart_rate",
        auth,
        start_date="2026-01-27",
        end_date="2026-02-28",
        bucket="day",
    )
    by_day = {p["start"]: p["count"] for p in body["points"]}
    # Samples start at 00:00 UTC on the 28th = 19:00 on the 27th in New York: 10 half-hours
    # plus the extra workout sample at the same instant.
    assert by_day["2026-01-27"] == 11
    assert by_day["2026-01-28"] == 48
    assert sum(by_day.values()) == len(data.heart_rate)


def test_empty_buckets_are_left_out(client: TestClient, auth: dict[str, str]) -> None:
    body = get_json(
        client, "/api/v1/trends/heart_rate", auth, start_date="2026-03-01", end_date="2026-03-31"
    )
    assert body["points"] == []


def test_default_range_is_90_days(client: TestClient, auth: dict[str, str]) -> None:
    body = get_json(client, "/api/v1/trends/sleep_score", auth)
    assert body["bucket"] == "day"
    assert isinstance(body["points"], list)


def test_unknown_metric_is_404(client: TestClient, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/trends/blood_pressure", headers=auth)
    assert response.status_code == 404
    assert "blood_pressure" in response.json()["detail"]
