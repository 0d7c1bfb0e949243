"""`myhealth mcp` driven by the official SDK's client: over stdio (the client spawns the
command) and over streamable HTTP behind a long-lived token, against a real database filled
with sandbox documents through the processor's own validation and upsert.

Every tool is listed and called; each answer is checked against values computed here in
Python from the generated documents, not by the server's SQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import psycopg
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from myhealth import cli
from myhealth.api.queries import TREND_METRICS
from myhealth.assistant import tools
from myhealth.oura.catalog import DATA_TYPES
from myhealth.processor import writer
from myhealth.sandbox.generator import DATED_TYPES, Person
from myhealth.storage.local_cluster import LocalCluster, free_port

TEMPLATE = "myhealth_template"  # migrated by tests/conftest.py
TIMEZONE = "America/New_York"
ZONE = zoneinfo.ZoneInfo(TIMEZONE)
FIRST = dt.date(2025, 11, 1)
LAST = dt.date(2026, 1, 31)
HR_DAY = dt.date(2026, 1, 20)  # a local day whose samples are all loaded
SEED = 5

Document = dict[str, Any]


class Sandbox:
    """The documents the sandbox generates for FIRST..LAST, and heart rate around HR_DAY."""

    def __init__(self) -> None:
        person = Person(SEED)
        days = [FIRST + dt.timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
        self.documents: dict[str, list[Document]] = {
            name: [doc for day in days for doc in person.documents(name, day)]
            for name in DATED_TYPES
        }
        self.heart_rate = [
            sample
            for offset in (-1, 0, 1)
            for sample in person.heart_rate(HR_DAY + dt.timedelta(days=offset))
        ]

    def day_of(self, name: str, document: Document) -> dt.date:
        field = DATA_TYPES[name].day_field or "day"
        return dt.date.fromisoformat(document[field])

    def by_day(self, name: str) -> dict[dt.date, Document]:
        return {self.day_of(name, doc): doc for doc in self.documents[name]}


async def _load(url: str, sandbox: Sandbox) -> None:
    async with await psycopg.AsyncConnection.connect(url) as conn:
        shapes = await writer.load_shapes(conn)
        batches = [(name, docs) for name, docs in sandbox.documents.items() if docs]
        batches.append(("heartrate", sandbox.heart_rate))
        for name, docs in batches:
            result = await writer.store_batch(conn, DATA_TYPES[name], shapes[name], docs)
            assert not result.rejected, (name, result.rejected[:3])
        await conn.commit()


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture(scope="module")
def filled_url(pg_cluster: LocalCluster, sandbox: Sandbox) -> str:
    url = pg_cluster.create_database("mcp_sandbox", template=TEMPLATE)
    asyncio.run(_load(url, sandbox))
    return url


def server_environ(database_url: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "USER_TIMEZONE": TIMEZONE, "LOG_LEVEL": "warning"}


CALLS: dict[str, dict[str, Any]] = {
    "list_data_types": {},
    "latest_summary": {},
    "daily_metrics": {"start_date": "2026-01-01", "end_date": "2026-01-31"},
    "trend": {
        "metric": "steps",
        "start_date": FIRST.isoformat(),
        "end_date": LAST.isoformat(),
        "bucket": "week",
    },
    "activities": {"data_type": "workout", "start_date": "2025-12-01", "end_date": "2025-12-31"},
    "heart_rate_day": {"day": HR_DAY.isoformat()},
    "compare_periods": {
        "metrics": ["steps", "readiness_score"],
        "first_start": "2025-11-01",
        "first_end": "2025-11-30",
        "second_start": "2026-01-01",
        "second_end": "2026-01-31",
    },
}
EXTRA_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "sessions": (
        "activities",
        {"data_type": "session", "start_date": FIRST.isoformat(), "end_date": LAST.isoformat()},
    ),
    "too_long": ("daily_metrics", {"start_date": "2025-01-01", "end_date": "2025-12-31"}),
    "bad_metric": (
        "trend",
        {"metric": "nonsense", "start_date": "2026-01-01", "end_date": "2026-01-02"},
    ),
}


@pytest.fixture(scope="module")
def session(filled_url: str) -> dict[str, Any]:
    """One stdio session: the tool list and every call's result."""

    async def run() -> dict[str, Any]:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "myhealth", "mcp"], env=server_environ(filled_url)
        )
        async with Client(params, read_timeout_seconds=60) as client:
            listed = await client.list_tools()
            results: dict[str, Any] = {"tools": listed.tools}
            for name, arguments in CALLS.items():
                results[name] = await client.call_tool(name, arguments)
            for label, (name, arguments) in EXTRA_CALLS.items():
                results[label] = await client.call_tool(name, arguments)
            return results

    return asyncio.run(asyncio.wait_for(run(), timeout=120))


def answer(session: dict[str, Any], name: str) -> Any:
    result = session[name]
    assert not result.is_error, result.content
    return result.structured_content


