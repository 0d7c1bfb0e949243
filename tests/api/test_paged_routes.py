"""`/api/v1/data/{type}` and `/api/v1/heart_rate`: following every cursor returns exactly the
stored rows, each once, in order; bad ranges, limits and cursors are 422."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import random
import zoneinfo
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from myhealth.api.routes import DOCUMENT_TYPES
from myhealth.api.server import create_app
from myhealth.oura.days import document_day
from myhealth.storage.local_cluster import LocalCluster

from . import dataset
from .conftest import MIGRATED_TEMPLATE, ClientFactory, api_settings, bearer, get_json

FIRST = dt.date(2026, 1, 1)
DAYS = 10  # documents on FIRST .. FIRST + 9; the ranges below cut into them
HR_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# A document whose values PostgreSQL keeps as written (1.10, a 20-digit integer, unicode):
# re-parsing it in Python would print 1.1 and a float, so this proves the bytes pass through.
FAITHFUL_ID = "faithful"
FAITHFUL_TEXT = (
    '{"id": "faithful", "day": "2026-01-05", "x": 1.10, "n": 12345678901234567890, "s": "café"}'
)


def make_documents(seed: int = 11) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, id, document) for every served type: several per day (equal days), ids that
    do not sort like insertion order, and days outside every range tested."""
    rng = random.Random(seed)
    documents: list[tuple[str, str, dict[str, Any]]] = []
    for name, data_type in DOCUMENT_TYPES.items():
        count = 3 if data_type.day_field is None else 25
        for n in range(count):
            doc_id = f"{rng.randrange(16**8):08x}-{n}"
            document: dict[str, Any] = {"id": doc_id, "value": rng.random(), "nested": {"n": n}}
            if data_type.day_field is not None:
                day = FIRST + dt.timedelta(days=rng.randrange(-2, DAYS + 2))
                document[data_type.day_field] = day.isoformat()
            documents.append((name, doc_id, document))
    return documents


DOCUMENTS = make_documents()


def make_samples() -> list[tuple[dt.datetime, str, int]]:
    """Samples every 5 minutes for two days; every third instant has two sources."""
    samples = []
    for n in range(2 * 24 * 12):
        instant = HR_START + dt.timedelta(minutes=5 * n)
        samples.append((instant, "awake", 60 + n % 40))
        if n % 3 == 0:
            samples.append((instant, "rest", 50 + n % 20))
    return samples


SAMPLES = make_samples()


@pytest.fixture(scope="module")
def paged_client(pg_cluster: LocalCluster) -> Iterator[TestClient]:
    url = pg_cluster.create_database("api_paged", template=MIGRATED_TEMPLATE)
    with psycopg.connect(url) as conn:
        for name, doc_id, document in DOCUMENTS:
            conn.execute(
                "INSERT INTO oura_documents (data_type, id, day, document) VALUES (%s, %s, %s, %s)",
                (name, doc_id, document_day(DOCUMENT_TYPES[name], document), Jsonb(document)),
            )
        conn.execute(
            "INSERT INTO oura_documents (data_type, id, day, document)"
            " VALUES ('tag', %s, '2026-01-05', %s::jsonb)",
            (FAITHFUL_ID, FAITHFUL_TEXT),
        )
        # Heart-rate documents are served by /heart_rate, never by /data.
        conn.execute(
            "INSERT INTO oura_documents (data_type, id, day, document)"
            " VALUES ('heartrate', 'hr', '2026-01-05', '{}')"
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO heart_rate (timestamp, source, bpm) VALUES (%s, %s, %s)", SAMPLES
            )
    app = create_app(api_settings(url, RATE_LIMIT_PER_MINUTE="1000000"))
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def token(paged_client: TestClient) -> dict[str, str]:
    return bearer(paged_client)


def follow(
    client: TestClient, path: str, auth: dict[str, str], limit: int, **params: Any
) -> list[Any]:
    """Every page's `data`, following `next_cursor`; full pages until the last."""
    items: list[Any] = []
    cursor = None
    for _ in range(1000):  # the largest paged answer here is under 1000 rows
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        body = get_json(client, path, auth, **query)
        assert body["next_cursor"] is None or body["next_cursor"] != cursor, "paging is stuck"
        cursor = body["next_cursor"]
        items.extend(body["data"])
        if cursor is None:
            assert len(body["data"]) <= limit
            return items
        assert len(body["data"]) == limit
    raise AssertionError("paging did not end")


