"""The insight gauges on the processor's /metrics: the latest night's values, baselines and
flags, as the independent computation has them, after ingest over real HTTP."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import httpx
import pytest

from myhealth.processor.server import running
from tests.insights.series import (
    FLAG_RULES,
    Person,
    expected_metrics,
    expected_streaks,
    random_person,
)

from .support import INGEST_TOKEN, ingest, processor_settings
from .test_metrics import scrape, value

ZONE = "America/New_York"
METRICS = (
    "hrv",
    "resting_hr",
    "temperature_deviation",
    "respiratory_rate",
    "sleep_duration",
    "sleep_efficiency",
    "steps",
)


def ingest_person(client: httpx.Client, person: Person) -> None:
    for data_type, documents in person.documents().items():
        for start in range(0, len(documents), 50):
            ingest(client, data_type, documents[start : start + 50])


@pytest.mark.parametrize("seed", [7, 29])
def test_gauges_describe_the_latest_night(database_url: str, seed: int) -> None:
    person = random_person(100, seed=seed)
    # The last day has today's steps only (its night has not arrived): not the latest night.
    last = max(person.activity) + dt.timedelta(days=1)
    person.activity[last] = {"steps": 1234}
    headers = {"Authorization": f"Bearer {INGEST_TOKEN}"}
    settings = processor_settings(database_url, USER_TIMEZONE=ZONE)
    with (
        running(settings) as url,
        httpx.Client(base_url=url, headers=headers, timeout=30) as client,
    ):
        empty = scrape(client)
        assert {value(empty, "myhealth_insight_flag", flag=f) for f in FLAG_RULES} == {0.0}
        assert not [key for key in empty if key[0] == "myhealth_insight_value"]
        ingest_person(client, person)
        s = scrape(client)

    metrics = expected_metrics(person.series())
    streaks = expected_streaks(metrics)
    night = max(day for metric, day in metrics if metric != "steps")
    midnight = dt.datetime.combine(night, dt.time(), zoneinfo.ZoneInfo(ZONE)).timestamp()
    assert value(s, "myhealth_insight_latest_day_timestamp_seconds") == midnight
    for metric in METRICS:
        row = metrics.get((metric, night))
        key = ("myhealth_insight_value", frozenset({("metric", metric)}))
        if row is None:
            assert key not in s
            continue
        assert value(s, "myhealth_insight_value", metric=metric) == pytest.approx(row[0])
        assert value(s, "myhealth_insight_baseline", metric=metric) == pytest.approx(row[2])
    for flag, (_, required, _) in FLAG_RULES.items():
        streak = streaks.get((flag, night), 0)
        assert value(s, "myhealth_insight_streak_days", flag=flag) == streak
        assert value(s, "myhealth_insight_flag", flag=flag) == (1.0 if streak >= required else 0.0)
