"""Which day a document belongs to: one rule for the collector, the processor and the API.

A document's day is its `day_field` (`day`, or `start_day` for tags and rest-mode periods);
for heart rate, which has no day field, it is the UTC date of `timestamp`, a timestamp without
an offset being read as UTC. Undated types (`personal_info`, `ring_configuration`) have none.
The processor stores this day in `oura_documents.day`, which the API's range filters read, and
the collector reports progress with it, so all three agree on every document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from myhealth.oura.catalog import DataType


def as_utc(instant: dt.datetime) -> dt.datetime:
    """`instant` in UTC; a naive datetime is taken to be UTC already."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(dt.UTC)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return as_utc(value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _as_instant(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def document_day(data_type: DataType, document: Mapping[str, Any] | object) -> dt.date | None:
    """The day of `document` (a raw JSON object or a validated model), or None when it is
    undated or its day cannot be read."""

    def field(name: str) -> Any:
        if isinstance(document, Mapping):
            return document.get(name)
        return getattr(document, name, None)

    if data_type.day_field is not None:
        return _as_date(field(data_type.day_field))
    if data_type.window == "datetime":
        instant = _as_instant(field("timestamp"))
        return as_utc(instant).date() if instant is not None else None
    return None
