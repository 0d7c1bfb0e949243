"""Metrics read from the database at scrape time.

The collector is a CronJob that cannot be scraped after it exits, so the long-running
processor reports what the collector left in the database (`sync_runs`, `sync_run_types`) and
how fresh the stored data is. `/metrics` first awaits `refresh()` (bounded by a short timeout,
on the service's pool); `collect()` then yields the last snapshot that was read successfully,
so a slow or unreachable database makes a scrape neither hang nor fail. Whether the refresh
worked says nothing about `myhealth_db_up`: that comes from a ping alone.

Each query costs the same whatever the length of the collector's history: Oura request and
retry counters are running totals kept by a trigger (`collector_totals`, migration 0004), the
"latest" lookups are index probes, and the collector prunes runs older than
`SYNC_RUN_RETENTION_DAYS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from psycopg_pool import AsyncConnectionPool

from myhealth.insights import report as insight_report
from myhealth.insights import rules as insight_rules
from myhealth.oura.catalog import ALL_NAMES, DATA_TYPES
from myhealth.platform.logging import get_logger

REFRESH_TIMEOUT_SECONDS = 2.0
RUN_STATUSES = ("running", "succeeded", "failed")
RETRY_REASONS = ("rate_limited", "server_error", "timeout")

_DATED_TYPES = [name for name, t in DATA_TYPES.items() if t.day_field is not None]

# Every query below is an index probe per label value (or reads a small table), so a scrape
# costs the same after a year of five-minute runs as after one (migration 0004). Dates become
# epoch seconds inside PostgreSQL: a stored day past year 9999 cannot be a Python date, and
# must not break the refresh.
_NEWEST_DAY = """
SELECT data_type,
       extract(epoch FROM (SELECT max(day) FROM oura_documents d
                           WHERE d.data_type = types.data_type)::timestamp)::float8
FROM unnest(%s::text[]) AS types(data_type)
UNION ALL
SELECT 'heartrate',
       extract(epoch FROM date_trunc('day', (SELECT max("timestamp") FROM heart_rate)
                                             AT TIME ZONE 'UTC'))::float8
"""
_LAST_SUCCESS = """
SELECT data_type,
       extract(epoch FROM (SELECT max(finished_at) FROM sync_run_types t
                           WHERE t.data_type = types.data_type AND t.status = 'succeeded'
                             AND t.finished_at IS NOT NULL))::float8
FROM unnest(%s::text[]) AS types(data_type)
"""
_LAST_RUN = """
SELECT status,
       extract(epoch FROM (SELECT max(coalesce(finished_at, started_at)) FROM sync_runs r
                           WHERE r.status = statuses.status))::float8
FROM unnest(ARRAY['succeeded', 'failed']) AS statuses(status)
"""
_RUNS_24H = """
SELECT status, count(*) FROM sync_runs
WHERE started_at > now() - interval '24 hours' GROUP BY status
"""
# The most recent finished run failed because Oura refused the token: the collector marks it
# with `counts.reauth_required = true`. One probe per final status, then the later of the two.
_REAUTH = """
SELECT status = 'failed' AND coalesce((counts ->> 'reauth_required')::boolean, false)
FROM ((SELECT status, counts, coalesce(finished_at, started_at) AS at, run_id FROM sync_runs
       WHERE status = 'succeeded'
       ORDER BY coalesce(finished_at, started_at) DESC, run_id DESC LIMIT 1)
      UNION ALL
      (SELECT status, counts, coalesce(finished_at, started_at) AS at, run_id FROM sync_runs
       WHERE status = 'failed'
       ORDER BY coalesce(finished_at, started_at) DESC, run_id DESC LIMIT 1)) AS latest
