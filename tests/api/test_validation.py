"""Query validation: 422 with a clear `detail` string."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

CASES = [
    pytest.param("/api/v1/sleep", {"start_date": "2026-13-01"}, "start_date", id="bad-month"),
    pytest.param("/api/v1/activity", {"end_date": "yesterday"}, "end_date", id="not-a-date"),
    pytest.param("/api/v1/readiness", {"start_date": "2026/01/01"}, "YYYY-MM-DD", id="slashes"),
    pytest.param(
        "/api/v1/sleep",
        {"start_date": "2026-02-01", "end_date": "2026-01-01"},
        "after end_date",
        id="start-after-end",
    ),
    pytest.param(
        "/api/v1/trends/steps",
        {"start_date": "2016-01-01", "end_date": "2026-01-08"},
        "3660 days",
        id="range-too-long",
    ),
    pytest.param("/api/v1/trends/steps", {"bucket": "year"}, "bucket", id="unknown-bucket"),
    pytest.param(
        "/api/v1/dashboard?x=1", {"start_date": "0001-01-01"}, None, id="ignored-extra-params"
    ),
]


@pytest.mark.parametrize(("path", "params", "mention"), CASES)
def test_invalid_query_is_422_with_detail(
    client: TestClient, auth: dict[str, str], path: str, params: dict[str, str], mention: str | None
) -> None:
    response = client.get(path, params=params, headers=auth)
    if mention is None:  # the dashboard takes no parameters: extra ones are ignored
        assert response.status_code == 200
        return
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert mention in detail


def test_3660_days_is_the_largest_range(client: TestClient, auth: dict[str, str]) -> None:
    ok = client.get(
        "/api/v1/sleep", params={"start_date": "2016-01-10", "end_date": "2026-01-08"}, headers=auth
    )
    assert ok.status_code == 200, ok.text  # 2016-01-10 .. 2026-01-08 is 3652 days
    longest = client.get(
        "/api/v1/sleep", params={"start_date": "2016-01-01", "end_date": "2026-01-07"}, headers=auth
    )
    assert longest.status_code == 200, longest.text  # exactly 3660 days
    too_long = client.get(
        "/api/v1/sleep", params={"start_date": "2015-12-31", "end_date": "2026-01-07"}, headers=auth
    )
    assert too_long.status_code == 422


def test_malformed_login_body_is_422(client: TestClient) -> None:
    response = client.post(
        "/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], str)
