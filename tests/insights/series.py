"""Hand-built Oura documents for the insights tests, and an independent computation of what
the insights must be (written plainly, without the product's code)."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from myhealth.oura.catalog import DATA_TYPES
from myhealth.processor import writer

START = dt.date(2026, 1, 1)


@dataclass
class Person:
    """Per day: which documents exist and what they say (None: no document that day)."""

    readiness: dict[dt.date, dict[str, Any]] = field(default_factory=dict)
    sleep: dict[dt.date, dict[str, Any]] = field(default_factory=dict)
    activity: dict[dt.date, dict[str, Any]] = field(default_factory=dict)

    def documents(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "daily_readiness": [
                {"id": f"r-{day}", "day": day.isoformat(), **values}
                for day, values in self.readiness.items()
            ],
            "sleep": [
                {"id": f"s-{day}", "day": day.isoformat(), "type": "long_sleep", **values}
                for day, values in self.sleep.items()
            ],
            "daily_activity": [
                {"id": f"a-{day}", "day": day.isoformat(), **values}
                for day, values in self.activity.items()
            ],
        }

    def series(self) -> dict[str, dict[dt.date, float]]:
        """The seven metrics as the daily relations define them (docs/architecture.md)."""
        found: dict[str, dict[dt.date, float]] = {
            name: {}
            for name in (
                "hrv",
                "resting_hr",
                "temperature_deviation",
                "respiratory_rate",
                "sleep_duration",
                "sleep_efficiency",
                "steps",
            )
        }

        def put(metric: str, day: dt.date, value: Any) -> None:
            if value is not None:
                found[metric][day] = float(value)

        for day, values in self.readiness.items():
            put("temperature_deviation", day, values.get("temperature_deviation"))
            night = self.sleep.get(day, {})  # hrv and resting HR: readiness days only
            put("hrv", day, night.get("average_hrv"))
            put("resting_hr", day, night.get("lowest_heart_rate"))
        for day, values in self.sleep.items():
            put("respiratory_rate", day, values.get("average_breath"))
            put("sleep_duration", day, values.get("total_sleep_duration"))
            put("sleep_efficiency", day, values.get("efficiency"))
        for day, values in self.activity.items():
            put("steps", day, values.get("steps"))
        return found


def random_person(days: int, seed: int, missing: float = 0.1) -> Person:
    """A person with `days` days from START, each document missing with probability
    `missing`, and a bad stretch of four days every 37 days."""
    rng = random.Random(seed)
    person = Person()
    for offset in range(days):
        day = START + dt.timedelta(days=offset)
        bad = offset % 37 in (30, 31, 32, 33)
        if rng.random() > missing:
            person.readiness[day] = {
                "temperature_deviation": round(rng.gauss(0.6 if bad else 0.0, 0.2), 2)
            }
        if rng.random() > missing:
            person.sleep[day] = {
                "average_hrv": rng.randint(22, 30) if bad else rng.randint(38, 48),
                "lowest_heart_rate": 60 if bad else rng.choice([49, 50, 51, 52, 53]),
                "average_breath": round(rng.gauss(17.5 if bad else 14.5, 0.3), 3),
                "total_sleep_duration": rng.randint(4 * 3600, 5 * 3600)
                if bad
                else rng.randint(6 * 3600, 9 * 3600),
                "efficiency": rng.randint(80, 95),
            }
        if rng.random() > missing:
            person.activity[day] = {"steps": rng.randint(2000, 15000)}
    return person


def store(database_url: str, documents: dict[str, list[dict[str, Any]]], batch: int = 40) -> None:
    """Store documents through the processor's writer (as an ingest request does), in
    batches of `batch` documents per type."""

    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            shapes = await writer.load_shapes(conn)
            for data_type, docs in documents.items():
                for start in range(0, len(docs), batch):
                    chunk = docs[start : start + batch]
                    result = await writer.store_batch(
                        conn, DATA_TYPES[data_type], shapes[data_type], chunk
                    )
                    assert not result.rejected, result.rejected

    asyncio.run(main())


# --- the independent computation -------------------------------------------------------------


def expected_metrics(
    series: dict[str, dict[dt.date, float]],
) -> dict[tuple[str, dt.date], tuple[float, int, float | None, float | None, float | None]]:
    """(metric, date) -> (value, history_days, median, MAD, z) by the documented rules."""
    expected = {}
    for metric, values in series.items():
        for day, value in values.items():
            history = [v for d, v in values.items() if day - dt.timedelta(days=60) <= d < day]
            median = mad = z = None
            if len(history) >= 14:
                median = statistics.median(history)
                mad = statistics.median([abs(v - median) for v in history])
                if mad == 0:
                    z = 0.0 if value == median else None
                else:
                    z = (value - median) / (1.4826 * mad)
            expected[(metric, day)] = (value, len(history), median, mad, z)
    return expected


Condition = Callable[[float, float | None, float | None], bool]
FLAG_RULES: dict[
    str, tuple[str, int, Condition]
] = {  # flag: (metric, consecutive days, condition(value, median, mad))
    "hrv_low": (
        "hrv",
        3,
        lambda v, m, d: m is not None and d is not None and d > 0 and v < m - 2 * d,
    ),
    "temperature_high": ("temperature_deviation", 2, lambda v, m, d: v >= 0.5),
    "resting_hr_high": (
        "resting_hr",
        1,
        lambda v, m, d: m is not None and d is not None and d > 0 and v > m + 2 * d,
    ),
    "sleep_short": ("sleep_duration", 3, lambda v, m, d: v < 6 * 3600),
    "respiratory_rate_high": (
        "respiratory_rate",
        2,
        lambda v, m, d: m is not None and d is not None and d > 0 and v > m + 2 * d,
    ),
}


def expected_streaks(
    metrics: dict[tuple[str, dt.date], tuple[float, int, float | None, float | None, float | None]],
) -> dict[tuple[str, dt.date], int]:
    """(flag, date) -> consecutive calendar days the condition held, ending on date."""
    held: dict[str, set[dt.date]] = {flag: set() for flag in FLAG_RULES}
    for (metric, day), (value, _, median, mad, _) in metrics.items():
        for flag, (flag_metric, _, condition) in FLAG_RULES.items():
            if flag_metric == metric and condition(value, median, mad):
                held[flag].add(day)
    streaks = {}
    for flag, days in held.items():
        for day in days:
            n = 0
            while day - dt.timedelta(days=n) in days:
                n += 1
            streaks[(flag, day)] = n
    return streaks
