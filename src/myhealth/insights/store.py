"""Keeping the stored insights exact as data arrive (docs/architecture.md#insights).

`refresh(conn, first, last)` recomputes what a change of the source data on the days
[first, last] can change: the metric rows of [first, last + 60] (a day's value enters the
baselines of the 60 days after it) and the flag streaks from `first` to the end of each run
that crosses the window. It runs in its own transaction under an advisory lock, after the
batch that changed the data committed: refreshes never interleave, and each one reads every
batch committed before it took the lock, so the last refresh to run leaves the exact result.

The processor calls `refresh_after_batch` after every batch of a type the insights read,
whether or not the batch changed anything: a refresh that failed (the ingest request then
fails too, and the collector sends the batch again) is thereby redone by the retry.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

from myhealth.insights import rules
from myhealth.platform.logging import get_logger

log = get_logger(__name__)

# pg_advisory_xact_lock key of the insights refresh ("insights" in ASCII, as a bigint).
REFRESH_LOCK_KEY = 0x696E_7369_6768_7473
STATEMENT_TIMEOUT_SECONDS = 60

# The Oura types whose documents feed the metrics (through the daily relations).
SOURCE_TYPES = frozenset({"daily_readiness", "sleep", "daily_activity"})
# The typed tables behind them, for the first and last day of all stored data.
_SOURCE_DAYS = """
SELECT min(first), max(last) FROM (
    SELECT min(day), max(day) FROM daily_readiness
    UNION ALL SELECT min(day), max(day) FROM sleep_periods
    UNION ALL SELECT min(day), max(day) FROM daily_activity
) AS bounds(first, last)
"""

_INSERT_METRICS = """
INSERT INTO insight_metrics
       (metric, date, value, history_days, baseline_median, baseline_mad, z_score)
SELECT metric, date, value, history_days, baseline_median, baseline_mad, z_score
FROM jsonb_to_recordset(%s::jsonb) AS incoming(
    metric text, date date, value double precision, history_days integer,
    baseline_median double precision, baseline_mad double precision, z_score double precision)
