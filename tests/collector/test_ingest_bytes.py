"""The collector forwards each document as the text it received, against the real processor.

Before, the collector re-encoded decoded Python values with httpx, which refuses a lone
surrogate (UnicodeEncodeError) and NaN/Infinity (ValueError): the batch never left, and the
type failed on every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from myhealth.collector.ingest import IngestResult, ProcessorClient
from myhealth.platform.bounded_json import RawJsonObject, read_document
from myhealth.platform.config import ProcessorSettings, load
from myhealth.processor.server import running

TOKEN = "collector-bytes-token-0123456789"
RECEIVED = [
    '{"id":"ok-1", "day":"2024-03-02",  "score":80}',
    '{"id":"surrogate","day":"2024-03-02","note":"\\ud83d"}',
    '{"id":"huge","day":"2024-03-02","x":1e309}',
    '{"id":"digits","day":"2024-03-02","x":' + "7" * 5000 + "}",
    '{"id":"ok-2","day":"2024-03-03","score":81.0,"extra":"\\u00e9\\ud83d\\ude00"}',
]


@pytest.fixture
def processor_url(database_url: str) -> Iterator[str]:
    settings = load(ProcessorSettings, {"DATABASE_URL": database_url, "INGEST_TOKEN": TOKEN})
    with running(settings) as url:
        yield url


def send(url: str, documents: list[Any]) -> IngestResult:
    async def main() -> IngestResult:
        async with ProcessorClient(url, TOKEN) as client:
            return await client.ingest("daily_sleep", documents)

    return asyncio.run(main())


def test_received_texts_reach_the_processor_byte_for_byte(
    processor_url: str, db: psycopg.Connection
) -> None:
    documents = [RawJsonObject.from_received(read_document(text)) for text in RECEIVED]

    result = send(processor_url, documents)

    assert (result.received, result.inserted) == (5, 2)
    assert [(item["index"], item["code"]) for item in result.rejected] == [
        (1, "lone_surrogate"),
        (2, "non_finite_number"),
        (3, "number_out_of_range"),
    ]
    quarantined = db.execute(
        "SELECT raw_document FROM quarantined_documents ORDER BY document_id"
    ).fetchall()
    assert sorted(raw for (raw,) in quarantined) == sorted(RECEIVED[1:4])
    archived = db.execute("SELECT document::text FROM oura_documents WHERE id = 'ok-2'").fetchone()
    assert archived is not None
    assert "\N{GRINNING FACE}" in archived[0]


def test_python_values_httpx_would_refuse_are_sent_and_judged(
    processor_url: str, db: psycopg.Connection
) -> None:
    """Plain decoded values (not RawJsonObject) still go out: escaped, NaN as a literal."""
    documents = [
        {"id": "ok", "day": "2024-03-02"},
        {"id": "s", "day": "2024-03-02", "note": "\ud83d"},
        {"id": "n", "day": "2024-03-02", "x": float("nan")},
    ]
    result = send(processor_url, documents)
    assert result.inserted == 1
    assert [item["code"] for item in result.rejected] == ["lone_surrogate", "non_finite_number"]
