"""The collector's side of the processor API: acknowledgements, 413 splitting, refusals and
retries of an unavailable processor."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from myhealth.collector.ingest import (
    IngestResult,
    ProcessorClient,
    ProcessorRefused,
    ProcessorUnavailable,
)
from tests.fast_retry import FAST_RETRY

DOCS = [{"id": str(n), "day": "2026-11-01"} for n in range(6)]


def ingest(handler: Any, documents: list[dict[str, Any]] = DOCS) -> tuple[IngestResult, int]:
    calls = 0

    def counting(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        response: httpx.Response = handler(request)
        return response

    async def main() -> IngestResult:
        async with ProcessorClient(
            "http://processor.test/",
            "s3cret",
            retry=FAST_RETRY,
            transport=httpx.MockTransport(counting),
        ) as client:
            return await client.ingest("daily_sleep", documents)

    return asyncio.run(main()), calls


def ack(request: httpx.Request) -> httpx.Response:
    assert request.url.path == "/api/v1/ingest"
    assert request.headers["Authorization"] == "Bearer s3cret"
    body = json.loads(request.content)
    assert body["data_type"] == "daily_sleep"
    n = len(body["documents"])
    return httpx.Response(
        200,
        json={"received": n, "inserted": n, "updated": 0, "unchanged": 0, "rejected": []},
    )


def test_acknowledged_batch() -> None:
    result, calls = ingest(ack)
    assert (result.received, result.inserted, calls) == (6, 6, 1)


def test_too_large_batch_is_split_until_accepted() -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        if len(json.loads(request.content)["documents"]) > 2:
            return httpx.Response(413, json={"detail": "body too large"})
        return ack(request)

    result, _ = ingest(limited)
    assert result.received == 6


@pytest.mark.parametrize(
    ("status", "detail"),
    [
        pytest.param(401, "missing or wrong bearer token", id="unauthorized"),
        pytest.param(422, "unknown data_type", id="unprocessable"),
        pytest.param(500, "the database refused a value", id="database-refused"),
    ],
)
def test_client_errors_are_refusals_without_retry(status: int, detail: str) -> None:
    calls = 0

    def refuse(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"detail": detail})

    with pytest.raises(ProcessorRefused, match=f"HTTP {status}: {detail}"):
        ingest(refuse)
    assert calls == 1


def test_server_errors_are_retried_then_unavailable() -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"detail": "database unavailable"})

    with pytest.raises(ProcessorUnavailable, match="after 5 attempts: HTTP 503"):
        ingest(failing)


def test_a_transient_failure_is_retried() -> None:
    answers = iter([httpx.ConnectError("connection refused"), None])

    def flaky(request: httpx.Request) -> httpx.Response:
        if (failure := next(answers)) is not None:
            raise failure
        return ack(request)

    result, calls = ingest(flaky)
    assert (result.received, calls) == (6, 2)


def test_once_unavailable_later_requests_fail_without_retrying() -> None:
    calls = 0

    def down(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused")

    async def main() -> None:
        async with ProcessorClient(
            "http://processor.test", None, retry=FAST_RETRY, transport=httpx.MockTransport(down)
        ) as client:
            with pytest.raises(ProcessorUnavailable, match="after 5 attempts"):
                await client.ingest("tag", DOCS)
            with pytest.raises(ProcessorUnavailable, match=r"unavailable \(still\)"):
                await client.ingest("sleep", DOCS)

    asyncio.run(main())
    assert calls == 6
