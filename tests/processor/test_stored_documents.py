"""GET /api/v1/metrics/{type}: stored documents, verbatim, by inclusive day range."""

from __future__ import annotations

import httpx
import pytest

from .support import example_documents, ingest


def days(client: httpx.Client, path: str, field: str = "day") -> list[str]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return [document[field] for document in response.json()["data"]]


def test_range_is_inclusive_and_documents_verbatim(client: httpx.Client) -> None:
    documents = example_documents("daily_sleep")
    ingest(client, "daily_sleep", documents)

    assert days(client, "/api/v1/metrics/daily_sleep") == sorted(d["day"] for d in documents)
    assert days(
        client, "/api/v1/metrics/daily_sleep?start_date=2024-11-11&end_date=2024-11-12"
    ) == ["2024-11-11", "2024-11-12"]
    assert days(client, "/api/v1/metrics/daily_sleep?start_date=2024-11-12") == ["2024-11-12"]
    assert days(client, "/api/v1/metrics/daily_sleep?end_date=2018-10-10") == ["2018-10-10"]
    [stored] = client.get(
        "/api/v1/metrics/daily_sleep?start_date=2024-11-12&end_date=2024-11-12"
    ).json()["data"]
    assert stored == next(d for d in documents if d["day"] == "2024-11-12")


def test_start_day_types_use_start_day(client: httpx.Client) -> None:
    ingest(client, "rest_mode_period", example_documents("rest_mode_period"))
    path = "/api/v1/metrics/rest_mode_period?start_date=2024-11-05&end_date=2024-11-05"
    assert days(client, path, "start_day") == ["2024-11-05"]
    assert days(client, "/api/v1/metrics/rest_mode_period?start_date=2024-11-06") == []


def test_undated_types_ignore_the_range(client: httpx.Client) -> None:
    ingest(client, "personal_info", example_documents("personal_info"))
    ingest(client, "ring_configuration", example_documents("ring_configuration"))
    for data_type in ("personal_info", "ring_configuration"):
        response = client.get(
            f"/api/v1/metrics/{data_type}?start_date=2030-01-01&end_date=2030-01-02"
        )
        assert response.json()["data"] == example_documents(data_type)


def test_heart_rate_range_is_by_utc_date(client: httpx.Client) -> None:
    samples = [
        {"bpm": 60, "source": "rest", "timestamp": "2024-01-01T23:59:59-06:00"},  # 2 Jan UTC
        {"bpm": 61, "source": "rest", "timestamp": "2024-01-02T23:59:59+00:00"},
        {"bpm": 62, "source": "rest", "timestamp": "2024-01-03T00:00:00+00:00"},
    ]
    ingest(client, "heartrate", samples)

    stored = client.get("/api/v1/metrics/heartrate?start_date=2024-01-02&end_date=2024-01-02")
    assert stored.json() == {
        "data": [
            {"bpm": 60, "source": "rest", "timestamp": "2024-01-02T05:59:59+00:00"},
            {"bpm": 61, "source": "rest", "timestamp": "2024-01-02T23:59:59+00:00"},
        ],
        "next_cursor": None,  # one page holds them all
    }


@pytest.mark.parametrize(
    ("path", "status"),
    [
        pytest.param("/api/v1/metrics/steps", 404, id="unknown-type"),
        pytest.param("/api/v1/metrics/sleep?start_date=yesterday", 422, id="bad-date"),
        pytest.param(
            "/api/v1/metrics/sleep?start_date=2024-02-02&end_date=2024-02-01", 422, id="reversed"
        ),
        pytest.param("/api/v1/nothing-here", 404, id="unknown-route"),
    ],
)
def test_errors_have_a_detail(client: httpx.Client, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.json()["detail"]


def test_probes(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
