"""The daily heart-rate rollup: per local day, the count, sum, min and max of the samples.

`heart_rate_daily` holds one row per day that has samples, the day being the sample's date in
the zone stored in `heart_rate_daily_zone` (docs/architecture.md#the-daily-heart-rate-rollup).
It is kept exact set-based, never incrementally:

- `refresh` runs in the transaction that stored a heart-rate batch and recomputes the local
  days the batch touched from the samples themselves (inserts and revisions alike);
- `rebuild` recomputes every day for a new zone; the processor calls `ensure_zone` at start,
  so a changed USER_TIMEZONE rebuilds the rollup before the API may use it.

Concurrency (READ COMMITTED, the default): a refresh holds a shared advisory lock on the
rollup for its transaction and an exclusive one per day it recomputes (taken in day order, so
two refreshes cannot deadlock). Two batches touching one day are thereby serialised, and the
second one's recomputation is a statement that starts after the first committed, so it sees
both batches' samples. A rebuild takes the rollup lock exclusively: it waits for the
refreshes in flight and new ones wait for it. A refresh always uses the stored zone (whatever
zone its processor has), so the rollup is exact for the zone it claims at every commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection

# Two-int advisory lock keys (a key space apart from the one-bigint keys used elsewhere):
# (ROLLUP_LOCK, 0) guards the zone, (DAY_LOCK, days since 2000-01-01) one local day.
ROLLUP_LOCK = 0x6D68_0001  # "mh" 1
DAY_LOCK = 0x6D68_0002

# Shorter than any local day (23 hours at a DST change): see `runs`.
RUN_GAP = dt.timedelta(hours=6)

_STORED_ZONE = "SELECT timezone FROM heart_rate_daily_zone"

# The local days a batch touched are every date in the zone from the first to the last sample
# of each run of its samples (see `runs`). Sent as runs, not samples: converting thousands of
# instants to local dates costs PostgreSQL more than recomputing the days.

# The stored zone, and an exclusive lock on each local day of the runs in that zone, taken
# in day order (a volatile function is evaluated after the sort). No row: never built.
_ZONE_AND_LOCK_DAYS = """
    SELECT z.timezone,
           (SELECT count(*) FROM (
                SELECT pg_advisory_xact_lock(%(key)s::integer, days.day - date '2000-01-01')
                FROM (SELECT DISTINCT day::date AS day
                      FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[])
                           AS run(first, last),
                           generate_series((run.first AT TIME ZONE z.timezone)::date::timestamp,
                                           (run.last AT TIME ZONE z.timezone)::date::timestamp,
                                           interval '1 day') AS day) AS days
                ORDER BY days.day) AS locked) AS days_locked
    FROM heart_rate_daily_zone AS z
"""
# The locked days recomputed from the samples: rows for days that have samples are upserted,
# rows for days that have none are deleted. Per day (LATERAL, so each day is an index range
# scan, never a scan of every sample): the samples from 6 hours before the day's local
# midnight to 6 hours after the next (a superset, whatever a DST change does at midnight),
# of which those whose date in the zone is the day count, exactly as the trend over the
# samples groups them.
_RECOMPUTE_DAYS = """
    WITH days AS MATERIALIZED (
        SELECT DISTINCT day::date AS day
        FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS run(first, last),
             generate_series((run.first AT TIME ZONE %(tz)s)::date::timestamp,
                             (run.last AT TIME ZONE %(tz)s)::date::timestamp,
                             interval '1 day') AS day),
    fresh AS (
        SELECT days.day, s.samples, s.bpm_sum, s.bpm_min, s.bpm_max
        FROM days
        CROSS JOIN LATERAL (
            SELECT count(*) AS samples, sum(h.bpm) AS bpm_sum,
                   min(h.bpm) AS bpm_min, max(h.bpm) AS bpm_max
            FROM heart_rate AS h
            WHERE h."timestamp" >= (days.day::timestamp AT TIME ZONE %(tz)s) - interval '6 hours'
              AND h."timestamp" < ((days.day + 1)::timestamp AT TIME ZONE %(tz)s)
                                  + interval '6 hours'
              AND (h."timestamp" AT TIME ZONE %(tz)s)::date = days.day) AS s
        WHERE s.samples > 0),
    emptied AS (
        DELETE FROM heart_rate_daily
        WHERE day IN (SELECT day FROM days) AND day NOT IN (SELECT day FROM fresh))
    INSERT INTO heart_rate_daily (day, samples, bpm_sum, bpm_min, bpm_max)
    SELECT day, samples, bpm_sum, bpm_min, bpm_max FROM fresh
    ON CONFLICT (day) DO UPDATE
    SET samples = excluded.samples, bpm_sum = excluded.bpm_sum,
        bpm_min = excluded.bpm_min, bpm_max = excluded.bpm_max
    WHERE (heart_rate_daily.samples, heart_rate_daily.bpm_sum, heart_rate_daily.bpm_min,
           heart_rate_daily.bpm_max)
          IS DISTINCT FROM (excluded.samples, excluded.bpm_sum, excluded.bpm_min,
                            excluded.bpm_max)
