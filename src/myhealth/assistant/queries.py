"""The few reads the assistant needs beyond the API's (`myhealth.api.queries.Reader`): what
data exists, and one day of heart rate summarised in SQL. Same READ ONLY transactions and
statement timeout as the API's reads."""

from __future__ import annotations

import datetime as dt
from typing import Any, LiteralString

from myhealth.api.queries import Reader

# A day's samples belong to their date in the owner's time zone (as in the API's trends).
_DAY_SAMPLES: LiteralString = """
    SELECT "timestamp", bpm, source FROM heart_rate
    WHERE "timestamp" >= (%(day)s::date::timestamp AT TIME ZONE %(tz)s)
      AND "timestamp" < ((%(day)s::date + 1)::timestamp AT TIME ZONE %(tz)s)
"""


class AssistantReader(Reader):
    async def coverage(self) -> dict[str, Any]:
        """Documents per stored type with their first and last day, and the heart-rate
        samples' count and first and last instant."""
        types = await self._fetch(
            "SELECT data_type, count(*) AS documents, min(day) AS first_day,"
            " max(day) AS last_day FROM oura_documents GROUP BY data_type ORDER BY data_type",
            {},
        )
        async with self._heavy:
            heart_rate = await self._fetch(
                'SELECT count(*) AS samples, min("timestamp") AS first, max("timestamp") AS last'
                " FROM heart_rate",
                {},
            )
        return {"types": types, "heart_rate": heart_rate[0]}

    async def heart_rate_day(self, day: dt.date, timezone: str) -> dict[str, Any]:
        """One local day of heart rate: overall, per source and per local hour."""
        params = {"day": day, "tz": timezone}
        summary: LiteralString = (
            "SELECT count(*) AS samples, min(bpm) AS min, max(bpm) AS max,"
            ' round(avg(bpm), 1)::float8 AS avg, min("timestamp") AS first,'
            ' max("timestamp") AS last FROM (' + _DAY_SAMPLES + ") AS s"
        )
        by_source: LiteralString = (
            "SELECT source, count(*) AS samples, min(bpm) AS min, max(bpm) AS max,"
            " round(avg(bpm), 1)::float8 AS avg FROM (" + _DAY_SAMPLES + ") AS s"
            " GROUP BY source ORDER BY source"
        )
        by_hour: LiteralString = (
            'SELECT extract(hour FROM "timestamp" AT TIME ZONE %(tz)s)::int AS hour,'
            " count(*) AS samples, min(bpm) AS min, max(bpm) AS max,"
            " round(avg(bpm), 1)::float8 AS avg FROM (" + _DAY_SAMPLES + ") AS s"
            " GROUP BY 1 ORDER BY 1"
        )
        async with self._heavy:
            overall = await self._fetch(summary, params)
            sources = await self._fetch(by_source, params)
            hours = await self._fetch(by_hour, params)
        return {"overall": overall[0], "by_source": sources, "by_hour": hours}
