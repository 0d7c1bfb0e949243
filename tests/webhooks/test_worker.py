"""The webhook worker on its own, against a real database and the sandbox: what each event
becomes, and how a failing fetch is retried with backoff and finally given up."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool

from myhealth.oura.auth import StaticToken
from myhealth.oura.client import OuraClient
from myhealth.platform.retry import RetryPolicy
from myhealth.sandbox.documents import Sandbox
from myhealth.sandbox.server import RunningSandbox, running
from myhealth.webhooks.worker import WebhookMetrics, WebhookWorker
from tests.fast_retry import FAST_RETRY

NOW = dt.datetime(2026, 5, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running(now=NOW, first_day=NOW.date() - dt.timedelta(days=5)) as served:
        yield served


def a_document(sandbox: RunningSandbox, data_type: str) -> dict[str, Any]:
    docs = Sandbox(sandbox.state).day_documents(data_type, NOW.date() - dt.timedelta(days=1))
    return docs[0][1]


def add_event(database_url: str, event_type: str, data_type: str, object_id: str, at: int) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO webhook_events (signature_timestamp, signature, event_type, data_type,"
            " object_id, event_time, user_id) VALUES (%s, %s, %s, %s, %s, %s, 'u') RETURNING id",
            (
                at,
                uuid.uuid4().hex,
                event_type,
                data_type,
                object_id,
                NOW + dt.timedelta(seconds=at),
            ),
        ).fetchone()
    assert row is not None
    return int(row[0])


def event_row(database_url: str, event_id: int) -> tuple[Any, ...]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT status, attempts, next_attempt_at > now() + interval '3 seconds', last_error"
            " FROM webhook_events WHERE id = %s",
            (event_id,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def run_worker(database_url: str, sandbox: RunningSandbox, retry: RetryPolicy) -> list[bool]:
    """process_one until nothing is due; what each call returned."""

    async def go() -> list[bool]:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(database_url, open=False)
        await pool.open()
        oura = OuraClient(sandbox.url, StaticToken("any"), retry=FAST_RETRY)
        worker = WebhookWorker(pool, oura, WebhookMetrics(CollectorRegistry()), retry=retry)
        results = []
        try:
            while await worker.process_one():
                results.append(True)
        finally:
            await oura.aclose()
            await pool.close()
        return results

    return asyncio.run(go())


def stored_ids(database_url: str, table: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        return {str(row[0]) for row in conn.execute(f"SELECT id FROM {table}")}


def test_each_event_gets_its_outcome(database_url: str, sandbox: RunningSandbox) -> None:
    sleep = a_document(sandbox, "sleep")
    readiness = a_document(sandbox, "daily_readiness")
    events = {
        "stored": add_event(database_url, "create", "sleep", sleep["id"], 1),
        "duplicate": add_event(database_url, "create", "sleep", sleep["id"], 1),
        "meal": add_event(database_url, "create", "meal", "m-1", 2),
        "missing": add_event(database_url, "update", "daily_readiness", "no-such-id", 3),
        "newer": add_event(database_url, "update", "daily_readiness", readiness["id"], 4),
        "older": add_event(database_url, "update", "daily_readiness", readiness["id"], 0),
    }
    run_worker(database_url, sandbox, RetryPolicy(attempts=3))
    status = {name: event_row(database_url, event_id)[0] for name, event_id in events.items()}
    assert status == {
        "stored": "done",
        "duplicate": "superseded",
        "meal": "unsupported",
        "missing": "not_found",
        "newer": "done",
        "older": "done",  # processed first: the oldest event_time goes first
    }
    assert sleep["id"] in stored_ids(database_url, "sleep_periods")
    assert readiness["id"] in stored_ids(database_url, "daily_readiness")


def test_a_failing_fetch_is_retried_with_backoff_then_given_up(
    database_url: str, sandbox: RunningSandbox
) -> None:
    sleep = a_document(sandbox, "sleep")
    event_id = add_event(database_url, "update", "sleep", sleep["id"], 1)
    sandbox.state.faults.error_burst = 1000  # Oura answers 503 to everything
    try:
        policy = RetryPolicy(attempts=2, wait_initial=5.0, wait_max=60.0)
        assert run_worker(database_url, sandbox, policy) == [True]  # then not due
        status, attempts, later, error = event_row(database_url, event_id)
        assert (status, attempts, later) == ("pending", 1, True)
        assert "503" in error
        assert sleep["id"] not in stored_ids(database_url, "sleep_periods")
        with psycopg.connect(database_url) as conn:
            conn.execute(
                "UPDATE webhook_events SET next_attempt_at = now() WHERE id = %s", (event_id,)
            )
        run_worker(database_url, sandbox, policy)
        assert event_row(database_url, event_id)[:2] == ("failed", 2)
    finally:
        sandbox.state.faults.error_burst = 0
