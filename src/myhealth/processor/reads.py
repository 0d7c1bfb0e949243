"""`GET /api/v1/metrics/{type}`: stored documents of one type, verbatim, as one JSON text.

PostgreSQL builds the JSON array itself (`json_agg`), so a large range is never decoded into
Python objects and encoded again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import AsyncConnection

from myhealth.oura.catalog import DataType

_ARCHIVE_DOCUMENTS = """
SELECT coalesce(json_agg(document ORDER BY day, id), '[]')::text
FROM oura_documents
WHERE data_type = %(data_type)s
  AND (%(dated)s IS FALSE OR %(start)s::date IS NULL OR day >= %(start)s::date)
  AND (%(dated)s IS FALSE OR %(end)s::date IS NULL OR day <= %(end)s::date)
"""

# Heart rate lives only in its typed table: rows are rebuilt in Oura's shape.
_HEART_RATE = """
SELECT coalesce(json_agg(json_build_object(
           'bpm', bpm,
           'source', source,
           'timestamp',
           to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00'
       ) ORDER BY "timestamp", source), '[]')::text
FROM heart_rate
WHERE (%(start)s::timestamptz IS NULL OR "timestamp" >= %(start)s::timestamptz)
  AND (%(end)s::timestamptz IS NULL OR "timestamp" < %(end)s::timestamptz)
"""


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


async def documents_json(
    conn: AsyncConnection[Any],
    data_type: DataType,
    start: dt.date | None,
    end: dt.date | None,
) -> str:
    """The JSON array of stored documents of `data_type` whose day is in [start, end]."""
    if data_type.name == "heartrate":
        params: dict[str, Any] = {
            "start": _utc_midnight(start) if start else None,
            "end": _utc_midnight(end + dt.timedelta(days=1)) if end and end < dt.date.max else None,
        }
        cursor = await conn.execute(_HEART_RATE, params)
    else:
        params = {
            "data_type": data_type.name,
            "dated": data_type.day_field is not None,
            "start": start,
            "end": end,
        }
        cursor = await conn.execute(_ARCHIVE_DOCUMENTS, params)
    row = await cursor.fetchone()
    return str(row[0]) if row else "[]"
