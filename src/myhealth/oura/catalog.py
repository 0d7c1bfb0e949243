"""The Oura data types myHealth collects: one entry each, the single source of truth.

Product-wide names (`--data-types`, the ingest `data_type`, processor routes) are the keys of
`DATA_TYPES`; `route` is the Oura v2 usercollection path segment (note `vO2_max`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How a collection is windowed on the Oura side:
#   date      start_date/end_date (YYYY-MM-DD), inclusive/exclusive rules vary per collection
#   datetime  start_datetime/end_datetime (heart rate)
#   none      no window (ring_configuration pages through everything; personal_info is one object)
Window = Literal["date", "datetime", "none"]


@dataclass(frozen=True)
class DataType:
    name: str
    route: str
    table: str
    window: Window
    key: tuple[str, ...] = ("id",)
    day_field: str | None = "day"  # the document field that says which day it belongs to
    single_document_route: bool = True  # GET .../{route}/{document_id} exists
    wrapped: bool = True  # list envelope {data, next_token}; personal_info is a bare object


_ALL = [
    DataType("daily_activity", "daily_activity", "daily_activity", "date"),
    DataType(
        "daily_cardiovascular_age",
        "daily_cardiovascular_age",
        "daily_cardiovascular_age",
        "date",
        key=("day",),
    ),
    DataType("daily_readiness", "daily_readiness", "daily_readiness", "date"),
    DataType("daily_resilience", "daily_resilience", "daily_resilience", "date"),
    DataType("daily_sleep", "daily_sleep", "daily_sleep", "date"),
    DataType("daily_spo2", "daily_spo2", "daily_spo2", "date"),
    DataType("daily_stress", "daily_stress", "daily_stress", "date"),
    DataType("enhanced_tag", "enhanced_tag", "enhanced_tags", "date", day_field="start_day"),
    DataType(
        "heartrate",
        "heartrate",
        "heart_rate",
        "datetime",
        key=("timestamp", "source"),
        day_field=None,  # the UTC date of `timestamp`
        single_document_route=False,
    ),
    DataType(
        "personal_info",
        "personal_info",
        "personal_info",
        "none",
        day_field=None,
        single_document_route=False,
        wrapped=False,
    ),
    DataType(
        "rest_mode_period", "rest_mode_period", "rest_mode_periods", "date", day_field="start_day"
    ),
    DataType(
        "ring_configuration", "ring_configuration", "ring_configurations", "none", day_field=None
    ),
    DataType("session", "session", "sessions", "date"),
    DataType("sleep", "sleep", "sleep_periods", "date"),
    DataType("sleep_time", "sleep_time", "sleep_time", "date"),
    DataType("tag", "tag", "tags", "date"),
    DataType("vo2_max", "vO2_max", "vo2_max", "date"),
    DataType("workout", "workout", "workouts", "date"),
]

DATA_TYPES: dict[str, DataType] = {data_type.name: data_type for data_type in _ALL}
ALL_NAMES: tuple[str, ...] = tuple(DATA_TYPES)


def parse_names(value: str | None) -> list[DataType]:
    """Parse a `--data-types` value; raise ValueError naming unknown types."""
    if value is None or value.strip() == "":
        return list(_ALL)
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in DATA_TYPES]
    if unknown:
        raise ValueError(
            f"unknown data type(s): {', '.join(unknown)} (known: {', '.join(ALL_NAMES)})"
        )
    return [DATA_TYPES[name] for name in dict.fromkeys(names)]
