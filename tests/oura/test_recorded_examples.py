"""The recorded real Oura responses (tests/data/oura/examples/) go through the client
and the models: every document parses, days and keys come out right, and missing or extra
keys are tolerated."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from myhealth.oura.catalog import DATA_TYPES
from myhealth.oura.client import DocumentNotFound
from myhealth.oura.models import document_day, document_key, parse
from tests.oura.fakes import fetch_all, flatten, mock_client

DATA = Path(__file__).parent.parent / "data" / "oura" / "examples"
RECORDED_FILES = ("daily_activity", "daily_readiness", "daily_sleep", "heartrate", "sleep")


def recorded() -> list[tuple[str, str, dict[str, Any]]]:
    cases = []
    for name in RECORDED_FILES:
        file = DATA / f"{name}.json"
        for example in json.loads(file.read_text())["examples"]:
            cases.append((file.stem, example["title"], example))
    return cases


CASES = recorded()


def test_every_recorded_file_holds_examples() -> None:
    assert {data_type for data_type, _, _ in CASES} == set(RECORDED_FILES)


@pytest.mark.parametrize(
    ("data_type", "example"),
    [(data_type, example) for data_type, _, example in CASES if example["status"] == 200],
    ids=[f"{data_type}:{title[:40]}" for data_type, title, ex in CASES if ex["status"] == 200],
)
def test_every_recorded_document_parses(data_type: str, example: dict[str, Any]) -> None:
    body = example["body"]
    documents = body.get("data", [body])
    for raw in documents:
        model = parse(data_type, raw)
        assert document_key(data_type, model)
        day = document_day(data_type, model)
        assert isinstance(day, dt.date)
        if "day" in raw:
            assert day.isoformat() == raw["day"]


@pytest.mark.parametrize(
    ("data_type", "example"),
    [
        (data_type, example)
        for data_type, _, example in CASES
        if example["status"] == 200
        and "data" in example["body"]
        and DATA_TYPES[data_type].window == "date"
        and example["body"]["data"]
    ],
)
def test_recorded_list_responses_replayed_through_the_client(
    data_type: str, example: dict[str, Any]
) -> None:
    """Ask for exactly the days the recording holds: every document comes back verbatim."""
    documents = example["body"]["data"]
    days = sorted(dt.date.fromisoformat(doc["day"]) for doc in documents)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=example["body"])

    client, _ = mock_client(handler)
    fetched = flatten(fetch_all(client, DATA_TYPES[data_type], days[0], days[-1]))
    assert fetched == documents


def test_recorded_404_body_becomes_a_clear_error() -> None:
    (example,) = [ex for _, _, ex in CASES if ex["status"] == 404]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json=example["body"])

    async def run() -> None:
        client, _ = mock_client(handler)
        async with client:
            await client.get(DATA_TYPES["daily_activity"], "not-existing")

    with pytest.raises(DocumentNotFound, match="Document not found"):
        asyncio.run(run())


def test_recorded_heartrate_replayed_through_a_datetime_window() -> None:
    (example,) = [
        ex for name, _, ex in CASES if name == "heartrate" and "start_datetime" in ex["request"]
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=example["body"])

    chicago = dt.timezone(dt.timedelta(hours=-6))
    client, _ = mock_client(handler)
    fetched = flatten(
        fetch_all(
            client, DATA_TYPES["heartrate"], dt.date(2024, 1, 12), dt.date(2024, 1, 12), tz=chicago
        )
    )
    assert fetched == example["body"]["data"]