ORDER BY at DESC, run_id DESC LIMIT 1
"""
_QUARANTINE = "SELECT data_type, count(*) FROM quarantined_documents GROUP BY data_type"
# Running totals kept by a trigger on sync_runs (migration 0004), not a sum over history.
_COLLECTOR_TOTALS = "SELECT counter, key, total FROM collector_totals"

# The insights of the latest day (docs/monitoring.md#insight-gauges), in one round trip:
# index probes on the insight tables' keys, whatever the length of the history.
_INSIGHTS = f"""
WITH latest AS ({insight_report.LATEST_DAY})
SELECT latest.date,
       extract(epoch FROM (latest.date::timestamp AT TIME ZONE %(tz)s))::float8,
       (SELECT coalesce(json_agg(json_build_array(metric, value, baseline_median)), '[]')
        FROM insight_metrics WHERE date = latest.date),
       (SELECT coalesce(json_agg(json_build_array(flag, streak_days)), '[]')
        FROM insight_flag_days WHERE date = latest.date)
FROM latest
"""


@dataclass
class Snapshot:
    newest_day: dict[str, float] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)
    last_run: dict[str, float] = field(default_factory=dict)
    runs_24h: dict[str, float] = field(default_factory=dict)
    reauth_required: bool = False
    quarantined: dict[str, float] = field(default_factory=dict)
    oura_requests: dict[tuple[str, str], float] = field(default_factory=dict)
    oura_retries: dict[str, float] = field(default_factory=dict)
    insight_latest_day: float | None = None
    insight_values: dict[str, float] = field(default_factory=dict)
    insight_baselines: dict[str, float] = field(default_factory=dict)
    insight_streaks: dict[str, float] = field(default_factory=dict)


async def read_snapshot(pool: AsyncConnectionPool[Any], timezone: str = "UTC") -> Snapshot:
    snapshot = Snapshot()
    async with pool.connection(timeout=REFRESH_TIMEOUT_SECONDS) as conn, conn.transaction():
        await conn.execute(f"SET LOCAL statement_timeout = {int(REFRESH_TIMEOUT_SECONDS * 1000)}")

        async def rows(query: str, params: Any = None) -> list[tuple[Any, ...]]:
            cursor = await conn.execute(query, params)
            found: list[tuple[Any, ...]] = await cursor.fetchall()
            return found

        snapshot.newest_day = _present(await rows(_NEWEST_DAY, (_DATED_TYPES,)))
        snapshot.last_success = _present(await rows(_LAST_SUCCESS, (list(ALL_NAMES),)))
        snapshot.last_run = _present(await rows(_LAST_RUN))
        snapshot.runs_24h = {status: float(n) for status, n in await rows(_RUNS_24H)}
        reauth = await rows(_REAUTH)
        snapshot.reauth_required = bool(reauth and reauth[0][0])
        snapshot.quarantined = {t: float(n) for t, n in await rows(_QUARANTINE)}
        for counter, key, total in await rows(_COLLECTOR_TOTALS):
            if counter == "oura_requests":
                route, _, status = str(key).rpartition(" ")
                snapshot.oura_requests[(route or str(key), status)] = total
            else:
                snapshot.oura_retries[str(key)] = total
        params = {"nightly": insight_report.NIGHTLY_METRICS, "tz": timezone}
        ((latest, midnight, values, streaks),) = await rows(_INSIGHTS, params)
        if latest is not None:
            snapshot.insight_latest_day = midnight
            for metric, value, median in values:
                snapshot.insight_values[metric] = float(value)
                if median is not None:
                    snapshot.insight_baselines[metric] = float(median)
            snapshot.insight_streaks = {str(flag): float(n) for flag, n in streaks}
    return snapshot


def _present(found: list[tuple[Any, ...]]) -> dict[str, float]:
    """`{label: value}` of the rows that have a value (a type never stored has none)."""
    return {str(label): float(value) for label, value in found if value is not None}


class DatabaseMetrics(Collector):
    """The database-derived metrics of the metric contract, from the last good snapshot."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.snapshot = Snapshot()
        self.timezone = timezone  # USER_TIMEZONE: the insight days are local days
        self._log = get_logger(__name__)

    async def refresh(self, pool: AsyncConnectionPool[Any]) -> bool:
        try:
            self.snapshot = await asyncio.wait_for(
                read_snapshot(pool, self.timezone), timeout=REFRESH_TIMEOUT_SECONDS + 0.5
            )
        except Exception as exc:  # a scrape must not fail because the database is away
            self._log.warning("database metrics not refreshed", error=type(exc).__name__)
            return False
        return True

    def describe(self) -> Iterator[Metric]:
        # Empty description: the registry then calls collect() lazily, at scrape time only.
        return iter(())

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        yield _family(
            GaugeMetricFamily,
            "myhealth_data_newest_day_timestamp_seconds",
            "Midnight UTC of the newest day stored, by data type.",
            ["data_type"],
            {(k,): v for k, v in s.newest_day.items()},
        )
        yield _family(
            GaugeMetricFamily,
            "myhealth_sync_last_success_timestamp_seconds",
            "When a collector run last completed the data type (Unix time).",
            ["data_type"],
            {(k,): v for k, v in s.last_success.items()},
        )
        yield _family(
            GaugeMetricFamily,
            "myhealth_collector_last_run_timestamp_seconds",
            "When the last collector run of each final status finished (Unix time).",
            ["status"],
            {(k,): v for k, v in s.last_run.items()},
        )
        yield _family(
            GaugeMetricFamily,
            "myhealth_collector_runs",
            "Collector runs started in the last 24 hours, by status.",
            ["status"],
            {(k,): s.runs_24h.get(k, 0.0) for k in RUN_STATUSES},
        )
        yield GaugeMetricFamily(
            "myhealth_oauth_reauth_required",
            "1 when the last collector run failed because Oura refused the token.",
            value=1.0 if s.reauth_required else 0.0,
        )
        yield _family(
            GaugeMetricFamily,
            "myhealth_quarantined_documents",
            "Documents in quarantine (failed validation), by data type.",
            ["data_type"],
            {(k,): s.quarantined.get(k, 0.0) for k in ALL_NAMES},
        )
        yield _family(
            CounterMetricFamily,
            "myhealth_oura_requests",
            "Oura API requests made by all collector runs, by route and status.",
            ["route", "status"],
            {tuple(k): v for k, v in s.oura_requests.items()},
        )
        yield _family(
            CounterMetricFamily,
            "myhealth_oura_retries",
            "Oura API request retries made by all collector runs, by reason.",
            ["reason"],
            {(k,): s.oura_retries.get(k, 0.0) for k in set(RETRY_REASONS) | set(s.oura_retries)},
        )
        yield from _insight_families(s)


