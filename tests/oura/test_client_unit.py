"""OuraClient behaviour against an in-process transport: pagination, windows, retries, errors.

These pin the rules precisely (exact requests sent, exact waits); tests/oura/test_sandbox.py
checks the same behaviour end to end against the sandbox over real HTTP.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import datetime as dt
import json
import logging
import time
import zoneinfo
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client import CollectorRegistry

from myhealth.oura.catalog import DATA_TYPES
from myhealth.oura.client import (
    AccessForbidden,
    AppUpdateRequired,
    DocumentNotFound,
    OuraRequestError,
    PaginationError,
    RateLimitExhausted,
    ReauthenticationRequired,
    client_from_settings,
    heart_rate_lanes,
)
from myhealth.platform import logging as platform_logging
from myhealth.platform.config import OuraSettings, load
from tests.fast_retry import FAST_RETRY
from tests.oura.fakes import fetch_all, flatten, mock_client


def page(data: list[dict[str, Any]], next_token: str | None = None) -> httpx.Response:
    return httpx.Response(200, json={"data": data, "next_token": next_token})


def test_pagination_follows_next_token_with_the_same_window() -> None:
    seen: list[httpx.QueryParams] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params)
        token = request.url.params.get("next_token")
        number = int(token) if token else 0
        docs = [{"id": f"d{number}", "day": "2024-11-11"}]
        return page(docs, str(number + 1) if number < 3 else None)

    client, _ = mock_client(handler)
    pages = fetch_all(
        client, DATA_TYPES["daily_sleep"], dt.date(2024, 11, 11), dt.date(2024, 11, 11)
    )

    assert [doc["id"] for doc in flatten(pages)] == ["d0", "d1", "d2", "d3"]
    assert [params.get("next_token") for params in seen] == [None, "1", "2", "3"]
    assert {(p["start_date"], p["end_date"]) for p in seen} == {("2024-11-09", "2024-11-13")}
    assert client.stats.requests[("/v2/usercollection/daily_sleep", "200")] == 4


def test_repeated_next_token_is_an_error_not_a_loop() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("next_token")
        # a -> b -> a: a cycle
        following = {None: "a", "a": "b", "b": "a"}[token]
        return page([{"id": f"x{token}", "day": "2024-01-01"}], following)

    client, _ = mock_client(handler)
    started = time.monotonic()
    with pytest.raises(PaginationError, match="repeated a next_token"):
        fetch_all(client, DATA_TYPES["sleep"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert time.monotonic() - started < 5
    assert sum(client.stats.requests.values()) == 3


def test_page_cap_stops_an_endless_listing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        token = int(request.url.params.get("next_token") or 0)
        return page([], str(token + 1))  # always a new token

    client, _ = mock_client(handler, max_pages=25)
    with pytest.raises(PaginationError, match="more than 25 pages"):
        fetch_all(client, DATA_TYPES["tag"], dt.date(2024, 1, 1), dt.date(2024, 1, 2))
    assert sum(client.stats.requests.values()) == 25


@pytest.mark.parametrize(
    ("type_name", "day_field"),
    [("daily_activity", "day"), ("enhanced_tag", "start_day"), ("rest_mode_period", "start_day")],
)
def test_date_window_is_padded_then_filtered_by_day_and_deduplicated(
    type_name: str, day_field: str
) -> None:
    requests: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request.url)
        days = ["2024-03-08", "2024-03-09", "2024-03-10", "2024-03-11", "2024-03-12"]
        docs = [{"id": f"id-{day}", day_field: day} for day in days]
        if request.url.params.get("next_token") is None:
            # page 1 and page 2 overlap: the same id must come out once
            return page([*docs[:3], {"id": "no-day"}], "t1")
        return page(docs[2:])

    client, _ = mock_client(handler)
    docs = flatten(
        fetch_all(client, DATA_TYPES[type_name], dt.date(2024, 3, 10), dt.date(2024, 3, 10))
    )

    assert [doc["id"] for doc in docs] == ["id-2024-03-10", "no-day"]
    assert requests[0].params["start_date"] == "2024-03-08"
    assert requests[0].params["end_date"] == "2024-03-12"


def test_cardiovascular_age_is_deduplicated_by_day_when_ids_are_missing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return page(
            [{"day": "2024-03-16", "vascular_age": 34}, {"day": "2024-03-16", "vascular_age": 34}]
        )

    client, _ = mock_client(handler)
    docs = flatten(
        fetch_all(
            client,
            DATA_TYPES["daily_cardiovascular_age"],
            dt.date(2024, 3, 16),
            dt.date(2024, 3, 16),
        )
    )
    assert docs == [{"day": "2024-03-16", "vascular_age": 34}]


def test_heartrate_uses_datetime_chunks_with_encoded_offsets() -> None:
    raw_queries: list[str] = []
    windows: list[tuple[dt.datetime, dt.datetime]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        raw_queries.append(request.url.query.decode())
        start = dt.datetime.fromisoformat(request.url.params["start_datetime"])
        end = dt.datetime.fromisoformat(request.url.params["end_datetime"])
        windows.append((start, end))
        # one sample every 12 h across the requested window, in UTC like Oura
        samples = []
        moment = start
        while moment <= end:
            samples.append(
                {"timestamp": moment.astimezone(dt.UTC).isoformat(), "bpm": 60, "source": "rest"}
            )
            moment += dt.timedelta(hours=12)
        return page(samples)

    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    client, _ = mock_client(handler)
    samples = flatten(
        fetch_all(
            client, DATA_TYPES["heartrate"], dt.date(2024, 1, 1), dt.date(2024, 3, 15), tz=berlin
        )
    )

    assert len(windows) == 3  # 75 days in chunks of at most 30
    assert all(end - start <= dt.timedelta(days=30, minutes=2) for start, end in windows)
    assert all("%2B01%3A00" in query and "+" not in query for query in raw_queries)
    lower = dt.datetime(2024, 1, 1, tzinfo=berlin)
    upper = dt.datetime(2024, 3, 16, tzinfo=berlin)
    instants = [dt.datetime.fromisoformat(s["timestamp"]) for s in samples]
    assert all(lower <= instant < upper for instant in instants)
    assert len(instants) == len(set(instants))


def test_undated_types_ignore_the_window() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(str(request.url))
        if request.url.path.endswith("personal_info"):
            return httpx.Response(200, json={"id": "me", "age": 40})
        return page([{"id": "ring-1", "hardware_type": "gen3"}])

    client, _ = mock_client(handler)
    assert fetch_all(
        client, DATA_TYPES["personal_info"], dt.date(2024, 1, 1), dt.date(2024, 1, 2)
    ) == [[{"id": "me", "age": 40}]]
    client, _ = mock_client(handler)
    assert flatten(fetch_all(client, DATA_TYPES["ring_configuration"], None, None)) == [
        {"id": "ring-1", "hardware_type": "gen3"}
    ]
    assert paths == [
        "https://oura.test/v2/usercollection/personal_info",
        "https://oura.test/v2/usercollection/ring_configuration",
    ]


def test_vo2_max_uses_ouras_route_spelling() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return page([])

    client, _ = mock_client(handler)
    fetch_all(client, DATA_TYPES["vo2_max"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert paths == ["/v2/usercollection/vO2_max"]


def test_429_waits_retry_after_then_succeeds() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"detail": "slow down"})
        return page([{"id": "a", "day": "2024-01-01"}])

    client, _ = mock_client(handler)
    started = time.monotonic()
    docs = flatten(
        fetch_all(client, DATA_TYPES["daily_stress"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    )
    elapsed = time.monotonic() - started

    assert docs == [{"id": "a", "day": "2024-01-01"}]
    assert 0.9 <= elapsed < 5
    assert client.stats.retries == {"rate_limited": 1}
    assert client.stats.requests[("/v2/usercollection/daily_stress", "429")] == 1


def test_retry_after_is_capped_and_429_eventually_gives_up() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "3600"})

    client, _ = mock_client(
        handler, retry=dataclasses.replace(FAST_RETRY, attempts=4, retry_after_max=0.05)
    )
    started = time.monotonic()
    with pytest.raises(RateLimitExhausted, match="after 3 retries"):
        fetch_all(client, DATA_TYPES["daily_sleep"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert time.monotonic() - started < 3
    assert client.stats.retries == {"rate_limited": 3}


def test_5xx_burst_and_timeouts_are_retried_with_backoff() -> None:
    outcomes: list[int | str] = [503, 500, "timeout", 502]

    def handler(request: httpx.Request) -> httpx.Response:
        if outcomes:
            outcome = outcomes.pop(0)
            if outcome == "timeout":
                raise httpx.ReadTimeout("slow", request=request)
            assert isinstance(outcome, int)
            return httpx.Response(outcome, text="upstream trouble")
        return page([{"id": "a", "day": "2024-01-01"}])

    client, _ = mock_client(handler)
    docs = flatten(
        fetch_all(client, DATA_TYPES["workout"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    )
    assert [doc["id"] for doc in docs] == ["a"]
    assert client.stats.retries == {"server_error": 3, "timeout": 1}
    assert client.stats.requests[("/v2/usercollection/workout", "timeout")] == 1


def test_persistent_5xx_fails_after_max_retries() -> None:
    client, _ = mock_client(
        lambda request: httpx.Response(500), retry=dataclasses.replace(FAST_RETRY, attempts=3)
    )
    with pytest.raises(OuraRequestError, match="gave up after 2 retries"):
        fetch_all(client, DATA_TYPES["session"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert sum(client.stats.requests.values()) == 3


def test_401_refreshes_once_then_succeeds() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer token-0":
            return httpx.Response(401, json={"detail": "expired"})
        return page([{"id": "a", "day": "2024-01-01"}])

    client, tokens = mock_client(handler)
    docs = flatten(
        fetch_all(client, DATA_TYPES["daily_sleep"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    )
    assert len(docs) == 1
    assert tokens.refreshes == ["token-0"]


def test_401_after_refresh_fails_clearly() -> None:
    client, tokens = mock_client(lambda request: httpx.Response(401))
    with pytest.raises(ReauthenticationRequired, match="myhealth auth login"):
        fetch_all(client, DATA_TYPES["daily_sleep"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert tokens.refreshes == ["token-0"]


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (403, {"detail": "Forbidden"}, AccessForbidden, "membership lapsed or scope not granted"),
        (426, {"detail": "Minimum App Version Error"}, AppUpdateRequired, "app update required"),
        (400, {"detail": "Start date is after end date"}, OuraRequestError, "Start date is after"),
        (
            422,
            {"detail": [{"loc": ["query", "start_date"], "msg": "Input should be a valid date"}]},
            OuraRequestError,
            "query.start_date: Input should be a valid date",
        ),
    ],
    ids=["403", "426", "400-string-detail", "422-list-detail"],
)
def test_client_errors_fail_fast_with_a_clear_message(
    status: int, body: dict[str, Any], error: type[Exception], message: str
) -> None:
    client, _ = mock_client(lambda request: httpx.Response(status, json=body))
    with pytest.raises(error, match=message):
        fetch_all(client, DATA_TYPES["daily_sleep"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    assert sum(client.stats.requests.values()) == 1
    assert not client.stats.retries


def test_get_single_document_and_404() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/usercollection/sleep/abc":
            return httpx.Response(200, json={"id": "abc", "day": "2024-01-01"})
        return httpx.Response(404, json={"detail": "Document not found."})

    async def run() -> None:
        client, _ = mock_client(handler)
        async with client:
            assert await client.get(DATA_TYPES["sleep"], "abc") == {
                "id": "abc",
                "day": "2024-01-01",
            }
            with pytest.raises(DocumentNotFound, match="Document not found"):
                await client.get(DATA_TYPES["sleep"], "missing")
            with pytest.raises(ValueError, match="no single-document route"):
                await client.get(DATA_TYPES["heartrate"], "x")
        assert client.stats.requests[("/v2/usercollection/sleep/{document_id}", "404")] == 1

    asyncio.run(run())


def test_prometheus_counters_use_the_contract_names() -> None:
    outcomes = [429, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        status = outcomes.pop(0)
        if status == 429:
            return httpx.Response(429, headers={"Retry-After": "0"})
        return page([])

    registry = CollectorRegistry()
    client, _ = mock_client(handler, registry=registry)
    fetch_all(client, DATA_TYPES["tag"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    route = "/v2/usercollection/tag"
    for status in ("429", "200"):
        labels = {"route": route, "status": status}
        assert registry.get_sample_value("myhealth_oura_requests_total", labels) == 1
    assert registry.get_sample_value("myhealth_oura_retries_total", {"reason": "rate_limited"}) == 1


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the logging setup back afterwards, so later tests (and their servers) do not
    write into this test's closed capture file."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


@pytest.mark.usefixtures("restore_logging")
def test_access_tokens_are_never_logged(capsys: pytest.CaptureFixture[str]) -> None:
    platform_logging.configure("test", "debug", json=True)  # now, while stderr is captured
    outcomes = [503, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(outcomes.pop(0), json={"data": [], "next_token": None})

    client, _ = mock_client(handler)
    fetch_all(client, DATA_TYPES["tag"], dt.date(2024, 1, 1), dt.date(2024, 1, 1))
    logged = capsys.readouterr().err
    assert "oura_retry" in logged
    assert "token-0" not in logged
    assert all(json.loads(line) for line in logged.splitlines())


def test_client_from_settings_uses_the_configured_base_url_and_key() -> None:
    settings = load(
        OuraSettings,
        {
            "DATABASE_URL": "postgresql://unused@127.0.0.1/unused",
            "OURA_API_BASE_URL": "http://127.0.0.1:8090",
            "OURA_API_KEY": "pat",
        },
    )

    async def run() -> tuple[str, str]:
        async with client_from_settings(settings) as client:
            request = client._http.build_request("GET", "/v2/usercollection/tag")
            return str(request.url), await client._tokens.access_token()

    assert asyncio.run(run()) == ("http://127.0.0.1:8090/v2/usercollection/tag", "pat")


def test_heartrate_pages_are_full_and_long_windows_fetched_in_lanes() -> None:
    """Every page but each lane's last is full, however the 30-day chunks fall, and every
    sample arrives once, also where two sources share an instant across a page boundary."""
    first = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    every = [first + dt.timedelta(minutes=30 * i) for i in range(400 * 48)]
    rows: list[dict[str, Any]] = [
        {"timestamp": t.isoformat(), "bpm": 60, "source": "rest"} for t in every
    ]
    # Every 7th instant also has an awake sample: some pages end between the two.
    rows += [{**row, "source": "awake"} for row in rows[::7]]
    rows.sort(key=lambda row: (row["timestamp"], row["source"]))
    instants = [dt.datetime.fromisoformat(row["timestamp"]) for row in rows]
    requests: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        low = dt.datetime.fromisoformat(request.url.params["start_datetime"])
        high = dt.datetime.fromisoformat(request.url.params["end_datetime"])
        window = rows[bisect.bisect_left(instants, low) : bisect.bisect_left(instants, high)]
        offset = int(request.url.params.get("next_token", "0"))
        following = offset + 200 if offset + 200 < len(window) else None
        return page(window[offset : offset + 200], str(following) if following else None)

    client, _ = mock_client(handler)
    start, end = dt.date(2023, 1, 2), dt.date(2024, 1, 31)
    samples = flatten(fetch_all(client, DATA_TYPES["heartrate"], start, end, tz=dt.UTC))

    lanes = heart_rate_lanes(start, end, dt.UTC)
    assert len(lanes) == 2  # 395 days: 14 chunks, at least 6 a lane
    assert (lanes[0][0], lanes[-1][1]) == (
        dt.datetime(2023, 1, 2, tzinfo=dt.UTC),
        dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
    )
    low, high = lanes[0][0], lanes[-1][1]
    expected = [r for r in rows if low <= dt.datetime.fromisoformat(r["timestamp"]) < high]
    key = lambda row: (row["timestamp"], row["source"])  # noqa: E731
    assert sorted(samples, key=key) == expected
    minimum = -(-len(expected) // 200)
    assert len(requests) <= minimum * 1.01 + len(lanes)
    assert "next_token" not in "".join(requests)
