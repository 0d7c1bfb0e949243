"""Set-based SQL over the daily relations, the heart-rate table and the document archive.

Every query runs in a READ ONLY transaction with a statement timeout (session defaults of
each pooled connection, set on its first use; one statement per transaction), so the service
works with a read-only database role and a slow query cannot pin a pooled connection. Trends are
aggregated by PostgreSQL (`date_trunc`), never in Python loops. The heart-rate trend reads the
daily rollup when it was built for the API's USER_TIMEZONE, else the samples (same answer,
docs/architecture.md#the-daily-heart-rate-rollup).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

from myhealth.insights import report
from myhealth.platform.logging import get_logger

log = get_logger(__name__)

DAILY_COLUMNS: dict[str, tuple[str, ...]] = {
    "sleep_metrics": (
        "date",
        "score",
        "duration_seconds",
        "efficiency",
        "latency_minutes",
        "deep_sleep_seconds",
        "light_sleep_seconds",
        "rem_sleep_seconds",
        "average_hrv",
        "lowest_heart_rate",
    ),
    "activity_metrics": (
        "date",
        "score",
        "steps",
        "calories",
        "active_calories",
        "active_minutes",
    ),
    "readiness_metrics": ("date", "score", "hrv", "resting_hr", "temperature_deviation"),
}


@dataclass(frozen=True)
class TrendSource:
    """Where a trend metric's values live: a daily relation's column, or heart-rate samples."""

    relation: str
    column: str
    description: str


HEART_RATE = "heart_rate"

TREND_METRICS: dict[str, TrendSource] = {
    "sleep_score": TrendSource("sleep_metrics", "score", "daily sleep score"),
    "sleep_duration": TrendSource("sleep_metrics", "duration_seconds", "total sleep, seconds"),
    "sleep_efficiency": TrendSource("sleep_metrics", "efficiency", "sleep efficiency, percent"),
    "sleep_latency": TrendSource("sleep_metrics", "latency_minutes", "sleep latency, minutes"),
    "deep_sleep": TrendSource("sleep_metrics", "deep_sleep_seconds", "deep sleep, seconds"),
    "light_sleep": TrendSource("sleep_metrics", "light_sleep_seconds", "light sleep, seconds"),
    "rem_sleep": TrendSource("sleep_metrics", "rem_sleep_seconds", "REM sleep, seconds"),
    "activity_score": TrendSource("activity_metrics", "score", "daily activity score"),
    "steps": TrendSource("activity_metrics", "steps", "steps per day"),
    "calories": TrendSource("activity_metrics", "calories", "total calories, kcal"),
    "active_calories": TrendSource("activity_metrics", "active_calories", "active kcal"),
    "active_minutes": TrendSource("activity_metrics", "active_minutes", "active minutes"),
    "readiness_score": TrendSource("readiness_metrics", "score", "daily readiness score"),
    "hrv": TrendSource("readiness_metrics", "hrv", "HRV of the main sleep, ms"),
    "resting_hr": TrendSource("readiness_metrics", "resting_hr", "resting heart rate, bpm"),
    "temperature_deviation": TrendSource(
        "readiness_metrics", "temperature_deviation", "temperature deviation, °C"
    ),
    "heart_rate": TrendSource(HEART_RATE, "bpm", "heart-rate samples, bpm"),
}


# The heart-rate trend from the daily rollup, with the zone the rollup is for (one statement,
# so one snapshot: a rebuild committing meanwhile cannot mix zones). No row: never built; a
# zone other than %(tz)s: one row of NULL points. The numbers equal the samples' because
# avg(integer) is sum / count in numeric, and the rollup keeps both exactly.
_HEART_RATE_ROLLUP_TREND: LiteralString = """
    SELECT z.timezone AS rollup_zone, t.start, t.avg, t.min, t.max, t.count
    FROM heart_rate_daily_zone AS z
    LEFT JOIN LATERAL (
        SELECT date_trunc(%(bucket)s, day::timestamp)::date AS start,
               (sum(bpm_sum) / sum(samples))::float8 AS avg, min(bpm_min)::float8 AS min,
               max(bpm_max)::float8 AS max, sum(samples)::bigint AS count
        FROM heart_rate_daily
        WHERE day BETWEEN %(start)s AND %(end)s AND z.timezone = %(tz)s
        GROUP BY 1) AS t ON true
    WHERE z.only_row  -- the key: the planner then knows there is one row at most
    ORDER BY t.start