"""
_REBUILD = """
    INSERT INTO heart_rate_daily (day, samples, bpm_sum, bpm_min, bpm_max)
    SELECT ("timestamp" AT TIME ZONE %(tz)s)::date, count(*), sum(bpm), min(bpm), max(bpm)
    FROM heart_rate
    GROUP BY 1
"""
_STORE_ZONE = """
    INSERT INTO heart_rate_daily_zone (only_row, timezone, built_at) VALUES (true, %(tz)s, now())
    ON CONFLICT (only_row) DO UPDATE SET timezone = excluded.timezone, built_at = now()
"""


async def stored_zone(conn: AsyncConnection[Any]) -> str | None:
    """The zone the rollup was built for; None when it never was."""
    cursor = await conn.execute(_STORED_ZONE)
    row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def refresh(conn: AsyncConnection[Any], instants: Sequence[dt.datetime]) -> None:
    """Recompute the days of `instants` (a heart-rate batch's sample times) in the stored
    zone. Call inside the transaction that stored the samples, after storing them. Does
    nothing before the first build (the build will count these samples: it waits for this
    transaction and reads after it)."""
    if not instants:
        return
    starts, ends = runs(instants)
    # No JIT for the rest of the transaction (only these statements follow): the row
    # estimates of the runs are rough, and compiling cost 0.9 s for 2 ms of work.
    await conn.execute(
        "SELECT pg_advisory_xact_lock_shared(%s::integer, 0), set_config('jit', 'off', true)",
        (ROLLUP_LOCK,),
    )
    # A statement after the zone lock was granted: it sees the zone of any rebuild before it.
    params = {"key": DAY_LOCK, "starts": starts, "ends": ends}
    cursor = await conn.execute(_ZONE_AND_LOCK_DAYS, params)
    row = await cursor.fetchone()
    if row is None:
        return
    # A statement after the day locks were granted: it sees the samples of every batch that
    # recomputed these days before us (READ COMMITTED: one snapshot per statement).
    await conn.execute(_RECOMPUTE_DAYS, {"tz": row[0], "starts": starts, "ends": ends})


def runs(instants: Sequence[dt.datetime]) -> tuple[list[dt.datetime], list[dt.datetime]]:
    """The first and the last instant of each run of `instants`: sorted, a new run after a
    gap of RUN_GAP or more. Every local day from a run's first to its last instant has one of
    its samples (a day is longer than the gap), so those days are exactly the days touched."""
    ordered = sorted(instants)
    starts, ends = [ordered[0]], [ordered[0]]
    for instant in ordered[1:]:
        if instant - ends[-1] >= RUN_GAP:
            starts.append(instant)
            ends.append(instant)
        else:
            ends[-1] = instant
    return starts, ends


async def rebuild(conn: AsyncConnection[Any], zone: str) -> None:
    """Recompute every day for `zone` and store the zone. Call inside a transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s::integer, 0)", (ROLLUP_LOCK,))
    await conn.execute("DELETE FROM heart_rate_daily")
    await conn.execute(_REBUILD, {"tz": zone})
    await conn.execute(_STORE_ZONE, {"tz": zone})


async def ensure_zone(conn: AsyncConnection[Any], zone: str) -> bool:
    """Rebuild the rollup for `zone` unless it already is for `zone`; True if it rebuilt.
    Runs its own transaction."""
    async with conn.transaction():
        if await stored_zone(conn) == zone:
            return False
        await rebuild(conn, zone)
        return True
