"""The assistant's tools: read-only questions about the owner's data, each answered with a
bounded summary (docs/mcp.md#tools).

Every tool is a plain async function of typed, described parameters, listed in `TOOLS`;
`server.py` registers that list, so adding one (for example insights, once their table
exists) is a function and a line. Answers are JSON objects; dates are `YYYY-MM-DD`, instants
ISO 8601 in UTC. Limits (`MAX_*`) keep an answer small enough for a model's context: a range
that is too long is refused with a message saying the limit, and a list that is cut says so
(`truncated`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from myhealth.api.queries import DAILY_COLUMNS, TREND_METRICS
from myhealth.assistant.queries import AssistantReader

MAX_DAILY_DAYS = 92
MAX_TREND_DAYS = 3660
MAX_DAY_BUCKET_DAYS = 366
MAX_COMPARE_DAYS = 366
MAX_ITEM_DAYS = 366
MAX_ITEMS = 100

DAILY_KINDS: dict[str, str] = {
    "sleep": "sleep_metrics",
    "activity": "activity_metrics",
    "readiness": "readiness_metrics",
}
ITEM_TYPES = ("workout", "session", "tag", "enhanced_tag")

TrendMetric = Literal[
    "sleep_score",
    "sleep_duration",
    "sleep_efficiency",
    "sleep_latency",
    "deep_sleep",
    "light_sleep",
    "rem_sleep",
    "activity_score",
    "steps",
    "calories",
    "active_calories",
    "active_minutes",
    "readiness_score",
    "hrv",
    "resting_hr",
    "temperature_deviation",
    "heart_rate",
]
METRIC_LIST = "; ".join(f"{name}: {source.description}" for name, source in TREND_METRICS.items())

StartDate = Annotated[dt.date, Field(description="First day, inclusive (YYYY-MM-DD).")]
EndDate = Annotated[dt.date, Field(description="Last day, inclusive (YYYY-MM-DD).")]


class ToolInputError(ToolError):
    """A request the tool refuses (range too long, start after end): the model reads the
    message (any other exception reaches it only as "Error executing tool")."""


@dataclass(frozen=True)
class Deps:
    reader: AssistantReader
    timezone: str


def _range(start: dt.date, end: dt.date, max_days: int) -> None:
    if start > end:
        raise ToolInputError(f"start_date {start} is after end_date {end}")
    days = (end - start).days + 1
    if days > max_days:
        raise ToolInputError(
            f"the range has {days} days; this tool answers at most {max_days} days per call "
            "(split the range, or use `trend` with week or month buckets)"
        )


def jsonable(value: Any) -> Any:
    """Dates as YYYY-MM-DD, instants as ISO 8601 in UTC, decimals as floats."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def _object(value: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = jsonable(value)
    return converted


async def list_data_types(deps: Deps) -> dict[str, Any]:
    """What data is stored: each Oura data type with its number of documents and its first
    and last day, heart-rate samples with their first and last instant, and the metric names
    the other tools accept. Call this first to learn which dates have data."""
    coverage = await deps.reader.coverage()
    return _object(
        {
            "data_types": coverage["types"],
            "heart_rate": coverage["heart_rate"],
            "daily_kinds": {kind: list(DAILY_COLUMNS[rel]) for kind, rel in DAILY_KINDS.items()},
            "trend_metrics": {name: src.description for name, src in TREND_METRICS.items()},
            "time_zone": deps.timezone,
        }
    )


async def daily_metrics(
    deps: Deps,
    start_date: StartDate,
    end_date: EndDate,
    kinds: Annotated[
        list[Literal["sleep", "activity", "readiness"]] | None,
        Field(description="Which daily relations (default: all three)."),
    ] = None,
) -> dict[str, Any]:
    """Daily sleep, activity and readiness metrics, one row per day with data, for at most
    92 days: sleep score, duration, efficiency, latency, stages, HRV, lowest heart rate;
    activity score, steps, calories, active minutes; readiness score, HRV, resting heart rate,
    temperature deviation. Days without data are absent."""
    _range(start_date, end_date, MAX_DAILY_DAYS)
    answer: dict[str, Any] = {"start_date": start_date, "end_date": end_date}
    selected: list[str] = list(kinds) if kinds else list(DAILY_KINDS)
    for kind in selected:
        answer[kind] = await deps.reader.daily(DAILY_KINDS[kind], start_date, end_date)
    return _object(answer)


async def trend(
    deps: Deps,
    metric: Annotated[TrendMetric, Field(description=f"The metric. {METRIC_LIST}.")],
    start_date: StartDate,
    end_date: EndDate,
    bucket: Annotated[
        Literal["day", "week", "month"],
        Field(description="Bucket size; weeks start on Monday. `day` allows at most 366 days."),
    ] = "week",
) -> dict[str, Any]:
    """A metric's average, minimum, maximum and number of values per day, week or month, over
    at most 3660 days (366 with daily buckets). Empty buckets are left out. Heart-rate samples
    are bucketed by their date in the owner's time zone."""
    _range(start_date, end_date, MAX_DAY_BUCKET_DAYS if bucket == "day" else MAX_TREND_DAYS)
    points = await deps.reader.trend(metric, bucket, start_date, end_date, deps.timezone)
    return _object({"metric": metric, "bucket": bucket, "points": points})


