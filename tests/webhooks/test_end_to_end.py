"""Webhooks end to end, every part real over HTTP on 127.0.0.1: the sandbox (Oura), the API
with its receiver, the processor with the webhook worker, PostgreSQL.

After one historical pull (`collect`), `myhealth webhooks subscribe` creates the 51
subscriptions (each verified by the sandbox calling the API), then the sandbox revises
documents and delivers signed events — duplicated, one pair out of order, one delete — and
the API's documents equal the sandbox's within seconds, with no list request to the sandbox
(no poll) after the pull.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from myhealth import cli
from myhealth.api.server import create_app as create_api
from myhealth.oura.client import client_from_settings
from myhealth.platform.config import (
    ApiSettings,
    OuraSettings,
    ProcessorSettings,
    SandboxSettings,
    load,
)
from myhealth.platform.http import serve_in_thread
from myhealth.processor.server import running as processor_running
from myhealth.sandbox.documents import Sandbox
from myhealth.sandbox.server import RunningSandbox
from myhealth.sandbox.server import running as sandbox_running
from myhealth.storage.local_cluster import LocalCluster
from myhealth.webhooks.catalog import WEBHOOK_DATA_TYPES

from ..conftest import TEMPLATE

CLIENT_ID = "webhook-test-app"
SECRET = "webhook-test-client-secret"
VERIFICATION_TOKEN = "webhook-test-verification-token"
API_KEY = "webhook-test-api-key-0123456789"
JWT_SECRET = "webhook-test-jwt-secret-0123456789abcdef"
TYPES = ("daily_sleep", "sleep", "daily_readiness", "daily_activity")
DAYS = 5


@dataclass(frozen=True)
class Stack:
    database_url: str
    sandbox: RunningSandbox
    api_url: str
    processor_url: str
    start: dt.date
    end: dt.date

    def cli_environ(self) -> dict[str, str]:
        return {
            "OURA_API_BASE_URL": self.sandbox.url,
            "OURA_CLIENT_ID": CLIENT_ID,
            "OURA_CLIENT_SECRET": SECRET,
            "OURA_WEBHOOK_VERIFICATION_TOKEN": VERIFICATION_TOKEN,
            "WEBHOOK_CALLBACK_URL": f"{self.api_url}/webhooks/oura",
        }

    def control(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.sandbox.url}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def list_requests(self) -> int:
        """Requests to the sandbox's list routes (what a poll makes; fetch-by-id is not one)."""
        with self.sandbox.state.lock:
            return sum(
                count
                for key, count in self.sandbox.state.requests.items()
                if key.startswith("GET /v2/usercollection/") and "{document_id}" not in key
            )

    def api_documents(self, data_type: str) -> dict[str, Any]:
        token = httpx.post(f"{self.api_url}/auth/login", json={"api_key": API_KEY}).json()
        response = httpx.get(
            f"{self.api_url}/api/v1/data/{data_type}",
            params={"start_date": str(self.start), "end_date": str(self.end), "limit": 1000},
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        )
        response.raise_for_status()
        return {doc["id"]: doc for doc in response.json()["data"]}

    def sandbox_documents(self, data_type: str) -> dict[str, Any]:
        """What Oura holds now for the window (by the document's own day)."""
        truth = Sandbox(self.sandbox.state)
        found = {}
        day = self.start - dt.timedelta(days=2)
        while day <= self.end:
            for _, doc in truth.day_documents(data_type, day):
                if self.start.isoformat() <= doc["day"] <= self.end.isoformat():
                    found[doc["id"]] = doc
            day += dt.timedelta(days=1)
        return found

    def events(self) -> list[tuple[str, str, str]]:
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(
                "SELECT event_type, object_id, status FROM webhook_events ORDER BY id"
            ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def stack(pg_cluster: LocalCluster) -> Iterator[Stack]:
    database_url = pg_cluster.create_database("webhooks_e2e", template=TEMPLATE)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    end = now.date()
    start = end - dt.timedelta(days=DAYS - 1)
    oura_environ = {
        "DATABASE_URL": database_url,
        "OURA_API_BASE_URL": "",
        "OURA_API_KEY": "sandbox-accepts-any-bearer",
    }
    with contextlib.ExitStack() as stack:
        sandbox = stack.enter_context(
            sandbox_running(
                SandboxSettings(SANDBOX_SEED=7),
                now=now,  # frozen: today's activity does not grow between two reads
                first_day=start - dt.timedelta(days=3),
                client_id=CLIENT_ID,
                client_secret=SECRET,
            )
        )
        oura_environ["OURA_API_BASE_URL"] = sandbox.url
        processor_url = stack.enter_context(
            processor_running(
                load(
                    ProcessorSettings,
                    {"DATABASE_URL": database_url, "WEBHOOK_POLL_SECONDS": "0.2"},
                ),
                webhook_oura=client_from_settings(load(OuraSettings, oura_environ)),
            )
        )
        argv = ["collect", "--no-progress", "--start-date", str(start), "--end-date", str(end)]
        assert cli.run(argv, {**oura_environ, "PROCESSOR_URL": processor_url}) == 0
        api_settings = load(
            ApiSettings,
            {
                "DATABASE_URL": database_url,
                "API_KEY": API_KEY,
                "JWT_SECRET": JWT_SECRET,
                "RATE_LIMIT_PER_MINUTE": "100000",
                "OURA_WEBHOOK_VERIFICATION_TOKEN": VERIFICATION_TOKEN,
                "OURA_CLIENT_SECRET": SECRET,
            },
        )
        api_url = stack.enter_context(serve_in_thread(create_api(api_settings), name="api"))
        yield Stack(database_url, sandbox, api_url, processor_url, start, end)


def subscriptions(stack: Stack) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{stack.sandbox.url}/v2/webhook/subscription",
        headers={"x-client-id": CLIENT_ID, "x-client-secret": SECRET},
    )
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()
    return found


