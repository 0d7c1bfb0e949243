"""No behaviour change: the routes the API performance work touched answer byte for byte
what they answered before it (docs/performance.md#the-api-reads).

"Before" is rebuilt inside the test database: the daily views as migration 0002 created them,
in a schema of their own (`legacy`, first on that app's search_path), the dashboard's earlier
SQL, and heart-rate trends always from the samples. Both apps are the real app over the same
data; every dashboard, daily-route and trend request (every metric, bucket and several ranges)
must produce the same status and the same bytes, over the API tests' dataset and two more
seeds, with the daily heart-rate rollup built for the API's zone. With the rollup built for
another zone, the heart-rate trend must still be the samples' (the rollup of another zone is
never served).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg_pool import AsyncConnectionPool

from myhealth.api.queries import TREND_METRICS, Reader
from myhealth.api.server import create_app
from myhealth.storage import heart_rate_daily
from myhealth.storage.local_cluster import LocalCluster

from . import dataset
from .conftest import MIGRATED_TEMPLATE, api_settings, bearer

MIGRATIONS = Path(heart_rate_daily.__file__).parent / "migrations"
LEGACY_VIEWS = MIGRATIONS / "0002_daily_relations.sql"

# The dashboard's SQL before the rewrite, verbatim.
LEGACY_DASHBOARD: LiteralString = """
    WITH latest AS (
        SELECT max(date) AS date FROM (
            SELECT max(date) AS date FROM sleep_metrics
            UNION ALL SELECT max(date) FROM activity_metrics
            UNION ALL SELECT max(date) FROM readiness_metrics) AS d),
    sleep AS (
        SELECT max(s.score) FILTER (WHERE s.date = l.date) AS score,
               avg(s.score) FILTER (WHERE s.date > l.date - 7)::float8 AS avg_7d,
               avg(s.score)::float8 AS avg_30d
        FROM latest AS l JOIN sleep_metrics AS s
          ON s.date BETWEEN l.date - 29 AND l.date),
    activity AS (
        SELECT max(a.score) FILTER (WHERE a.date = l.date) AS score,
               avg(a.score) FILTER (WHERE a.date > l.date - 7)::float8 AS avg_7d,
               avg(a.score)::float8 AS avg_30d,
               max(a.steps) FILTER (WHERE a.date = l.date) AS steps
        FROM latest AS l JOIN activity_metrics AS a
          ON a.date BETWEEN l.date - 29 AND l.date),
    readiness AS (
        SELECT max(r.score) FILTER (WHERE r.date = l.date) AS score,
               avg(r.score) FILTER (WHERE r.date > l.date - 7)::float8 AS avg_7d,
               avg(r.score)::float8 AS avg_30d,
               max(r.hrv) FILTER (WHERE r.date = l.date) AS hrv,
               max(r.resting_hr) FILTER (WHERE r.date = l.date) AS resting_hr
        FROM latest AS l JOIN readiness_metrics AS r
          ON r.date BETWEEN l.date - 29 AND l.date),
    last_run AS (
        SELECT finished_at, status, cardinality(data_types) AS data_types
        FROM sync_runs ORDER BY started_at DESC, run_id DESC LIMIT 1)
    SELECT latest.date,
           sleep.score AS sleep_score, sleep.avg_7d AS sleep_avg_7d,
           sleep.avg_30d AS sleep_avg_30d,
           activity.score AS activity_score, activity.avg_7d AS activity_avg_7d,
           activity.avg_30d AS activity_avg_30d, activity.steps AS activity_steps,
           readiness.score AS readiness_score, readiness.avg_7d AS readiness_avg_7d,
           readiness.avg_30d AS readiness_avg_30d, readiness.hrv AS readiness_hrv,
           readiness.resting_hr AS readiness_resting_hr,
           last_run.status AS last_sync_status,
           last_run.finished_at AS last_sync_finished_at,
           last_run.data_types AS last_sync_data_types
    FROM latest CROSS JOIN sleep CROSS JOIN activity CROSS JOIN readiness
    LEFT JOIN last_run ON true
