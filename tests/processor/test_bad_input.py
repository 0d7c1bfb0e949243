"""Requests refused as a whole: the status, a JSON `detail`, and nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from myhealth.oura.catalog import DATA_TYPES
from myhealth.processor.server import create_app, running

from .support import INGEST_TOKEN, example_documents, processor_settings

MAX_BYTES = 4096
AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}
TABLES = sorted(
    {t.table for t in DATA_TYPES.values()} | {"oura_documents", "quarantined_documents"}
)


@pytest.fixture
def small_processor(database_url: str) -> Iterator[str]:
    settings = processor_settings(database_url, INGEST_MAX_BYTES=str(MAX_BYTES))
    with running(settings) as url:
        yield url


def stored_rows(db: psycopg.Connection) -> int:
    total = 0
    for table in TABLES:
        row = db.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()
        total += row[0] if row else 0
    return total


def sleep_batch(*, padding: int = 0) -> bytes:
    documents = example_documents("daily_sleep")[:1]
    body = {"data_type": "daily_sleep", "documents": documents, "padding": "x" * padding}
    return json.dumps(body).encode()


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 1024):
        yield body[start : start + 1024]


CASES = [
    pytest.param(AUTH, b'{"data_type": "sleep", "documents": [', 422, id="malformed-json"),
    pytest.param(AUTH, b"\xff\xfe{}", 422, id="not-utf8"),
    pytest.param(
        AUTH, b'{"data_type": "daily_sleep", "documents": [{"id": "a",}]}', 422, id="bad-syntax"
    ),
    pytest.param(AUTH, b"[]", 422, id="body-not-an-object"),
    pytest.param(AUTH, b'{"data_type": "daily_sleep", "documents": {}}', 422, id="docs-not-list"),
    pytest.param(AUTH, b'{"documents": []}', 422, id="data-type-missing"),
    pytest.param(AUTH, b'{"data_type": "steps", "documents": [{"id": "x"}]}', 422, id="unknown"),
    pytest.param(AUTH, sleep_batch(padding=MAX_BYTES), 413, id="too-large"),
    pytest.param({}, sleep_batch(), 401, id="missing-token"),
    pytest.param({"Authorization": "Bearer wrong"}, sleep_batch(), 401, id="wrong-token"),
    pytest.param({"Authorization": f"Basic {INGEST_TOKEN}"}, sleep_batch(), 401, id="not-bearer"),
]


@pytest.mark.parametrize(("headers", "body", "status"), CASES)
def test_refused_with_detail_and_nothing_written(
    small_processor: str,
    db: psycopg.Connection,
    headers: dict[str, str],
    body: bytes,
    status: int,
) -> None:
    response = httpx.post(
        f"{small_processor}/api/v1/ingest",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )

    assert response.status_code == status, response.text
    assert isinstance(response.json()["detail"], str)
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert stored_rows(db) == 0


def test_streamed_body_over_the_limit_is_refused(
    small_processor: str, db: psycopg.Connection
) -> None:
    # A generator body goes out chunked, without Content-Length: the server must count.
    body = sleep_batch(padding=MAX_BYTES)
    response = httpx.post(
        f"{small_processor}/api/v1/ingest",
        content=_chunks(body),
        headers={**AUTH, "Content-Type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert "INGEST_MAX_BYTES" in response.json()["detail"]
    assert stored_rows(db) == 0


def test_streamed_body_under_the_limit_is_stored(
    small_processor: str, db: psycopg.Connection
) -> None:
    response = httpx.post(
        f"{small_processor}/api/v1/ingest",
        content=_chunks(sleep_batch()),
        headers={**AUTH, "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 1


def test_stored_documents_route_needs_the_token(small_processor: str) -> None:
    response = httpx.get(f"{small_processor}/api/v1/metrics/daily_sleep")
    assert response.status_code == 401
    assert response.json()["detail"] == "missing bearer token"


def test_without_ingest_token_no_token_is_needed(database_url: str) -> None:
    settings = processor_settings(database_url, INGEST_TOKEN="")
    assert settings.INGEST_TOKEN is None
    with running(settings) as url:
        response = httpx.post(
            f"{url}/api/v1/ingest", content=sleep_batch(), headers={"Content-Type": "x"}
        )
    assert response.status_code == 200, response.text


def test_a_failing_batch_leaves_nothing_behind(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    """One transaction per batch: an error in the typed upsert undoes the archive and the
    quarantine writes of the same batch."""
    db.execute(
        """CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF NEW.id = 'boom' THEN RAISE EXCEPTION 'refused by test trigger'; END IF;
             RETURN NEW;
           END $$"""
    )
    db.execute(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON daily_sleep"
        " FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
    )
    [document, *_] = example_documents("daily_sleep")
    batch = [document, {"id": "invalid"}, {**document, "id": "boom"}]

    response = client.post("/api/v1/ingest", json={"data_type": "daily_sleep", "documents": batch})

    assert response.status_code == 500
    assert "refused by test trigger" in response.json()["detail"]
    assert stored_rows(db) == 0


def test_unexpected_errors_log_no_document_content(
    database_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """A bug's error message can quote the document being processed (health data): the
    handler logs the error's type and where it was raised, never its message or traceback
    text (it used to log the whole traceback, message included)."""
    app = create_app(processor_settings(database_url))

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("could not handle {'score': 'secret-value-4711'}")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/boom")
    logged = capfd.readouterr()
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "secret-value-4711" not in logged.out + logged.err
    assert "ValueError" in logged.out + logged.err