@pytest.fixture(scope="module")
def subscribed(stack: Stack) -> str:
    """`webhooks subscribe` run once for the module (tests run in any order); its output."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert cli.run(["webhooks", "subscribe"], stack.cli_environ()) == 0
    return output.getvalue()


def test_subscribe_creates_all_51_verified_and_is_idempotent(
    stack: Stack, subscribed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "51 created, 0 already there" in subscribed
    assert cli.run(["webhooks", "subscribe"], stack.cli_environ()) == 0
    assert "0 created, 51 already there" in capsys.readouterr().out
    found = [s for s in subscriptions(stack) if s["callback_url"].endswith("/webhooks/oura")]
    assert len(found) == 51
    assert {(s["event_type"], s["data_type"]) for s in found} == {
        (e, d) for e in ("create", "update", "delete") for d in WEBHOOK_DATA_TYPES
    }
    assert cli.run(["webhooks", "list"], stack.cli_environ()) == 0
    assert "51 subscription(s)" in capsys.readouterr().out


def test_a_wrong_verification_token_gets_no_subscription(stack: Stack) -> None:
    environ = {**stack.cli_environ(), "OURA_WEBHOOK_VERIFICATION_TOKEN": "not-the-api-token"}
    before = len(subscriptions(stack))
    # Another URL string for the same route, so subscribe has something to create.
    callback = stack.api_url + "/webhooks/oura?copy=2"
    assert cli.run(["webhooks", "subscribe", "--callback-url", callback], environ) == 1
    assert len(subscriptions(stack)) == before


def test_revised_documents_and_events_reach_the_api_without_a_poll(
    stack: Stack, subscribed: str
) -> None:
    polled = stack.list_requests()
    before = {name: stack.api_documents(name) for name in TYPES}
    assert all(before.values()), "the historical pull stored documents"

    # Oura re-analyses the last two days: same ids, new content, and says so by webhook.
    stack.control("faults", {"revise_days": 2, "revision": 2, "webhook_duplicates": 1,
                             "webhook_retry_seconds": 0.3})  # fmt: skip
    changed = {name: stack.sandbox_documents(name) for name in TYPES}
    revised = [
        (name, doc_id)
        for name in TYPES
        for doc_id, doc in changed[name].items()
        if before[name].get(doc_id) != doc
    ]
    assert revised, "the revision changed some documents"
    moment = dt.datetime.now(dt.UTC)
    events = [
        {"event_type": "update", "data_type": name, "object_id": doc_id,
         "event_time": (moment + dt.timedelta(seconds=2)).isoformat()}
        for name, doc_id in revised
    ]  # fmt: skip
    # An out-of-order pair: the older event of the first document arrives second.
    first_type, first_id = revised[0]
    events.append(
        {"event_type": "update", "data_type": first_type, "object_id": first_id,
         "event_time": (moment + dt.timedelta(seconds=1)).isoformat()}
    )  # fmt: skip
    # And a delete: a sleep period the user removed in the app.
    doomed = sorted(changed["sleep"])[0]
    events.append(
        {"event_type": "delete", "data_type": "sleep", "object_id": doomed,
         "event_time": (moment + dt.timedelta(seconds=3)).isoformat()}
    )  # fmt: skip
    stack.control("webhooks/events", {"events": events})

    def converged() -> bool:
        return all(stack.api_documents(name) == stack.sandbox_documents(name) for name in TYPES)

    took = wait_for(converged, "the API to show what the sandbox holds", timeout=30)
    assert took < 15
    assert doomed not in stack.api_documents("sleep")
    assert stack.list_requests() == polled, "no poll: documents came by id only"
    recorded = stack.events()
    assert len(recorded) > len(events)  # duplicates recorded too ...
    wait_for(lambda: "pending" not in {s for _, _, s in stack.events()}, "the worker to finish")
    statuses = {status for _, _, status in stack.events()}
    assert statuses <= {"done", "superseded"}, statuses
    assert "superseded" in statuses  # ... and applied once
    with psycopg.connect(stack.database_url) as conn:
        archived = conn.execute(
            "SELECT deleted_at IS NOT NULL FROM oura_documents"
            " WHERE data_type = 'sleep' AND id = %s",
            (doomed,),
        ).fetchone()
    assert archived == (True,), "a deleted document stays in the archive, marked"


def test_a_late_update_does_not_bring_a_deleted_document_back(
    stack: Stack, subscribed: str
) -> None:
    victim = sorted(stack.sandbox_documents("daily_sleep"))[0]
    late = dt.datetime.now(dt.UTC)
    stack.control("faults", {"webhook_duplicates": 0})
    stack.control(
        "webhooks/events",
        {"events": [{"event_type": "delete", "data_type": "daily_sleep", "object_id": victim,
                     "event_time": (late + dt.timedelta(seconds=5)).isoformat()}]},
    )  # fmt: skip
    wait_for(lambda: victim not in stack.api_documents("daily_sleep"), "the delete to land")
    seen = len([o for _, o, _ in stack.events() if o == victim])
    stack.control(
        "webhooks/events",
        {"events": [{"event_type": "update", "data_type": "daily_sleep", "object_id": victim,
                     "event_time": late.isoformat()}]},
    )  # fmt: skip

    def late_update_handled() -> bool:
        statuses = [s for _, o, s in stack.events() if o == victim]
        return len(statuses) > seen and statuses[-1] != "pending"

    wait_for(late_update_handled, "the late update to be handled")
    assert [s for _, o, s in stack.events() if o == victim][-1] == "superseded"
    assert victim not in stack.api_documents("daily_sleep")


def test_renew_extends_the_subscriptions_near_expiry(
    stack: Stack, subscribed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Subscriptions made while the sandbox clock stood 25 days back expire in 5 days (a
    30-day life): `renew` (within 7 days) extends exactly those."""
    real_now = dt.datetime.fromisoformat(
        httpx.get(f"{stack.sandbox.url}/_sandbox/clock").json()["now"]
    )
    callback = stack.api_url + "/webhooks/oura?copy=renewal"
    environ = stack.cli_environ()
    stack.control("clock", {"now": (real_now - dt.timedelta(days=25)).isoformat()})
    try:
        assert cli.run(["webhooks", "subscribe", "--callback-url", callback], environ) == 0
    finally:
        stack.control("clock", {"now": real_now.isoformat()})
    capsys.readouterr()
    assert cli.run(["webhooks", "list"], environ) == 0
    listing = capsys.readouterr().out
    assert listing.count("expiring") == 51
    assert listing.count("active") == 51
    assert cli.run(["webhooks", "renew"], environ) == 0
    assert "51 renewed, 51 not due" in capsys.readouterr().out
    soonest = min(dt.datetime.fromisoformat(s["expiration_time"]) for s in subscriptions(stack))
    assert soonest > real_now + dt.timedelta(days=29)
    assert cli.run(["webhooks", "renew", "--within-days", "7"], environ) == 0
    assert "0 renewed, 102 not due" in capsys.readouterr().out
    assert cli.run(["webhooks", "delete", "--callback-url", callback], environ) == 0
    assert "51 deleted" in capsys.readouterr().out
    assert len(subscriptions(stack)) == 51  # the module's own are untouched