def expected_documents(name: str, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
    data_type = DOCUMENT_TYPES[name]
    rows = [(document_day(data_type, d), i, d) for t, i, d in DOCUMENTS if t == name]
    if data_type.day_field is None:
        return [d for _, _, d in sorted(rows, key=lambda row: row[1])]
    chosen = [(day, i, d) for day, i, d in rows if day is not None and start <= day <= end]
    return [d for _, _, d in sorted(chosen, key=lambda row: (row[0], row[1]))]


RANGES = [
    (FIRST, FIRST + dt.timedelta(days=DAYS - 1)),
    (FIRST + dt.timedelta(days=3), FIRST + dt.timedelta(days=3)),
    (FIRST + dt.timedelta(days=4), FIRST + dt.timedelta(days=6)),
    (dt.date(2026, 3, 1), dt.date(2026, 3, 31)),  # nothing stored
]


@pytest.mark.parametrize("name", list(DOCUMENT_TYPES))
def test_every_cursor_yields_each_stored_document_once_in_order(
    paged_client: TestClient, token: dict[str, str], name: str
) -> None:
    for start, end in RANGES:
        expected = expected_documents(name, start, end)
        if name == "tag" and start <= dt.date(2026, 1, 5) <= end:
            expected = sorted(
                [*expected, json.loads(FAITHFUL_TEXT)],
                key=lambda d: (d["day"], d["id"]),
            )
        for limit in (1, 3, 1000):
            got = follow(
                paged_client,
                f"/api/v1/data/{name}",
                token,
                limit,
                start_date=start.isoformat(),
                end_date=end.isoformat(),
            )
            assert got == expected, (name, start, end, limit)
    # The dataset really has equal days and several pages per range.
    day_field = DOCUMENT_TYPES[name].day_field
    if day_field is not None:
        full = expected_documents(name, *RANGES[0])
        days = [d[day_field] for d in full]
        assert len(days) > len(set(days))
        assert len(full) > 6


def test_documents_pass_through_byte_for_byte(
    paged_client: TestClient, token: dict[str, str]
) -> None:
    response = paged_client.get(
        "/api/v1/data/tag",
        headers=token,
        params={"start_date": "2026-01-05", "end_date": "2026-01-05"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    # jsonb orders keys its own way; the values keep their written form.
    for literal in ('"x": 1.10', '"n": 12345678901234567890', '"s": "café"'):
        assert literal in response.text


def test_default_range_is_the_30_days_ending_today(
    make_client: ClientFactory, database_url: str
) -> None:
    today = dt.datetime.now(zoneinfo.ZoneInfo(dataset.USER_TIMEZONE)).date()
    days = [today - dt.timedelta(days=30), today - dt.timedelta(days=29), today]
    with psycopg.connect(database_url) as conn:
        for day in days:
            conn.execute(
                "INSERT INTO oura_documents (data_type, id, day, document) VALUES"
                " ('daily_sleep', %s, %s, %s)",
                (f"s-{day}", day, Jsonb({"id": f"s-{day}", "day": day.isoformat()})),
            )
    client = make_client(database_url)
    body = get_json(client, "/api/v1/data/daily_sleep", bearer(client))
    assert [d["day"] for d in body["data"]] == [days[1].isoformat(), today.isoformat()]
    assert body["next_cursor"] is None


def expected_samples(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, str, int]]:
    return sorted(s for s in SAMPLES if start <= s[0] < end)


def as_samples(items: list[dict[str, Any]]) -> list[tuple[dt.datetime, str, int]]:
    return [(dt.datetime.fromisoformat(i["timestamp"]), i["source"], i["bpm"]) for i in items]


@pytest.mark.parametrize("limit", [1, 2, 7, 10000])
def test_heart_rate_cursors_yield_each_sample_once_in_order(
    paged_client: TestClient, token: dict[str, str], limit: int
) -> None:
    new_york = zoneinfo.ZoneInfo("America/New_York")
    ranges = [
        (HR_START, HR_START + dt.timedelta(hours=3)),
        # An offset other than UTC, and bounds on equal-timestamp pairs (start in, end out).
        (
            dt.datetime(2025, 12, 31, 20, 15, tzinfo=new_york),
            dt.datetime(2025, 12, 31, 23, 0, tzinfo=new_york),
        ),
        (HR_START + dt.timedelta(days=3), HR_START + dt.timedelta(days=4)),  # empty
    ]
    for start, end in ranges:
        expected = expected_samples(start, end)
        got = follow(
            paged_client,
            "/api/v1/heart_rate",
            token,
            limit,
            start=start.isoformat(),
            end=end.isoformat(),
        )
        assert as_samples(got) == expected, (start, end, limit)
        assert all(item["timestamp"].endswith("Z") for item in got)
    # Pages really split pairs of equal timestamps from two sources.
    pairs = expected_samples(*ranges[0])
    assert any(a[0] == b[0] for a, b in itertools.pairwise(pairs))


def test_heart_rate_default_is_the_last_24_hours(
    make_client: ClientFactory, database_url: str
) -> None:
    now = dt.datetime.now(dt.UTC)
    offsets = [dt.timedelta(hours=25), dt.timedelta(hours=23), dt.timedelta(minutes=1)]
    with psycopg.connect(database_url) as conn:
        for n, offset in enumerate(offsets):
            conn.execute(
                "INSERT INTO heart_rate (timestamp, source, bpm) VALUES (%s, 'awake', %s)",
                (now - offset, 60 + n),
            )
    client = make_client(database_url)
    body = get_json(client, "/api/v1/heart_rate", bearer(client))
    assert [s["bpm"] for s in body["data"]] == [61, 62]
    # Only `start`: the 24 h from it.
    start = (now - dt.timedelta(hours=26)).isoformat()
    body = get_json(client, "/api/v1/heart_rate", bearer(client), start=start)
    assert [s["bpm"] for s in body["data"]] == [60, 61]


def cursor_of(client: TestClient, path: str, auth: dict[str, str], **params: Any) -> str:
    body = get_json(client, path, auth, limit=1, **params)
    assert body["next_cursor"] is not None
    cursor: str = body["next_cursor"]
    return cursor


JAN = {"start_date": "2026-01-01", "end_date": "2026-01-10"}
HOURS = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T03:00:00Z"}
GARBAGE = base64.urlsafe_b64encode(b'{"v": 1, "p": {}}').decode()


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/data/sleep", {"limit": 0}),
        ("/api/v1/data/sleep", {"limit": 10001}),
        ("/api/v1/data/sleep", {"limit": "ten"}),
        ("/api/v1/data/sleep", {"start_date": "2026-01-10", "end_date": "2026-01-01"}),
        ("/api/v1/data/sleep", {"start_date": "2000-01-01", "end_date": "2026-01-01"}),
        ("/api/v1/data/sleep", {"start_date": "20260101"}),
        ("/api/v1/data/sleep", {**JAN, "cursor": "not-a-cursor"}),
        ("/api/v1/data/sleep", {**JAN, "cursor": GARBAGE}),
        ("/api/v1/heart_rate", {"limit": 0}),
        ("/api/v1/heart_rate", {"start": "2026-01-01T00:00:00"}),  # naive
        ("/api/v1/heart_rate", {"start": "2026-01-01"}),
        ("/api/v1/heart_rate", {"start": "0"}),
        ("/api/v1/heart_rate", {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}),
        ("/api/v1/heart_rate", {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:01Z"}),
        ("/api/v1/heart_rate", {**HOURS, "cursor": "%%%"}),
        ("/api/v1/heart_rate", {**HOURS, "cursor": GARBAGE}),
    ],
)
def test_bad_parameters_are_422(
    paged_client: TestClient, token: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    response = paged_client.get(path, headers=token, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_a_cursor_only_works_with_its_own_parameters(
    paged_client: TestClient, token: dict[str, str]
) -> None:
    cursor = cursor_of(paged_client, "/api/v1/data/sleep", token, **JAN)
    others = [
        ("/api/v1/data/sleep", {"start_date": "2026-01-02", "end_date": "2026-01-10"}),
        ("/api/v1/data/sleep", {"start_date": "2026-01-01"}),
        ("/api/v1/data/workout", JAN),
        ("/api/v1/heart_rate", {}),
    ]
    for path, params in others:
        response = paged_client.get(path, headers=token, params={**params, "cursor": cursor})
        assert response.status_code == 422, (path, params, response.text)
    # The same parameters with another page size are fine.
    ok = paged_client.get(
        "/api/v1/data/sleep", headers=token, params={**JAN, "cursor": cursor, "limit": 5}
    )
    assert ok.status_code == 200
    hr_cursor = cursor_of(paged_client, "/api/v1/heart_rate", token, **HOURS)
    moved = {**HOURS, "end": "2026-01-01T04:00:00Z", "cursor": hr_cursor}
    assert paged_client.get("/api/v1/heart_rate", headers=token, params=moved).status_code == 422


@pytest.mark.parametrize("name", ["heartrate", "sleep_metrics", "nope"])
def test_unknown_type_is_404(paged_client: TestClient, token: dict[str, str], name: str) -> None:
    response = paged_client.get(f"/api/v1/data/{name}", headers=token)
    assert response.status_code == 404
    assert name in response.json()["detail"]


@pytest.mark.parametrize("path", ["/api/v1/data/sleep", "/api/v1/heart_rate"])
def test_no_token_is_401(paged_client: TestClient, path: str) -> None:
    assert paged_client.get(path).status_code == 401
