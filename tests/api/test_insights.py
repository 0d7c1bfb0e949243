"""GET /api/v1/insights: the stored baselines of a day, as the independent computation says."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from myhealth.storage.local_cluster import LocalCluster
from tests.insights.series import (
    FLAG_RULES,
    START,
    expected_metrics,
    expected_streaks,
    random_person,
    store,
)

from .conftest import MIGRATED_TEMPLATE as TEMPLATE
from .conftest import ClientFactory, bearer

UNITS = {
    "hrv": "ms",
    "resting_hr": "bpm",
    "temperature_deviation": "°C",
    "respiratory_rate": "breaths/min",
    "sleep_duration": "s",
    "sleep_efficiency": "%",
    "steps": "steps",
}
PERSON = random_person(120, seed=7)


@pytest.fixture(scope="module")
def person_url(pg_cluster: LocalCluster) -> str:
    url = pg_cluster.create_database("api_insights", template=TEMPLATE)
    store(url, PERSON.documents())
    return url


def test_every_day_matches_the_independent_computation(
    person_url: str, make_client: ClientFactory
) -> None:
    client = make_client(person_url, RATE_LIMIT_PER_MINUTE="1000000")
    headers = bearer(client)
    metrics = expected_metrics(PERSON.series())
    streaks = expected_streaks(metrics)
    days = sorted({day for _, day in metrics})
    raised_somewhere = False
    for day in days:
        response = client.get("/api/v1/insights", headers=headers, params={"date": str(day)})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["date"] == day.isoformat()
        want = {metric: row for (metric, d), row in metrics.items() if d == day}
        assert [m["metric"] for m in body["metrics"]] == [m for m in UNITS if m in want]
        for got in body["metrics"]:
            value, history, median, mad, z = want[got["metric"]]
            assert got["unit"] == UNITS[got["metric"]]
            assert (got["value"], got["history_days"]) == (value, history)
            assert got["baseline_median"] == pytest.approx(median)
            assert got["baseline_mad"] == pytest.approx(mad)
            assert got["z_score"] == pytest.approx(z)
        raised = {
            flag: streaks[(flag, day)]
            for flag, (_, required, _) in FLAG_RULES.items()
            if streaks.get((flag, day), 0) >= required
        }
        assert {f["flag"]: f["streak_days"] for f in body["flags"]} == raised
        for flag in body["flags"]:
            assert flag["explanation"].endswith(".")
            assert flag["required_days"] == FLAG_RULES[flag["flag"]][1]
        raised_somewhere |= bool(raised)
    assert raised_somewhere


def test_an_hrv_flag_reads_in_plain_words(person_url: str, make_client: ClientFactory) -> None:
    client = make_client(person_url, RATE_LIMIT_PER_MINUTE="1000000")
    headers = bearer(client)
    metrics = expected_metrics(PERSON.series())
    streaks = expected_streaks(metrics)
    day = min(d for (flag, d), n in streaks.items() if flag == "hrv_low" and n >= 3)
    body = client.get("/api/v1/insights", headers=headers, params={"date": str(day)}).json()
    (flag,) = [f for f in body["flags"] if f["flag"] == "hrv_low"]
    value, _, median, _, _ = metrics[("hrv", day)]
    assert flag["explanation"] == (
        f"HRV {value:.0f} ms, below your usual {median:.0f} ms for {streaks[('hrv_low', day)]}"
        " days in a row."
    )


def test_the_default_day_is_the_latest_night(person_url: str, make_client: ClientFactory) -> None:
    client = make_client(person_url, RATE_LIMIT_PER_MINUTE="1000000")
    headers = bearer(client)
    series = PERSON.series()
    nights = {day for name, values in series.items() if name != "steps" for day in values}
    body = client.get("/api/v1/insights", headers=headers).json()
    assert body["date"] == max(nights).isoformat()


def test_a_day_without_data_is_404_and_a_bad_date_422(
    person_url: str, make_client: ClientFactory
) -> None:
    client = make_client(person_url, RATE_LIMIT_PER_MINUTE="1000000")
    headers = bearer(client)
    before = START - dt.timedelta(days=1)
    response = client.get("/api/v1/insights", headers=headers, params={"date": str(before)})
    assert response.status_code == 404
    assert response.json()["detail"] == f"no insights for {before}: no data that day"
    for bad in ("2026-02-30", "yesterday", "0", "2026-1-5"):
        response = client.get("/api/v1/insights", headers=headers, params={"date": bad})
        assert response.status_code == 422, bad


def test_nothing_stored_is_404(database_url: str, make_client: ClientFactory) -> None:
    client: TestClient = make_client(database_url)
    response = client.get("/api/v1/insights", headers=bearer(client))
    assert response.status_code == 404
    assert response.json()["detail"] == "no insights yet: no data has been stored"