def test_the_poll_refetches_a_shorter_window_while_webhooks_deliver(
    stack: Stack, subscribed: str
) -> None:
    victim = sorted(stack.sandbox_documents("daily_readiness"))[-1]
    count = len(stack.events())
    stack.control(
        "webhooks/events",
        {"events": [{"event_type": "update", "data_type": "daily_readiness", "object_id": victim}]},
    )
    wait_for(lambda: len(stack.events()) > count, "an event to be recorded")
    environ = {
        "DATABASE_URL": stack.database_url,
        "OURA_API_BASE_URL": stack.sandbox.url,
        "OURA_API_KEY": "sandbox-accepts-any-bearer",
        "PROCESSOR_URL": stack.processor_url,
        "OURA_REFETCH_DAYS": "7",
        "OURA_REFETCH_DAYS_WITH_WEBHOOKS": "1",
    }

    def window_start(**extra: str) -> dt.date:
        argv = ["collect", "--no-progress", "--data-types", "daily_readiness"]
        assert cli.run(argv, {**environ, **extra}) == 0
        with psycopg.connect(stack.database_url) as conn:
            row = conn.execute(
                "SELECT start_date FROM sync_runs ORDER BY run_id DESC LIMIT 1"
            ).fetchone()
        assert row is not None
        return dt.date.fromisoformat(str(row[0]))

    checkpoint = stack.end
    assert window_start() == checkpoint - dt.timedelta(days=1)
    # The event is older than a 36 ms health window by now (a collect run takes longer).
    assert window_start(WEBHOOK_HEALTHY_HOURS="0.00001") == checkpoint - dt.timedelta(days=7)
