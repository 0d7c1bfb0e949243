"""Date-window semantics: which documents a `start_date`/`end_date` query matches, per the
collection's semantics switch (docs/oura-api.md#date-windows)."""

from __future__ import annotations

import datetime as dt

from myhealth.oura.catalog import DATA_TYPES
from myhealth.sandbox.generator import Document
from myhealth.sandbox.responses import parse_time
from myhealth.sandbox.state import DateSemantics

LOOKAROUND = dt.timedelta(days=2)  # candidate days beyond the window (UTC skew, bedtimes)

# The document field used by exclusive/utc date semantics, and the day field.
TIME_FIELD = {
    "daily_activity": "timestamp",
    "daily_readiness": "timestamp",
    "daily_sleep": "timestamp",
    "enhanced_tag": "start_time",
    "rest_mode_period": "start_time",
    "session": "start_datetime",
    "sleep": "bedtime_start",
    "tag": "timestamp",
    "vo2_max": "timestamp",
    "workout": "start_datetime",
}


def shifted(day: dt.date, delta: dt.timedelta) -> dt.date:
    """`day + delta`, saturating at the ends of the calendar (Oura accepts year 0024)."""
    try:
        return day + delta
    except OverflowError:
        return dt.date.min if delta < dt.timedelta() else dt.date.max


def matches(
    semantics: DateSemantics,
    data_type: str,
    doc: Document,
    start: dt.datetime,
    end: dt.datetime,
) -> bool:
    """Whether `doc` falls in the window [start, end] / [start, end) under `semantics`."""
    day_field = DATA_TYPES[data_type].day_field or "day"
    if semantics == "inclusive":
        day = dt.date.fromisoformat(doc[day_field])
        return start.date() <= day <= end.date()
    field = TIME_FIELD.get(data_type)
    moment = (
        parse_time(doc[field])
        if field and isinstance(doc.get(field), str)
        else dt.datetime.combine(dt.date.fromisoformat(doc[day_field]), dt.time(), dt.UTC)
    )
    if semantics == "utc":
        moment = moment.astimezone(dt.UTC)
    # A bound without an offset is read in the document's own offset (local wall time).
    low = start if start.tzinfo else start.replace(tzinfo=moment.tzinfo)
    high = end if end.tzinfo else end.replace(tzinfo=moment.tzinfo)
    return low <= moment < high


def bounds(
    start: dt.datetime | dt.date | None, end: dt.datetime | dt.date | None, today: dt.date
) -> tuple[dt.datetime, dt.datetime]:
    def as_datetime(value: dt.datetime | dt.date) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        return dt.datetime.combine(value, dt.time())

    high = as_datetime(end) if end is not None else as_datetime(today + dt.timedelta(days=1))
    low = as_datetime(start) if start is not None else high - dt.timedelta(days=1)
    return low, high


def comparable(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