"""


class LegacyReader(Reader):
    """The API's reads as they were: the earlier dashboard SQL, trends from the samples."""

    async def dashboard(self) -> dict[str, Any]:
        rows = await self._fetch(LEGACY_DASHBOARD, {})
        row: dict[str, Any] = rows[0]
        return row

    async def _heart_rate_rollup_trend(self, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        return None


def requests() -> list[str]:
    first, last = dataset.FIRST_DAY, dataset.LAST_DAY
    ranges = [
        (first, last),
        (dt.date(2026, 1, 7), dt.date(2026, 3, 4)),  # starts mid-week and mid-month
        (dt.date(2026, 2, 1), dt.date(2026, 2, 1)),  # one day
        (first - dt.timedelta(days=400), first + dt.timedelta(days=3)),  # mostly empty
    ]
    paths = ["/api/v1/dashboard"]
    for route in ("sleep", "activity", "readiness"):
        paths.append(f"/api/v1/{route}")
        paths += [f"/api/v1/{route}?start_date={a}&end_date={b}" for a, b in ranges]
    for metric in TREND_METRICS:
        for bucket in ("day", "week", "month"):
            paths += [
                f"/api/v1/trends/{metric}?bucket={bucket}&start_date={a}&end_date={b}"
                for a, b in ranges
            ]
    return paths


def filled(pg_cluster: LocalCluster, name: str, data: dataset.Dataset | None) -> str:
    url = pg_cluster.create_database(name, template=MIGRATED_TEMPLATE)
    with psycopg.connect(url) as conn:
        if data is not None:
            data.load(conn)
        conn.execute("CREATE SCHEMA legacy")
        conn.execute("SET search_path = legacy, public")
        conn.execute(LEGACY_VIEWS.read_text())
        conn.commit()
    return url


def build_rollup(url: str, zone: str) -> None:
    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            await heart_rate_daily.ensure_zone(conn, zone)

    asyncio.run(run())


def answers(client: TestClient, paths: list[str]) -> dict[str, tuple[int, bytes]]:
    headers = bearer(client)
    out = {}
    for path in paths:
        response = client.get(path, headers=headers)
        out[path] = (response.status_code, response.content)
    return out


class Apps:
    def __init__(self, url: str) -> None:
        settings = api_settings(url, RATE_LIMIT_PER_MINUTE="1000000")
        self.current = TestClient(create_app(settings))
        legacy_pool = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=4,
            open=False,
            kwargs={"autocommit": False, "options": "-c search_path=legacy,public"},
        )
        legacy_app = create_app(settings, pool=legacy_pool)
        legacy_app.state.context.reader = LegacyReader(legacy_pool, statement_timeout_ms=9000)
        self.legacy = TestClient(legacy_app)

    def __enter__(self) -> Apps:
        self.current.__enter__()
        self.legacy.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.legacy.__exit__(None, None, None)
        self.current.__exit__(None, None, None)


@pytest.fixture(
    scope="module", params=[None, 7, 11, 23], ids=lambda s: f"seed-{s}" if s else "empty"
)
def apps(request: pytest.FixtureRequest, pg_cluster: LocalCluster) -> Iterator[tuple[str, Apps]]:
    seed = request.param
    data = dataset.build(seed) if seed is not None else None
    url = filled(pg_cluster, f"same_answers_{seed or 'empty'}", data)
    build_rollup(url, dataset.USER_TIMEZONE)
    with Apps(url) as both:
        yield url, both


def test_every_touched_route_answers_the_same_bytes(apps: tuple[str, Apps]) -> None:
    _, both = apps
    paths = requests()
    current, legacy = answers(both.current, paths), answers(both.legacy, paths)
    assert [p for p in paths if current[p] != legacy[p]] == []
    assert all(status == 200 for status, _ in current.values())


def test_a_rollup_for_another_zone_is_never_served(apps: tuple[str, Apps]) -> None:
    url, both = apps
    paths = [p for p in requests() if p.startswith("/api/v1/trends/heart_rate")]
    build_rollup(url, "Asia/Tokyo")  # a processor with another USER_TIMEZONE
    try:
        current, legacy = answers(both.current, paths), answers(both.legacy, paths)
        assert current == legacy
        with psycopg.connect(url) as conn:  # the test could fail: Tokyo's days differ
            tokyo = conn.execute(
                "SELECT day, samples FROM heart_rate_daily ORDER BY day"
            ).fetchall()
            here = conn.execute(
                'SELECT ("timestamp" AT TIME ZONE %s)::date, count(*) FROM heart_rate'
                " GROUP BY 1 ORDER BY 1",
                (dataset.USER_TIMEZONE,),
            ).fetchall()
        assert tokyo != here or not here
    finally:
        build_rollup(url, dataset.USER_TIMEZONE)
