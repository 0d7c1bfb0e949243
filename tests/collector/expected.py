"""What the sandbox serves, read over plain HTTP (not through the Oura client under test),
and the three daily relations computed from it in Python by the rules in
docs/architecture.md#the-daily-relations."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from myhealth.oura.catalog import DATA_TYPES

Document = dict[str, Any]


def served(base_url: str, name: str, start: dt.date, end: dt.date, timezone: str) -> list[Document]:
    """Every document of `name` the sandbox serves whose day is in [start, end]
    (heart rate: timestamp in [start 00:00, end+1 00:00) in `timezone`)."""
    data_type = DATA_TYPES[name]
    url = f"{base_url}/v2/usercollection/{data_type.route}"
    headers = {"Authorization": "Bearer test"}
    if not data_type.wrapped:
        response = httpx.get(url, headers=headers, timeout=30)
        response.raise_for_status()
        return [response.json()]
    zone = zoneinfo.ZoneInfo(timezone)
    low = dt.datetime.combine(start, dt.time(), zone)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone)
    if data_type.window == "datetime":
        params = {"start_datetime": low.isoformat(), "end_datetime": high.isoformat()}
    elif data_type.window == "date":
        # Wide enough for every collection's window semantics; filtered on the day below.
        padding = dt.timedelta(days=3)
        params = {
            "start_date": (start - padding).isoformat(),
            "end_date": (end + padding).isoformat(),
        }
    else:
        params = {}
    documents: list[Document] = []
    token: str | None = None
    while True:
        query = {**params, **({"next_token": token} if token else {})}
        response = httpx.get(url, params=query, headers=headers, timeout=30)
        response.raise_for_status()
        body = response.json()
        documents.extend(body["data"])
        token = body.get("next_token")
        if not token:
            break
    # The sandbox's `invalid_documents` fault adds wrong-typed copies: they belong in
    # quarantine, not in the archive.
    documents = [doc for doc in documents if not str(doc.get("id", "")).startswith("invalid-")]
    if data_type.window == "datetime":
        return [
            doc
            for doc in documents
            if isinstance(doc["timestamp"], str)
            and low <= dt.datetime.fromisoformat(doc["timestamp"]) < high
        ]
    if data_type.day_field is None:
        return documents
    return [
        doc
        for doc in documents
        if isinstance(doc[data_type.day_field], str)
        and start <= dt.date.fromisoformat(doc[data_type.day_field]) <= end
    ]


def _round(value: float | None) -> int | None:
    """PostgreSQL's round(numeric): half away from zero."""
    if value is None:
        return None
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _instant(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(value)


def main_sleep_periods(periods: list[Document]) -> dict[dt.date, Document]:
    """Per day: the long_sleep with the largest total_sleep_duration (tie: later bedtime_end);
    when a day has none, the same choice among type 'sleep'."""
    chosen: dict[dt.date, Document] = {}
    for wanted in ("sleep", "long_sleep"):  # long_sleep last, so it overrides
        best: dict[dt.date, Document] = {}
        for period in periods:
            if period.get("type") != wanted:
                continue
            day = dt.date.fromisoformat(period["day"])
            rank = (
                period.get("total_sleep_duration") is not None,
                period.get("total_sleep_duration") or 0,
                _instant(period.get("bedtime_end")),
            )
            current = best.get(day)
            if current is None or rank > (
                current.get("total_sleep_duration") is not None,
                current.get("total_sleep_duration") or 0,
                _instant(current.get("bedtime_end")),
            ):
                best[day] = period
        chosen.update(best)
    return chosen


def sleep_metrics(daily_sleep: list[Document], periods: list[Document]) -> list[tuple[Any, ...]]:
    main = main_sleep_periods(periods)
    scores = {dt.date.fromisoformat(doc["day"]): doc.get("score") for doc in daily_sleep}
    rows = []
    for day in sorted(set(scores) | set(main)):
        period = main.get(day, {})
        latency = period.get("latency")
        rows.append(
            (
                day,
                scores.get(day),
                period.get("total_sleep_duration"),
                period.get("efficiency"),
                _round(latency / 60) if latency is not None else None,
                period.get("deep_sleep_duration"),
                period.get("light_sleep_duration"),
                period.get("rem_sleep_duration"),
                period.get("average_hrv"),
                period.get("lowest_heart_rate"),
            )
        )
    return rows


def activity_metrics(daily_activity: list[Document]) -> list[tuple[Any, ...]]:
    rows = []
    for doc in sorted(daily_activity, key=lambda d: d["day"]):
        high, medium = doc.get("high_activity_time"), doc.get("medium_activity_time")
        active = _round((high + medium) / 60) if high is not None and medium is not None else None
        rows.append(
            (
                dt.date.fromisoformat(doc["day"]),
                doc.get("score"),
                doc.get("steps"),
                doc.get("total_calories"),
                doc.get("active_calories"),
                active,
            )
        )
    return rows


def readiness_metrics(
    daily_readiness: list[Document], periods: list[Document]
) -> list[tuple[Any, ...]]:
    main = main_sleep_periods(periods)
    rows = []
    for doc in sorted(daily_readiness, key=lambda d: d["day"]):
        day = dt.date.fromisoformat(doc["day"])
        period = main.get(day, {})
        rows.append(
            (
                day,
                doc.get("score"),
                period.get("average_hrv"),
                period.get("lowest_heart_rate"),
                doc.get("temperature_deviation"),
            )
        )
    return rows