def test_the_tools_are_listed_with_descriptions_and_typed_parameters(
    session: dict[str, Any],
) -> None:
    listed = {tool.name: tool for tool in session["tools"]}
    assert set(listed) == {tool.__name__ for tool in tools.TOOLS} == set(CALLS)
    for tool in listed.values():
        assert tool.description
        assert len(tool.description) > 60
        assert tool.input_schema["type"] == "object"
        assert "deps" not in tool.input_schema.get("properties", {})
    trend = listed["trend"].input_schema
    assert trend["required"] == ["metric", "start_date", "end_date"]
    assert set(trend["properties"]["bucket"]["enum"]) == {"day", "week", "month"}
    assert trend["properties"]["start_date"]["format"] == "date"
    assert trend["properties"]["metric"]["description"].startswith("The metric.")
    # The typed metric list is exactly the API's.
    assert set(trend["properties"]["metric"]["enum"]) == set(TREND_METRICS)


def test_list_data_types(session: dict[str, Any], sandbox: Sandbox) -> None:
    body = answer(session, "list_data_types")
    found = {row["data_type"]: row for row in body["data_types"]}
    expected = {name: docs for name, docs in sandbox.documents.items() if docs}
    assert set(found) == set(expected)
    for name, docs in expected.items():
        days = [sandbox.day_of(name, doc) for doc in docs]
        assert found[name]["documents"] == len({doc["id"] for doc in docs}), name
        assert found[name]["first_day"] == min(days).isoformat()
        assert found[name]["last_day"] == max(days).isoformat()
    instants = sorted(dt.datetime.fromisoformat(s["timestamp"]) for s in sandbox.heart_rate)
    assert body["heart_rate"]["samples"] == len(sandbox.heart_rate)
    assert dt.datetime.fromisoformat(body["heart_rate"]["first"]) == instants[0]
    assert dt.datetime.fromisoformat(body["heart_rate"]["last"]) == instants[-1]
    assert body["time_zone"] == TIMEZONE


def test_daily_metrics(session: dict[str, Any], sandbox: Sandbox) -> None:
    body = answer(session, "daily_metrics")
    activity = sandbox.by_day("daily_activity")
    readiness = sandbox.by_day("daily_readiness")
    january = [day for day in activity if day >= dt.date(2026, 1, 1)]
    assert [row["date"] for row in body["activity"]] == [d.isoformat() for d in sorted(january)]
    for row in body["activity"]:
        source = activity[dt.date.fromisoformat(row["date"])]
        assert row["steps"] == source["steps"]
        assert row["score"] == source["score"]
    for row in body["readiness"]:
        assert row["score"] == readiness[dt.date.fromisoformat(row["date"])]["score"]
    assert len(body["sleep"]) >= 28


def test_trend(session: dict[str, Any], sandbox: Sandbox) -> None:
    body = answer(session, "trend")
    weeks: dict[dt.date, list[int]] = defaultdict(list)
    for day, doc in sandbox.by_day("daily_activity").items():
        if doc["steps"] is not None:
            weeks[day - dt.timedelta(days=day.weekday())].append(doc["steps"])
    expected = [
        {
            "start": week.isoformat(),
            "avg": pytest.approx(statistics.fmean(values)),
            "min": min(values),
            "max": max(values),
            "count": len(values),
        }
        for week, values in sorted(weeks.items())
    ]
    assert body["points"] == expected


def test_activities(session: dict[str, Any], sandbox: Sandbox) -> None:
    body = answer(session, "activities")
    december = sorted(
        (doc for doc in sandbox.documents["workout"] if doc["day"].startswith("2025-12")),
        key=lambda doc: (doc["day"], doc["id"]),
    )
    assert december
    assert [item["id"] for item in body["items"]] == [doc["id"] for doc in december]
    assert [item["calories"] for item in body["items"]] == [doc["calories"] for doc in december]
    assert body["truncated"] is False
    sessions = answer(session, "sessions")
    assert sessions["items"]
    source = {doc["id"]: doc for doc in sandbox.documents["session"]}
    for item in sessions["items"]:
        items = [v for v in source[item["id"]]["heart_rate"]["items"] if v is not None]
        assert item["heart_rate"]["count"] == len(items)
        assert item["heart_rate"]["max"] == max(items)
        assert "motion_count" in item  # a series, summarised, never the samples
        assert isinstance(item["motion_count"], dict)


def test_heart_rate_day(session: dict[str, Any], sandbox: Sandbox) -> None:
    body = answer(session, "heart_rate_day")
    local = [
        (dt.datetime.fromisoformat(s["timestamp"]).astimezone(ZONE), s["bpm"], s["source"])
        for s in sandbox.heart_rate
    ]
    day = [(moment, bpm, source) for moment, bpm, source in local if moment.date() == HR_DAY]
    assert len(day) > 100
    bpms = [bpm for _, bpm, _ in day]
    overall = body["overall"]
    assert overall["samples"] == len(day)
    assert (overall["min"], overall["max"]) == (min(bpms), max(bpms))
    assert overall["avg"] == pytest.approx(statistics.fmean(bpms), abs=0.05)
    by_source: dict[str, list[int]] = defaultdict(list)
    by_hour: dict[int, list[int]] = defaultdict(list)
    for moment, bpm, source in day:
        by_source[source].append(bpm)
        by_hour[moment.hour].append(bpm)
    assert {row["source"]: row["samples"] for row in body["by_source"]} == {
        source: len(values) for source, values in by_source.items()
    }
    assert [(row["hour"], row["samples"], row["max"]) for row in body["by_hour"]] == [
        (hour, len(values), max(values)) for hour, values in sorted(by_hour.items())
    ]


