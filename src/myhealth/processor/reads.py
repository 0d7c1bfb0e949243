"""`GET /api/v1/metrics/{type}`: stored documents of one type, verbatim, as one JSON text.

PostgreSQL builds the JSON array itself (`json_agg`), so a large range is never decoded into
Python objects and encoded again. Every read runs under `READ_STATEMENT_TIMEOUT_MS`, and heart
rate (about 100,000 samples a year) comes in pages of at most `HEART_RATE_PAGE_MAX` samples
with an opaque `next_cursor` (an unbounded answer was 85 MB).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
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

READ_STATEMENT_TIMEOUT_MS = 15_000
HEART_RATE_PAGE_MAX = 50_000  # about 4 MB of JSON

# Heart rate lives only in its typed table: rows are rebuilt in Oura's shape, one page at a
# time (one row more than the page tells whether another page follows).
_HEART_RATE = """
WITH page AS (
    SELECT "timestamp", source, bpm,
           row_number() OVER (ORDER BY "timestamp", source) AS n
    FROM (SELECT "timestamp", source, bpm FROM heart_rate
          WHERE (%(start)s::timestamptz IS NULL OR "timestamp" >= %(start)s::timestamptz)
            AND (%(end)s::timestamptz IS NULL OR "timestamp" < %(end)s::timestamptz)
            AND (%(after_ts)s::timestamptz IS NULL
                 OR ("timestamp", source) > (%(after_ts)s::timestamptz, %(after_source)s::text))
          ORDER BY "timestamp", source
          LIMIT %(limit)s + 1) AS rows
)
SELECT coalesce(json_agg(json_build_object(
           'bpm', bpm,
           'source', source,
           'timestamp',
           to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00'
       ) ORDER BY "timestamp", source) FILTER (WHERE n <= %(limit)s), '[]')::text,
       count(*) > %(limit)s,
       (max("timestamp") FILTER (WHERE n = %(limit)s))::text,
       max(source) FILTER (WHERE n = %(limit)s)
FROM page
"""


class InvalidCursor(ValueError):
    pass


def encode_cursor(timestamp: str, source: str) -> str:
    """Opaque to clients; PostgreSQL's own text of the timestamp, exact to the microsecond."""
    raw = json.dumps({"t": timestamp, "s": source}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """(timestamp, source) of the last sample of the previous page."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
        timestamp, source = fields["t"], fields["s"]
        dt.datetime.fromisoformat(timestamp)  # validated here: a bad one is a 422, not a 500
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise InvalidCursor("invalid cursor: use the next_cursor of the previous page") from exc
    if not isinstance(timestamp, str) or not isinstance(source, str):
        raise InvalidCursor("invalid cursor: use the next_cursor of the previous page")
    return timestamp, source


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


async def documents_json(
    conn: AsyncConnection[Any],
    data_type: DataType,
    start: dt.date | None,
    end: dt.date | None,
    *,
    limit: int = HEART_RATE_PAGE_MAX,
    after: str | None = None,
) -> tuple[str, str | None]:
    """The JSON array of stored documents of `data_type` whose day is in [start, end], and
    the cursor of the next page (heart rate only: `limit` samples after `after`)."""
    await conn.execute(f"SET LOCAL statement_timeout = {int(READ_STATEMENT_TIMEOUT_MS)}")
    if data_type.name == "heartrate":
        after_ts, after_source = decode_cursor(after) if after else (None, None)
        params: dict[str, Any] = {
            "start": _utc_midnight(start) if start else None,
            "end": _utc_midnight(end + dt.timedelta(days=1)) if end and end < dt.date.max else None,
            "after_ts": after_ts,
            "after_source": after_source,
            "limit": limit,
        }
        cursor = await conn.execute(_HEART_RATE, params)
        found = await cursor.fetchone()
        assert found is not None  # an aggregate always answers one row
        documents, more, last_timestamp, last_source = found
        following = encode_cursor(last_timestamp, last_source) if more else None
        return str(documents), following
    else:
        params = {
            "data_type": data_type.name,
            "dated": data_type.day_field is not None,
            "start": start,
            "end": end,
        }
        cursor = await conn.execute(_ARCHIVE_DOCUMENTS, params)
    row = await cursor.fetchone()
    return (str(row[0]) if row else "[]"), None
