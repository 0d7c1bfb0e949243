"""Request and response bodies of the public API; they are also its OpenAPI schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.config import JsonDict

from myhealth.insights import rules as insight_rules


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorResponse(_Model):
    detail: str = Field(description="What went wrong, in one sentence.")


class LoginRequest(_Model):
    api_key: str = Field(min_length=1, max_length=512, description="The owner's API key.")


class TokenResponse(_Model):
    access_token: str = Field(description="HS256 JWT; send it as `Authorization: Bearer …`.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int = Field(description="Seconds until the token expires (JWT_TTL_SECONDS).")


class SleepDay(_Model):
    date: dt.date
    score: int | None = Field(description="Daily sleep score (0-100).")
    duration_seconds: int | None = Field(description="Total sleep of the main sleep period.")
    efficiency: int | None = Field(description="Sleep efficiency in percent.")
    latency_minutes: int | None = Field(description="Time to fall asleep, in minutes.")
    deep_sleep_seconds: int | None
    light_sleep_seconds: int | None
    rem_sleep_seconds: int | None
    average_hrv: int | None = Field(description="Average HRV during the main sleep, in ms.")
    lowest_heart_rate: int | None = Field(description="Lowest heart rate of the night, in bpm.")


class ActivityDay(_Model):
    date: dt.date
    score: int | None = Field(description="Daily activity score (0-100).")
    steps: int | None
    calories: int | None = Field(description="Total calories burned (kcal).")
    active_calories: int | None = Field(description="Calories burned by activity (kcal).")
    active_minutes: int | None = Field(description="Medium plus high activity, in minutes.")


class ReadinessDay(_Model):
    date: dt.date
    score: int | None = Field(description="Daily readiness score (0-100).")
    hrv: int | None = Field(description="Average HRV of the main sleep, in ms.")
    resting_hr: int | None = Field(description="Lowest heart rate of the main sleep, in bpm.")
    temperature_deviation: float | None = Field(description="Deviation from baseline, in °C.")


class SleepSeries(_Model):
    data: list[SleepDay]


class ActivitySeries(_Model):
    data: list[ActivityDay]


class ReadinessSeries(_Model):
    data: list[ReadinessDay]


class ScoreSummary(_Model):
    score: int | None = Field(description="The score on the dashboard's date.")
    avg_7d: float | None = Field(description="Mean of the non-null scores, 7 days to the date.")
    avg_30d: float | None = Field(description="Mean of the non-null scores, 30 days to the date.")


class ActivitySummary(ScoreSummary):
    steps: int | None


class ReadinessSummary(ScoreSummary):
    hrv: int | None = Field(description="HRV in ms on the date.")
    resting_hr: int | None = Field(description="Resting heart rate in bpm on the date.")


class LastSync(_Model):
    finished_at: dt.datetime | None = Field(description="ISO 8601, UTC; null while running.")
    status: Literal["succeeded", "failed", "running"]
    data_types: int = Field(description="How many data types the run covered.")


class Dashboard(_Model):
    date: dt.date | None = Field(description="The latest date in the three daily relations.")
    sleep: ScoreSummary
    activity: ActivitySummary
    readiness: ReadinessSummary
    last_sync: LastSync | None = Field(description="The most recent collector run, if any.")


Bucket = Literal["day", "week", "month"]


class TrendPoint(_Model):
    start: dt.date = Field(description="Calendar start of the bucket (the day, Monday, or 1st).")
    avg: float
    min: float
    max: float
    count: int = Field(description="Non-null values in the bucket (days, or heart-rate samples).")


class Trend(_Model):
    metric: str
    bucket: Bucket
    points: list[TrendPoint]


class Status(_Model):
    status: str = Field(description="`ok`, `ready`, or why the service is not ready.")


NEXT_CURSOR = (
    "Pass as `cursor`, with the same other parameters, for the next page; null on the last page."
)


class DocumentPage(_Model):
    data: list[dict[str, Any]] = Field(
        description="Stored documents as Oura sent them (latest version), ordered by day, then id."
    )
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class HeartRateSample(_Model):
    timestamp: dt.datetime = Field(description="When the sample was taken (ISO 8601, UTC).")
    bpm: int = Field(description="Beats per minute.")
    source: str = Field(description="Oura's `source` (e.g. `awake`, `rest`, `sleep`).")


class HeartRatePage(_Model):
    data: list[HeartRateSample] = Field(description="Samples ordered by timestamp, then source.")
    next_cursor: str | None = Field(description=NEXT_CURSOR)


def _enum(values: Iterable[str]) -> JsonDict:
    """The allowed values of a string field, for the OpenAPI document."""
    choices: list[JsonValue] = list(values)
    return {"enum": choices}


class MetricInsight(_Model):
    metric: str = Field(description="The metric.", json_schema_extra=_enum(insight_rules.METRICS))
    unit: str = Field(
        description="Unit of `value`, `baseline_median` and `baseline_mad`.",
        json_schema_extra=_enum(sorted({m.unit for m in insight_rules.METRICS.values()})),
    )
    value: float = Field(description="The day's value.")
    history_days: int = Field(description="Days with a value among the 60 days before.")
    baseline_median: float | None = Field(
        description="Median of those days; null with fewer than 14 (no judgement yet)."
    )
    baseline_mad: float | None = Field(
        description="Median absolute deviation from that median; null like the median."
    )
    z_score: float | None = Field(
        description=(
            "(value - median) / (1.4826 x MAD); null without a baseline, or when MAD is 0 "
            "and the value differs from the median (0 when it equals it)."
        )
    )


class FlagInsight(_Model):
    flag: str = Field(description="The flag's name.", json_schema_extra=_enum(insight_rules.FLAGS))
    metric: str = Field(
        description="The metric the flag judges.",
        json_schema_extra=_enum(insight_rules.METRICS),
    )
    streak_days: int = Field(description="Consecutive days its condition has held, to `date`.")
    required_days: int = Field(description="Consecutive days that raise the flag.")
    rule: str = Field(description="The flag's rule in words.")
    explanation: str = Field(description="The day's flag in plain words, with the numbers.")


class Insights(_Model):
    date: dt.date = Field(description="The day described.")
    metrics: list[MetricInsight] = Field(description="Every metric with a value on `date`.")
    flags: list[FlagInsight] = Field(description="The flags raised on `date`.")