"""
_POINT_KEYS = ("start", "avg", "min", "max", "count")

# Of the pool's 10 connections, at most this many serve heavy reads at once.
HEAVY_QUERY_LIMIT = 4


class Reader:
    """The API's read access to PostgreSQL, through a connection pool."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        statement_timeout_ms: int,
        heavy_queries: int = HEAVY_QUERY_LIMIT,
    ) -> None:
        self.pool = pool
        # Heavy reads (heart-rate trends: up to years of samples) wait for one of a few slots,
        # so a burst of them never takes every pooled connection from the cheap requests.
        self._heavy = asyncio.Semaphore(heavy_queries)
        self._statement_timeout = f"{int(statement_timeout_ms)}ms"
        self._configured: weakref.WeakSet[AsyncConnection] = weakref.WeakSet()
        self._reported_zone: str | None = None

    async def _fetch(
        self,
        query: sql.Composed | sql.SQL | LiteralString,
        params: dict[str, Any],
        row_factory: Any = dict_row,
    ) -> list[Any]:
        used: AsyncConnection | None = None
        try:
            async with self.pool.connection() as conn:
                used = conn
                return await self._run(conn, query, params, row_factory)
        except psycopg.OperationalError:
            if used is None or not used.broken:  # a timeout, the database refusing: not ours
                raise
        # The connection was dead (the database restarted since it was last used; the pool
        # does not check connections on checkout, a round trip each): replace every idle one
        # that is dead too, then read once more on a fresh connection. Reads are idempotent.
        await self.pool.check()
        async with self.pool.connection() as conn:
            return await self._run(conn, query, params, row_factory)

    async def _run(
        self,
        conn: AsyncConnection,
        query: sql.Composed | sql.SQL | LiteralString,
        params: dict[str, Any],
        row_factory: Any = dict_row,
    ) -> list[Any]:
        if conn not in self._configured:
            await self._configure(conn)
        cursor = conn.cursor(row_factory=row_factory)
        await cursor.execute(query, params)
        return await cursor.fetchall()

    async def _configure(self, conn: AsyncConnection) -> None:
        """Make every statement on `conn` its own READ ONLY transaction with the statement
        timeout: session defaults set once per connection, so a read is one round trip
        (BEGIN, settings, query and COMMIT were four; on a busy machine each round trip is
        two processes waiting for a CPU)."""
        await conn.set_autocommit(True)
        # No JIT: these reads take milliseconds, and compiling costs tens of them whenever
        # a row estimate is off (seen: 28 ms of JIT for a 0.2 ms rollup read).
        await conn.execute(
            "SELECT set_config('default_transaction_read_only', 'on', false),"
            " set_config('statement_timeout', %s, false), set_config('jit', 'off', false)",
            (self._statement_timeout,),
        )
        self._configured.add(conn)

    async def daily(self, relation: str, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        """Rows of one daily relation with `date` in [start, end], ordered by date."""
        columns = DAILY_COLUMNS[relation]
        query = sql.SQL(
            "SELECT {columns} FROM {relation}"
            " WHERE date BETWEEN %(start)s AND %(end)s ORDER BY date"
        ).format(
            columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            relation=sql.Identifier(relation),
        )
        return await self._fetch(query, {"start": start, "end": end})

    async def trend(
        self, metric: str, bucket: str, start: dt.date, end: dt.date, timezone: str
    ) -> list[dict[str, Any]]:
        """avg/min/max/count per calendar bucket (weeks start on Monday), empty buckets left out."""
        source = TREND_METRICS[metric]
        query: sql.Composed | sql.SQL
        if source.relation == HEART_RATE:
            # Samples belong to their date in the owner's time zone; the range is turned into
            # UTC instants so the primary-key index on "timestamp" is used.
            query = sql.SQL(
                """
                SELECT date_trunc(%(bucket)s, local_day::timestamp)::date AS start,
                       avg(bpm)::float8 AS avg, min(bpm)::float8 AS min,
                       max(bpm)::float8 AS max, count(bpm) AS count
                FROM (SELECT ("timestamp" AT TIME ZONE %(tz)s)::date AS local_day, bpm
                      FROM heart_rate
                      WHERE "timestamp" >= (%(start)s::date::timestamp AT TIME ZONE %(tz)s)
                        AND "timestamp" < ((%(end)s::date + 1)::timestamp AT TIME ZONE %(tz)s)
                     ) AS samples
                GROUP BY 1 ORDER BY 1
                """
            )
        else:
            query = sql.SQL(
                """
                SELECT date_trunc(%(bucket)s, date::timestamp)::date AS start,
                       avg({column})::float8 AS avg, min({column})::float8 AS min,
                       max({column})::float8 AS max, count({column}) AS count
                FROM {relation}
                WHERE date BETWEEN %(start)s AND %(end)s AND {column} IS NOT NULL
                GROUP BY 1 ORDER BY 1
                """
            ).format(column=sql.Identifier(source.column), relation=sql.Identifier(source.relation))
        params = {"bucket": bucket, "start": start, "end": end, "tz": timezone}
        if source.relation == HEART_RATE:
            rows = await self._heart_rate_rollup_trend(params)
            if rows is not None:
                return rows
            async with self._heavy:
                return await self._fetch(query, params)
        return await self._fetch(query, params)

    async def _heart_rate_rollup_trend(self, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The heart-rate trend from the daily rollup; None when the rollup is not built for
        `params["tz"]` (never serve days of another zone: the caller reads the samples)."""
        rows = await self._fetch(_HEART_RATE_ROLLUP_TREND, params, row_factory=tuple_row)
        zone = rows[0][0] if rows else None
        if zone == params["tz"]:
            # (zone, start, avg, min, max, count): one dict per point, the zone left out.
            return [dict(zip(_POINT_KEYS, row[1:], strict=True)) for row in rows if row[1]]
        if zone != self._reported_zone:  # once per zone seen, not once per request
            self._reported_zone = zone
            log.warning(
                "the daily heart-rate rollup is not for USER_TIMEZONE: reading the samples "
                "(slower); give the processor the same USER_TIMEZONE",
                rollup_timezone=zone,
                user_timezone=params["tz"],
            )
        return None

    async def documents(
        self,
        data_type: str,
        dated: bool,
        start: dt.date,
        end: dt.date,
        after: tuple[dt.date | None, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Up to `limit` stored documents of one type after the key `after`, ordered by
        (day, id): `day`, `id` and `document`, the jsonb as JSON text (never re-modelled).
        Undated types ignore the range and are ordered by id."""
        # Separate literal queries, not `param IS NULL OR …`, so each keeps its index range scan.
        query: LiteralString
        if dated:
            query = (
                "SELECT day, id, document::text AS document FROM oura_documents"
                " WHERE data_type = %(type)s AND day BETWEEN %(start)s AND %(end)s"
                " AND deleted_at IS NULL"  # deleted at Oura: archived, not served
            )
            if after is not None:
                query += " AND (day, id) > (%(after_day)s::date, %(after_id)s::text)"
            query += " ORDER BY day, id LIMIT %(limit)s"
        else:
            query = (
                "SELECT day, id, document::text AS document FROM oura_documents"
                " WHERE data_type = %(type)s AND deleted_at IS NULL"
            )
            if after is not None:
                query += " AND id > %(after_id)s::text"
            query += " ORDER BY id LIMIT %(limit)s"
        params = {
            "type": data_type,
            "start": start,
            "end": end,
            "after_day": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        }
        return await self._fetch(query, params)

    async def heart_rate(
        self,
        start: dt.datetime,
        end: dt.datetime,
        after: tuple[dt.datetime, str] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Up to `limit` samples with start <= timestamp < end after the key `after`, ordered
        by (timestamp, source), the primary key."""
        query: LiteralString = (
            'SELECT "timestamp", bpm, source FROM heart_rate'
            ' WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s'
        )
        if after is not None:
            query += (
                ' AND ("timestamp", source) > (%(after_ts)s::timestamptz, %(after_source)s::text)'
            )
        query += ' ORDER BY "timestamp", source LIMIT %(limit)s'
        params = {
            "start": start,
            "end": end,
            "after_ts": after[0] if after else None,
            "after_source": after[1] if after else None,
            "limit": limit,
        }
        async with self._heavy:  # a page is up to 10000 samples: a heavy read
            return await self._fetch(query, params)

    async def dashboard(self) -> dict[str, Any]:
        """The latest date, its scores with 7/30-day means, and the most recent collector run.

        The latest date comes from the tables' day indexes (the days the three daily views
        have: daily_sleep, main sleep periods, daily_activity, daily_readiness), and each
        view is read through a range on the scalar date, which reaches the views' day
        indexes; a join condition alone would not, and every view would be read whole."""
        query: LiteralString = """
            WITH latest AS (
                SELECT greatest(
                    (SELECT max(day) FROM daily_sleep),
                    (SELECT max(day) FROM sleep_periods WHERE type IN ('long_sleep', 'sleep')),
                    (SELECT max(day) FROM daily_activity),
                    (SELECT max(day) FROM daily_readiness)) AS date),
            sleep AS (
                SELECT max(s.score) FILTER (WHERE s.date = l.date) AS score,
                       avg(s.score) FILTER (WHERE s.date > l.date - 7)::float8 AS avg_7d,
                       avg(s.score)::float8 AS avg_30d
                FROM latest AS l JOIN sleep_metrics AS s
                  ON s.date BETWEEN l.date - 29 AND l.date
                WHERE s.date BETWEEN (SELECT date FROM latest) - 29
                                  AND (SELECT date FROM latest)),
            activity AS (
                SELECT max(a.score) FILTER (WHERE a.date = l.date) AS score,
                       avg(a.score) FILTER (WHERE a.date > l.date - 7)::float8 AS avg_7d,
                       avg(a.score)::float8 AS avg_30d,
                       max(a.steps) FILTER (WHERE a.date = l.date) AS steps
                FROM latest AS l JOIN activity_metrics AS a
                  ON a.date BETWEEN l.date - 29 AND l.date
                WHERE a.date BETWEEN (SELECT date FROM latest) - 29
                                  AND (SELECT date FROM latest)),
            readiness AS (
                SELECT max(r.score) FILTER (WHERE r.date = l.date) AS score,
                       avg(r.score) FILTER (WHERE r.date > l.date - 7)::float8 AS avg_7d,
                       avg(r.score)::float8 AS avg_30d,
                       max(r.hrv) FILTER (WHERE r.date = l.date) AS hrv,
                       max(r.resting_hr) FILTER (WHERE r.date = l.date) AS resting_hr
                FROM latest AS l JOIN readiness_metrics AS r
                  ON r.date BETWEEN l.date - 29 AND l.date
                WHERE r.date BETWEEN (SELECT date FROM latest) - 29
                                  AND (SELECT date FROM latest)),
            last_run AS (
                SELECT finished_at, status, cardinality(data_types) AS data_types
                FROM sync_runs ORDER BY started_at DESC, run_id DESC LIMIT 1)
            SELECT latest.date,
                   sleep.score AS sleep_score, sleep.avg_7d AS sleep_avg_7d,
                   sleep.avg_30d AS sleep_avg_30d,
                   activity.score AS activity_score, activity.avg_7d AS activity_avg_7d,
                   activity.avg_30d AS activity_avg_30d, activity.steps AS activity_steps,
                   readiness.score AS readiness_score, readiness.avg_7d AS readiness_avg_7d,
                   readiness.avg_30d AS readiness_avg_30d, readiness.hrv AS readiness_hrv,
                   readiness.resting_hr AS readiness_resting_hr,
                   last_run.status AS last_sync_status,
                   last_run.finished_at AS last_sync_finished_at,
                   last_run.data_types AS last_sync_data_types
            FROM latest CROSS JOIN sleep CROSS JOIN activity CROSS JOIN readiness
            LEFT JOIN last_run ON true
        """
        rows = await self._fetch(query, {})
        row: dict[str, Any] = rows[0]
        return row

    async def insights(
        self, date: dt.date | None
    ) -> tuple[dt.date | None, list[dict[str, Any]], list[dict[str, Any]]]:
        """The stored insights of `date` (default: the latest night, see
        `myhealth.insights.report.LATEST_DAY`): its metric rows and its flag streaks."""
        async with self.pool.connection() as conn:
            if date is None:
                found = await self._run(
                    conn, report.LATEST_DAY, {"nightly": report.NIGHTLY_METRICS}
                )
                date = found[0]["date"]
                if date is None:
                    return None, [], []
            params = {"date": date}
            metrics = await self._run(
                conn,
                "SELECT metric, value, history_days, baseline_median, baseline_mad, z_score"
                " FROM insight_metrics WHERE date = %(date)s",
                params,
            )
            flags = await self._run(
                conn,
                "SELECT flag, streak_days FROM insight_flag_days WHERE date = %(date)s",
                params,
            )
        return date, metrics, flags