def _insight_families(s: Snapshot) -> Iterator[Metric]:
    """The insight gauges of the latest day with data (docs/monitoring.md#insight-gauges)."""
    flags = insight_rules.FLAGS
    yield _family(
        GaugeMetricFamily,
        "myhealth_insight_flag",
        "1 when the flag is raised on the latest day with data, else 0.",
        ["flag"],
        {
            (name,): 1.0 if s.insight_streaks.get(name, 0.0) >= flag.required_days else 0.0
            for name, flag in flags.items()
        },
    )
    yield _family(
        GaugeMetricFamily,
        "myhealth_insight_streak_days",
        "Consecutive days the flag's condition has held, ending on the latest day with data.",
        ["flag"],
        {(name,): s.insight_streaks.get(name, 0.0) for name in flags},
    )
    yield _family(
        GaugeMetricFamily,
        "myhealth_insight_value",
        "The metric's value on the latest day with data (units: docs/api.md).",
        ["metric"],
        {(k,): v for k, v in s.insight_values.items()},
    )
    yield _family(
        GaugeMetricFamily,
        "myhealth_insight_baseline",
        "The metric's baseline (median of the 60 days before) on the latest day with data.",
        ["metric"],
        {(k,): v for k, v in s.insight_baselines.items()},
    )
    latest = GaugeMetricFamily(
        "myhealth_insight_latest_day_timestamp_seconds",
        "Local midnight (USER_TIMEZONE) of the latest day with insight data.",
        labels=[],
    )
    if s.insight_latest_day is not None:  # declared, without a sample, until there is one
        latest.add_metric([], s.insight_latest_day)
    yield latest


def _family(
    kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    documentation: str,
    labels: list[str],
    values: dict[tuple[str, ...], float],
) -> Metric:
    """A labelled metric family with one sample per entry of `values`, in label order."""
    family = kind(name, documentation, labels=labels)
    for label_values, value in sorted(values.items()):
        family.add_metric(list(label_values), value)
    return family
