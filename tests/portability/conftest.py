"""A year of the sandbox's data stored by the real pipeline (sandbox -> `myhealth collect` ->
processor -> PostgreSQL), once per session, for the export/import and backup tests, and
helpers that run the command line and compare what the API serves from two databases."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from myhealth import cli
from myhealth.api.queries import TREND_METRICS
from myhealth.api.server import create_app as create_api
from myhealth.oura.catalog import DATA_TYPES
from myhealth.platform.config import ApiSettings, ProcessorSettings, SandboxSettings, load
from myhealth.processor.server import running as processor_running
from myhealth.sandbox.server import running as sandbox_running
from myhealth.storage.local_cluster import LocalCluster

from ..conftest import TEMPLATE

TIMEZONE = "America/Los_Angeles"
NOW = dt.datetime(2026, 3, 31, 15, 0, tzinfo=dt.UTC)
DAYS = 365
API_KEY = "portability-test-api-key-0123456789"
JWT_SECRET = "portability-test-jwt-secret-0123456789abcdef"
# Collector bookkeeping, not health data: not part of an export (docs/backup.md).
DASHBOARD_BOOKKEEPING = "last_sync"


@dataclass(frozen=True)
class Year:
    database_url: str
    start: dt.date
    end: dt.date


@pytest.fixture(scope="session")
def year(pg_cluster: LocalCluster) -> Year:
    database_url = pg_cluster.create_database("portability_year", template=TEMPLATE)
    end = NOW.date()
    start = end - dt.timedelta(days=DAYS - 1)
    with contextlib.ExitStack() as stack:
        sandbox = stack.enter_context(
            sandbox_running(SandboxSettings(USER_TIMEZONE=TIMEZONE, SANDBOX_SEED=7), now=NOW)
        )
        processor_url = stack.enter_context(
            processor_running(load(ProcessorSettings, {"DATABASE_URL": database_url}))
        )
        environ = {
            "DATABASE_URL": database_url,
            "USER_TIMEZONE": TIMEZONE,
            "OURA_API_BASE_URL": sandbox.url,
            "OURA_API_KEY": "sandbox-accepts-any-bearer",
            "PROCESSOR_URL": processor_url,
        }
        argv = ["collect", "--no-progress", "--start-date", str(start), "--end-date", str(end)]
        assert cli.run(argv, environ) == 0
    return Year(database_url, start, end)


@pytest.fixture(scope="session")
def year_answers(year: Year) -> dict[str, Any]:
    return api_answers(year.database_url, year.start, year.end)


def fresh_database(pg_cluster: LocalCluster, name: str) -> str:
    """An empty database, migrated by `myhealth migrate` as a person restoring would."""
    url = pg_cluster.create_database(name)
    assert cli.run(["migrate"], {"DATABASE_URL": url, "LOG_LEVEL": "warning"}) == 0
    return url


def run_cli(argv: list[str], database_url: str) -> int:
    return cli.run(argv, {"DATABASE_URL": database_url, "LOG_LEVEL": "warning"})


@contextlib.contextmanager
def api(database_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = load(
        ApiSettings,
        {
            "DATABASE_URL": database_url,
            "USER_TIMEZONE": TIMEZONE,
            "API_KEY": API_KEY,
            "JWT_SECRET": JWT_SECRET,
            "RATE_LIMIT_PER_MINUTE": "10000000",
        },
    )
    with TestClient(create_api(settings)) as client:
        login = client.post("/auth/login", json={"api_key": API_KEY})
        assert login.status_code == 200, login.text
        yield client, {"Authorization": f"Bearer {login.json()['access_token']}"}


def _paged(
    client: TestClient, headers: dict[str, str], path: str, params: dict[str, Any]
) -> list[bytes]:
    """Every page's body, following next_cursor to the end."""
    bodies = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, headers=headers, params=query)
        assert response.status_code == 200, (path, query, response.text)
        bodies.append(response.content)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return bodies


def api_answers(database_url: str, start: dt.date, end: dt.date) -> dict[str, Any]:
    """What every read route of the API answers over [start, end]: raw bodies (bytes), keyed
    by route and parameters. The dashboard's `last_sync` (collector bookkeeping, which an
    export does not carry) is kept apart, under its own key."""
    answers: dict[str, Any] = {}
    days = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    with api(database_url) as (client, headers):

        def get(path: str, **params: str) -> bytes:
            response = client.get(path, headers=headers, params=params)
            assert response.status_code == 200, (path, params, response.text)
            body: bytes = response.content
            return body

        for route in ("sleep", "activity", "readiness"):
            answers[route] = get(f"/api/v1/{route}", **days)
        dashboard = client.get("/api/v1/dashboard", headers=headers).json()
        answers[DASHBOARD_BOOKKEEPING] = dashboard.pop(DASHBOARD_BOOKKEEPING)
        answers["dashboard"] = dashboard
        for metric in TREND_METRICS:
            for bucket in ("day", "week", "month"):
                answers[f"trends/{metric}/{bucket}"] = get(
                    f"/api/v1/trends/{metric}", bucket=bucket, **days
                )
        for name in DATA_TYPES:
            if name != "heartrate":
                answers[f"data/{name}"] = _paged(
                    client, headers, f"/api/v1/data/{name}", {**days, "limit": "500"}
                )
        window = dt.timedelta(days=31)
        first = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
        last = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        while first < last:
            until = min(first + window, last)
            answers[f"heart_rate/{first.date()}"] = _paged(
                client,
                headers,
                "/api/v1/heart_rate",
                {"start": first.isoformat(), "end": until.isoformat(), "limit": "10000"},
            )
            first = until
    return answers


def stored(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored document and typed row, bookkeeping times left out, in key order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(database_url) as conn:
        tables["oura_documents"] = conn.execute(
            "SELECT data_type, id, day, document FROM oura_documents ORDER BY data_type, id"
        ).fetchall()
        for data_type in DATA_TYPES.values():
            columns = [
                row[0]
                for row in conn.execute(
                    """SELECT column_name FROM information_schema.columns
                       WHERE table_name = %s AND table_schema = current_schema()
                         AND column_name NOT IN ('created_at', 'updated_at')
                       ORDER BY ordinal_position""",
                    (data_type.table,),
                )
            ]
            keys = ", ".join(f'"{key}"' for key in data_type.key)
            listed = ", ".join(f'"{column}"' for column in columns)
            tables[data_type.table] = conn.execute(
                f"SELECT {listed} FROM {data_type.table} ORDER BY {keys}"
            ).fetchall()
    return tables


def change_times(database_url: str) -> list[tuple[Any, ...]]:
    """When each stored row last changed: a no-op import must leave these alone."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT 'archive', max(last_changed_at), count(*) FROM oura_documents"
        ).fetchall()
        for data_type in DATA_TYPES.values():
            rows += conn.execute(
                f"SELECT %s, max(updated_at), count(*) FROM {data_type.table}",
                (data_type.table,),
            ).fetchall()
        rows += conn.execute(
            "SELECT 'quarantine', NULL, count(*) FROM quarantined_documents"
        ).fetchall()
    return rows


def row_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        tables = ["oura_documents", "quarantined_documents"] + [
            data_type.table for data_type in DATA_TYPES.values()
        ]
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in tables
        }


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()