def _summarise(document: dict[str, Any]) -> dict[str, Any]:
    """The document's scalar fields and lists of words; sample series (`{"items": [...]}`)
    become avg/min/max/count; other nested values are left out."""
    summary: dict[str, Any] = {}
    for key, value in document.items():
        scalar = value is None or isinstance(value, str | int | float | bool)
        words = isinstance(value, list) and all(isinstance(item, str) for item in value)
        if scalar or words:
            summary[key] = value
        elif isinstance(value, dict) and isinstance(value.get("items"), list):
            numbers = [v for v in value["items"] if isinstance(v, int | float)]
            if numbers:
                summary[key] = {
                    "avg": round(sum(numbers) / len(numbers), 1),
                    "min": min(numbers),
                    "max": max(numbers),
                    "count": len(numbers),
                }
    return summary


async def activities(
    deps: Deps,
    data_type: Annotated[
        Literal["workout", "session", "tag", "enhanced_tag"],
        Field(
            description="workout: exercise (activity, calories, distance, intensity); session: "
            "meditation/breathing sessions (with heart-rate summary); tag / enhanced_tag: "
            "the owner's tags (coffee, alcohol, sickness, ...)."
        ),
    ],
    start_date: StartDate,
    end_date: EndDate,
) -> dict[str, Any]:
    """Workouts, sessions or tags whose day is in the range (at most 366 days), in day order,
    at most 100 items, summarised (sample series as avg/min/max). `truncated` is true when
    there were more: ask again from the day after the last one."""
    _range(start_date, end_date, MAX_ITEM_DAYS)
    rows = await deps.reader.documents(data_type, True, start_date, end_date, None, MAX_ITEMS + 1)
    items = [_summarise(json.loads(row["document"])) for row in rows[:MAX_ITEMS]]
    return _object(
        {
            "data_type": data_type,
            "start_date": start_date,
            "end_date": end_date,
            "items": items,
            "truncated": len(rows) > MAX_ITEMS,
        }
    )


async def heart_rate_day(
    deps: Deps,
    day: Annotated[dt.date, Field(description="The day (YYYY-MM-DD) in the owner's time zone.")],
) -> dict[str, Any]:
    """One day of heart rate summarised instead of its samples: count, min, max and average
    overall, per source (awake, rest, sleep, workout, ...) and per local hour (24 rows at
    most)."""
    summary = await deps.reader.heart_rate_day(day, deps.timezone)
    return _object({"day": day, "time_zone": deps.timezone, **summary})


async def _period_stats(
    deps: Deps, metric: str, start: dt.date, end: dt.date
) -> dict[str, float | int | None]:
    points = await deps.reader.trend(metric, "day", start, end, deps.timezone)
    count = sum(int(p["count"]) for p in points)
    if count == 0:
        return {"avg": None, "min": None, "max": None, "days": 0, "values": 0}
    mean = sum(float(p["avg"]) * int(p["count"]) for p in points) / count
    return {
        "avg": round(mean, 3),
        "min": min(float(p["min"]) for p in points),
        "max": max(float(p["max"]) for p in points),
        "days": len(points),
        "values": count,
    }


async def compare_periods(
    deps: Deps,
    metrics: Annotated[
        list[TrendMetric],
        Field(min_length=1, max_length=17, description=f"Metrics to compare. {METRIC_LIST}."),
    ],
    first_start: Annotated[dt.date, Field(description="First period's first day.")],
    first_end: Annotated[dt.date, Field(description="First period's last day.")],
    second_start: Annotated[dt.date, Field(description="Second period's first day.")],
    second_end: Annotated[dt.date, Field(description="Second period's last day.")],
) -> dict[str, Any]:
    """Compares two periods (each at most 366 days) metric by metric: the average over all
    values (heart rate: over all samples), minimum, maximum, days with data, and the change
    of the average from the first period to the second (absolute and percent)."""
    _range(first_start, first_end, MAX_COMPARE_DAYS)
    _range(second_start, second_end, MAX_COMPARE_DAYS)
    comparison = {}
    for metric in dict.fromkeys(metrics):
        first = await _period_stats(deps, metric, first_start, first_end)
        second = await _period_stats(deps, metric, second_start, second_end)
        change = percent = None
        if first["avg"] is not None and second["avg"] is not None:
            change = round(float(second["avg"]) - float(first["avg"]), 3)
            if first["avg"]:
                percent = round(change / float(first["avg"]) * 100, 1)
        comparison[metric] = {
            "first": first,
            "second": second,
            "change": change,
            "percent": percent,
        }
    return _object(
        {
            "first_period": {"start_date": first_start, "end_date": first_end},
            "second_period": {"start_date": second_start, "end_date": second_end},
            "metrics": comparison,
        }
    )


async def latest_summary(deps: Deps) -> dict[str, Any]:
    """The latest day with data: its sleep, activity and readiness scores with their 7- and
    30-day means, steps, HRV, resting heart rate, and the last sync run."""
    return _object(await deps.reader.dashboard())


Tool = Callable[..., Awaitable[dict[str, Any]]]

# Registered in this order. Insights (`GET /api/v1/insights`) will be one more entry here.
TOOLS: tuple[Tool, ...] = (
    list_data_types,
    latest_summary,
    daily_metrics,
    trend,
    activities,
    heart_rate_day,
    compare_periods,
)
