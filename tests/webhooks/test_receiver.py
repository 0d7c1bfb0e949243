"""The receiver on the API (`/webhooks/oura`), driven through the real app on a real
database as the read-only role: what it accepts, what it refuses and why, and that a refused
request records nothing (so the worker fetches nothing)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from myhealth.webhooks.signature import sign
from tests.api.conftest import ClientFactory
from tests.reader_role import as_reader, run_migrate

SECRET = "client-secret-for-webhooks"
VERIFICATION_TOKEN = "verification-token-123"
OWNER = "owner-personal-info-id"


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "event_type": "update",
        "data_type": "daily_sleep",
        "object_id": "doc-1",
        "event_time": "2026-01-02T08:00:00+00:00",
        "user_id": OWNER,
        **overrides,
    }


def signed(body: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "x-oura-timestamp": stamp,
        "x-oura-signature": sign(secret, stamp, body),
        "content-type": "application/json",
    }


def recorded(database_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT event_type, data_type, object_id, user_id FROM webhook_events ORDER BY id"
        ).fetchall()


@pytest.fixture
def owner_database(reader_role: str, database_url: str) -> str:
    run_migrate(database_url)  # grants the reader its INSERT on webhook_events
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO personal_info (id) VALUES (%s)", (OWNER,))
    return database_url


@pytest.fixture
def client(owner_database: str, make_client: ClientFactory) -> TestClient:
    return make_client(
        as_reader(owner_database),
        OURA_WEBHOOK_VERIFICATION_TOKEN=VERIFICATION_TOKEN,
        OURA_CLIENT_SECRET=SECRET,
        WEBHOOK_RATE_LIMIT_PER_MINUTE="100000",
    )


def outcome_count(client: TestClient, outcome: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'myhealth_webhook_requests_total{{outcome="{outcome}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric for outcome {outcome}")


def test_the_routes_are_off_without_the_token_and_secret(
    owner_database: str, make_client: ClientFactory
) -> None:
    for extra in ({}, {"OURA_CLIENT_SECRET": SECRET}, {"OURA_WEBHOOK_VERIFICATION_TOKEN": "t"}):
        off = make_client(owner_database, **extra)
        assert off.get("/webhooks/oura", params={"challenge": "c"}).status_code == 404
        body = json.dumps(event()).encode()
        assert off.post("/webhooks/oura", content=body, headers=signed(body)).status_code == 404


def test_verification_echoes_the_challenge_only_for_the_right_token(client: TestClient) -> None:
    right = client.get(
        "/webhooks/oura", params={"verification_token": VERIFICATION_TOKEN, "challenge": "abc"}
    )
    assert right.status_code == 200
    assert right.json() == {"challenge": "abc"}
    wrong = client.get("/webhooks/oura", params={"verification_token": "nope", "challenge": "abc"})
    assert wrong.status_code == 401
    assert "abc" not in wrong.text
    assert client.get("/webhooks/oura", params={"challenge": "abc"}).status_code == 401


def test_a_signed_event_is_recorded_without_a_jwt(client: TestClient, owner_database: str) -> None:
    body = json.dumps(event()).encode()
    response = client.post("/webhooks/oura", content=body, headers=signed(body))
    assert response.status_code == 202, response.text
    assert recorded(owner_database) == [("update", "daily_sleep", "doc-1", OWNER)]
    assert outcome_count(client, "accepted") == 1


def _wrong_signature(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(body, secret="another-secret")


def _tampered(body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = signed(body)
    return body.replace(b"doc-1", b"doc-2"), headers


def _stale(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(body, timestamp=int(time.time()) - 301)


def _future(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, signed(body, timestamp=int(time.time()) + 301)


def _unsigned(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {"content-type": "application/json"}


def _wrong_user(_: bytes) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event(user_id="someone-else")).encode()
    return body, signed(body)


def _oversize(_: bytes) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event(padding="x" * 5000)).encode()
    return body, signed(body)


def _malformed(_: bytes) -> tuple[bytes, dict[str, str]]:
    body = b'{"event_type": "update", '
    return body, signed(body)


def _not_an_event(_: bytes) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event(data_type="heartrate", event_time="yesterday")).encode()
    return body, signed(body)


@pytest.mark.parametrize(
    ("make", "status", "outcome"),
    [
        pytest.param(_wrong_signature, 401, "bad_signature", id="wrong-signature"),
        pytest.param(_tampered, 401, "bad_signature", id="body-changed-after-signing"),
        pytest.param(_stale, 401, "stale_timestamp", id="stale-timestamp"),
        pytest.param(_future, 401, "stale_timestamp", id="timestamp-from-the-future"),
        pytest.param(_unsigned, 401, "missing_headers", id="no-signature"),
        pytest.param(_wrong_user, 403, "wrong_user", id="wrong-user-id"),
        pytest.param(_oversize, 413, "too_large", id="oversize-body"),
        pytest.param(_malformed, 400, "malformed", id="malformed-json"),
        pytest.param(_not_an_event, 422, "invalid_event", id="not-an-event"),
    ],
)
def test_refused_requests_record_nothing(
    client: TestClient, owner_database: str, make: Any, status: int, outcome: str
) -> None:
    body, headers = make(json.dumps(event()).encode())
    response = client.post("/webhooks/oura", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["outcome"] == outcome
    assert recorded(owner_database) == []
    assert outcome_count(client, outcome) == 1


def test_a_replayed_timestamp_and_signature_is_refused(
    client: TestClient, owner_database: str
) -> None:
    body = json.dumps(event()).encode()
    headers = signed(body)
    assert client.post("/webhooks/oura", content=body, headers=headers).status_code == 202
    again = client.post("/webhooks/oura", content=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["outcome"] == "replayed"
    assert len(recorded(owner_database)) == 1


def test_its_own_rate_limit(owner_database: str, make_client: ClientFactory) -> None:
    limited = make_client(
        as_reader(owner_database),
        OURA_WEBHOOK_VERIFICATION_TOKEN=VERIFICATION_TOKEN,
        OURA_CLIENT_SECRET=SECRET,
        WEBHOOK_RATE_LIMIT_PER_MINUTE="3",
    )
    statuses = []
    for number in range(5):
        body = json.dumps(event(object_id=f"doc-{number}")).encode()
        statuses.append(
            limited.post("/webhooks/oura", content=body, headers=signed(body)).status_code
        )
    assert statuses == [202, 202, 202, 429, 429]
    assert len(recorded(owner_database)) == 3


def test_the_receiver_stays_fast_under_a_burst(client: TestClient, owner_database: str) -> None:
    """200 signed events from 8 threads: all recorded once, each answered quickly."""
    latencies: list[float] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def post(numbers: range) -> None:
        for number in numbers:
            body = json.dumps(event(object_id=f"burst-{number}")).encode()
            started = time.perf_counter()
            status = client.post("/webhooks/oura", content=body, headers=signed(body)).status_code
            with lock:
                latencies.append(time.perf_counter() - started)
                statuses.append(status)

    threads = [threading.Thread(target=post, args=(range(i, 200, 8),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [202] * 200
    assert len(recorded(owner_database)) == 200
    latencies.sort()
    assert latencies[int(len(latencies) * 0.95)] < 2.0, latencies[-10:]  # Oura allows 10 s
