"""The three daily routes and the dashboard, against the values derived in Python."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from . import dataset
from .conftest import ClientFactory, bearer, get_json

FULL = {"start_date": dataset.FIRST_DAY.isoformat(), "end_date": dataset.LAST_DAY.isoformat()}


@pytest.mark.parametrize("relation", ["sleep", "activity", "readiness"])
def test_daily_route_returns_the_views_rows_in_date_order(
    client: TestClient, auth: dict[str, str], data: dataset.Dataset, relation: str
) -> None:
    body = get_json(client, f"/api/v1/{relation}", auth, **FULL)
    expected = data.rows_between(relation, dataset.FIRST_DAY, dataset.LAST_DAY)
    assert len(expected) > 60
    assert body == {"data": expected}


@pytest.mark.parametrize("relation", ["sleep", "activity", "readiness"])
def test_daily_route_range_is_inclusive(
    client: TestClient, auth: dict[str, str], data: dataset.Dataset, relation: str
) -> None:
    start, end = dt.date(2026, 1, 31), dt.date(2026, 2, 14)
    body = get_json(
        client, f"/api/v1/{relation}", auth, start_date=start.isoformat(), end_date=end.isoformat()
    )
    assert body["data"] == data.rows_between(relation, start, end)
    assert body["data"][0]["date"] == "2026-01-31" or relation != "sleep"


def test_sleep_derivations_cover_the_awkward_days(
    client: TestClient, auth: dict[str, str], data: dataset.Dataset
) -> None:
    rows = {row["date"]: row for row in get_json(client, "/api/v1/sleep", auth, **FULL)["data"]}
    mains = data.main_periods()
    # A night whose main period is a plain 'sleep' (no long_sleep that day).
    sleep_only = [p.day for p in data.sleep_periods if p.type == "sleep"]
    assert sleep_only
    first = sleep_only[0]
    assert rows[first.isoformat()]["duration_seconds"] == mains[first].total_sleep_duration
    # Naps and rest never win, even though they are longer.
    nap_days = {p.day for p in data.sleep_periods if p.type == "late_nap"}
    for day in nap_days:
        assert rows[day.isoformat()]["duration_seconds"] != 10 * 3600
    # Days with only a main period (no daily_sleep document) still have a row, score null.
    scored = {d.day for d in data.daily_sleep}
    period_only = [day for day in mains if day not in scored]
    assert period_only
    assert rows[period_only[0].isoformat()]["score"] is None
    # latency 90 s -> 2 min, 150 s -> 3 min, 30 s -> 1 min (half away from zero).
    latencies = {(mains[d].latency, rows[d.isoformat()]["latency_minutes"]) for d in mains}
    assert {(90, 2), (150, 3), (30, 1)} <= latencies


def test_daily_route_defaults_to_the_30_days_ending_today(
    make_client: ClientFactory, database_url: str
) -> None:
    today = dt.datetime.now(zoneinfo.ZoneInfo(dataset.USER_TIMEZONE)).date()
    days = [today, today - dt.timedelta(days=29), today - dt.timedelta(days=30)]
    with psycopg.connect(database_url) as conn:
        for day in days:
            conn.execute(
                "INSERT INTO daily_activity (id, day, score, steps) VALUES (%s, %s, 80, 1000)",
                (f"a-{day}", day),
            )
    client = make_client(database_url)
    body = get_json(client, "/api/v1/activity", bearer(client))
    assert [row["date"] for row in body["data"]] == [days[1].isoformat(), today.isoformat()]
    only_start = get_json(
        client, "/api/v1/activity", bearer(client), start_date=days[2].isoformat()
    )
    assert len(only_start["data"]) == 3


def test_dashboard_matches_the_derivation(
    client: TestClient, auth: dict[str, str], data: dataset.Dataset
) -> None:
    body = get_json(client, "/api/v1/dashboard", auth)
    expected = data.dashboard()
    assert body["date"] == dataset.LAST_DAY.isoformat()
    assert body["last_sync"] == expected["last_sync"]
    assert body["last_sync"]["finished_at"].endswith("Z")
    for section in ("sleep", "activity", "readiness"):
        assert body[section].keys() == expected[section].keys()
        for key, value in expected[section].items():
            assert body[section][key] == pytest.approx(value), (section, key)
    # The means are unrounded: at least one is not a whole number.
    means = [body[s][k] for s in ("sleep", "activity", "readiness") for k in ("avg_7d", "avg_30d")]
    assert any(m != int(m) for m in means)


def test_dashboard_on_an_empty_database(make_client: ClientFactory, database_url: str) -> None:
    client = make_client(database_url)
    body = get_json(client, "/api/v1/dashboard", bearer(client))
    empty = {"score": None, "avg_7d": None, "avg_30d": None}
    assert body == {
        "date": None,
        "sleep": empty,
        "activity": {**empty, "steps": None},
        "readiness": {**empty, "hrv": None, "resting_hr": None},
        "last_sync": None,
    }


def test_dashboard_shows_a_running_sync(make_client: ClientFactory, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO sync_runs (started_at, finished_at, status, data_types) VALUES"
            " ('2026-01-01T10:00Z', '2026-01-01T10:02Z', 'succeeded', '{a,b}'),"
            " ('2026-01-02T10:00Z', NULL, 'running', '{a,b,c}')"
        )
    client = make_client(database_url)
    body = get_json(client, "/api/v1/dashboard", bearer(client))
    assert body["last_sync"] == {"finished_at": None, "status": "running", "data_types": 3}