def test_compare_periods(session: dict[str, Any], sandbox: Sandbox) -> None:
    body = answer(session, "compare_periods")
    activity = sandbox.by_day("daily_activity")
    readiness = sandbox.by_day("daily_readiness")

    def values(source: dict[dt.date, Document], field: str, month: tuple[int, int]) -> list[int]:
        return [
            doc[field]
            for day, doc in source.items()
            if (day.year, day.month) == month and doc[field] is not None
        ]

    for metric, source, field in (
        ("steps", activity, "steps"),
        ("readiness_score", readiness, "score"),
    ):
        first = values(source, field, (2025, 11))
        second = values(source, field, (2026, 1))
        entry = body["metrics"][metric]
        assert entry["first"]["avg"] == pytest.approx(statistics.fmean(first), abs=1e-3)
        assert entry["second"]["avg"] == pytest.approx(statistics.fmean(second), abs=1e-3)
        assert entry["first"]["days"] == len(first)
        assert entry["change"] == pytest.approx(
            statistics.fmean(second) - statistics.fmean(first), abs=2e-3
        )


def test_latest_summary(session: dict[str, Any], sandbox: Sandbox) -> None:
    body = answer(session, "latest_summary")
    activity = sandbox.by_day("daily_activity")
    last = max(activity)
    assert body["date"] == last.isoformat()
    assert body["activity_steps"] == activity[last]["steps"]


def test_limits_and_bad_arguments_are_clear_errors(session: dict[str, Any]) -> None:
    too_long = session["too_long"]
    assert too_long.is_error
    assert "at most 92 days" in too_long.content[0].text
    bad = session["bad_metric"]
    assert bad.is_error
    assert "metric" in bad.content[0].text


def test_an_unreachable_database_is_a_readable_tool_error() -> None:
    """The server still starts and lists its tools; a call says what is wrong."""
    unreachable = f"postgresql://myhealth@127.0.0.1:{free_port()}/myhealth"

    async def run() -> Any:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "myhealth", "mcp"], env=server_environ(unreachable)
        )
        async with Client(params, read_timeout_seconds=60) as client:
            assert len((await client.list_tools()).tools) == len(CALLS)
            return await client.call_tool("latest_summary", {})

    result = asyncio.run(asyncio.wait_for(run(), timeout=90))
    assert result.is_error
    assert result.content[0].text.endswith(": the database is unavailable; try again later")


# --- streamable HTTP behind a long-lived token -------------------------------------------


@pytest.fixture
def http_server(filled_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = tmp_path / "mcp-http.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "myhealth", "mcp", "--http", "--port", str(port)],
            env={"PATH": os.environ["PATH"], **server_environ(filled_url)},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mcp --http did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _token(database_url: str, name: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli.run(["token", "create", "--name", name], {"DATABASE_URL": database_url}) == 0
    return capsys.readouterr().out.strip()


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}


def test_http_transport_needs_an_active_token(
    http_server: str, filled_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    token = _token(filled_url, "assistant", capsys)

    async def call_with(bearer: str) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(http_server, http_client=http)) as client,
        ):
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert names == set(CALLS)
            result = await client.call_tool("latest_summary", {})
            assert not result.is_error
            return result.structured_content

    summary = asyncio.run(asyncio.wait_for(call_with(token), timeout=60))
    assert summary["date"] == LAST.isoformat()

    accept = {"Accept": "application/json, text/event-stream"}
    for bearer, detail in (
        (None, "a long-lived token is required (myhealth token create)"),
        ("not-a-token", "a long-lived token is required (myhealth token create)"),
        ("mhp_" + "A" * 43, "token is unknown"),
    ):
        headers = {**accept, **({"Authorization": f"Bearer {bearer}"} if bearer else {})}
        response = httpx.post(http_server, json=INITIALIZE, headers=headers, timeout=10)
        assert response.status_code == 401, bearer
        assert response.json() == {"detail": detail}

    # A valid token from a page that rebound its DNS name to this address is still refused.
    rebound = httpx.post(
        http_server,
        json=INITIALIZE,
        headers={**accept, "Authorization": f"Bearer {token}", "Host": "evil.example"},
        timeout=10,
    )
    assert rebound.status_code in (400, 403, 421), rebound.text

    assert cli.run(["token", "revoke", "assistant"], {"DATABASE_URL": filled_url}) == 0
    response = httpx.post(
        http_server,
        json=INITIALIZE,
        headers={**accept, "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "token revoked"}