"""
_INSERT_FLAG_DAYS = """
INSERT INTO insight_flag_days (flag, date, streak_days)
SELECT %s, date, streak_days
FROM jsonb_to_recordset(%s::jsonb) AS incoming(date date, streak_days integer)
"""
# The run that continues after the window: its rows are exactly those whose streak is the
# window's last streak plus their distance from it (after a gap streaks restart lower).
_SHIFT_RUN_AFTER = """
UPDATE insight_flag_days SET streak_days = streak_days + %(shift)s
WHERE flag = %(flag)s AND date > %(end)s AND streak_days = %(old_end)s + (date - %(end)s)
"""


@dataclass(frozen=True)
class Refreshed:
    first: dt.date
    last: dt.date  # the last day whose metric rows were recomputed
    metric_rows: int
    full: bool


async def refresh_after_batch(
    conn: AsyncConnection[Any], data_type: str, days: Iterable[dt.date | None]
) -> Refreshed | None:
    """Refresh the insights after a batch of `data_type` with documents of `days` was stored."""
    if data_type not in SOURCE_TYPES:
        return None
    known = [day for day in days if day is not None]
    if not known:
        return None
    return await refresh(conn, min(known), max(known))


async def rebuild(conn: AsyncConnection[Any]) -> Refreshed | None:
    """Recompute the insights of every stored day (data loaded without the processor)."""
    return await refresh(conn, dt.date.today(), dt.date.today(), full=True)


async def refresh(
    conn: AsyncConnection[Any], first: dt.date, last: dt.date, *, full: bool = False
) -> Refreshed | None:
    """Recompute the insights that source data on [first, last] can change; everything when
    `full`, or when the stored rows were computed by other rules (or never). None when there
    is no data."""
    async with conn.transaction():
        await conn.execute(
            "SELECT set_config('statement_timeout', %s, true), pg_advisory_xact_lock(%s)",
            (f"{STATEMENT_TIMEOUT_SECONDS}s", REFRESH_LOCK_KEY),
        )
        cursor = await conn.execute("SELECT rules_version FROM insight_state")
        state = await cursor.fetchone()
        full = full or state is None or state[0] != rules.RULES_VERSION
        if full:
            cursor = await conn.execute(_SOURCE_DAYS)
            bounds = await cursor.fetchone()
            await conn.execute("DELETE FROM insight_metrics")
            await conn.execute("DELETE FROM insight_flag_days")
            await conn.execute(
                """INSERT INTO insight_state (rules_version) VALUES (%s)
                   ON CONFLICT (singleton) DO UPDATE
                   SET rules_version = EXCLUDED.rules_version, computed_at = now()""",
                (rules.RULES_VERSION,),
            )
            if bounds is None or bounds[0] is None:
                return None
            first, last = bounds
        result = await _recompute(conn, first, last, full)
    log.info(
        "insights refreshed",
        first=result.first.isoformat(),
        last=result.last.isoformat(),
        rows=result.metric_rows,
        full=result.full,
    )
    return result


async def _recompute(
    conn: AsyncConnection[Any], first: dt.date, last: dt.date, full: bool
) -> Refreshed:
    end = last + dt.timedelta(days=rules.BASELINE_DAYS)
    series = await read_series(conn, first - dt.timedelta(days=rules.BASELINE_DAYS), end)
    insights = {name: rules.baselines(series[name], name, first, end) for name in rules.METRICS}
    await conn.execute("DELETE FROM insight_metrics WHERE date BETWEEN %s AND %s", (first, end))
    payload = [
        {
            "metric": row.metric,
            "date": row.date.isoformat(),
            "value": row.value,
            "history_days": row.history_days,
            "baseline_median": row.median,
            "baseline_mad": row.mad,
            "z_score": row.z_score,
        }
        for rows in insights.values()
        for row in rows
    ]
    await conn.execute(_INSERT_METRICS, (json.dumps(payload),))
    for flag in rules.FLAGS.values():
        held = {row.date: flag.condition(row) for row in insights[flag.metric]}
        await _restreak(conn, flag.name, held, first, end)
    return Refreshed(first, end, len(payload), full)


async def _streak_on(conn: AsyncConnection[Any], flag: str, day: dt.date) -> int:
    cursor = await conn.execute(
        "SELECT streak_days FROM insight_flag_days WHERE flag = %s AND date = %s", (flag, day)
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _restreak(
    conn: AsyncConnection[Any],
    flag: str,
    held: dict[dt.date, bool],
    first: dt.date,
    end: dt.date,
) -> None:
    before = await _streak_on(conn, flag, first - dt.timedelta(days=1))
    old_end = await _streak_on(conn, flag, end)
    found = rules.streaks(held, first, end, before)
    await conn.execute(
        "DELETE FROM insight_flag_days WHERE flag = %s AND date BETWEEN %s AND %s",
        (flag, first, end),
    )
    payload = [{"date": day.isoformat(), "streak_days": n} for day, n in found.items()]
    await conn.execute(_INSERT_FLAG_DAYS, (flag, json.dumps(payload)))
    new_end = found.get(end, 0)
    if new_end != old_end:
        await conn.execute(
            _SHIFT_RUN_AFTER,
            {"shift": new_end - old_end, "flag": flag, "end": end, "old_end": old_end},
        )


async def read_series(
    conn: AsyncConnection[Any], first: dt.date, last: dt.date
) -> dict[str, dict[dt.date, float]]:
    """Every metric's non-null values on [first, last], from the daily relations."""
    series: dict[str, dict[dt.date, float]] = {name: {} for name in rules.METRICS}
    by_relation: dict[tuple[str, str], list[rules.Metric]] = {}
    for metric in rules.METRICS.values():
        by_relation.setdefault((metric.relation, metric.date_column), []).append(metric)
    for (relation, date_column), metrics in by_relation.items():
        query = sql.SQL("SELECT {date}, {columns} FROM {relation} WHERE {date} BETWEEN %s AND %s")
        cursor = await conn.execute(
            query.format(
                date=sql.Identifier(date_column),
                columns=sql.SQL(", ").join(sql.Identifier(m.column) for m in metrics),
                relation=sql.Identifier(relation),
            ),
            (first, last),
        )
        for day, *values in await cursor.fetchall():
            for metric, value in zip(metrics, values, strict=True):
                if value is not None:
                    series[metric.name][day] = float(value)
    return series
