"""The collector's own state in PostgreSQL: the run lock, checkpoints and run records.

Documents never go to the database from here (they go through the processor); only the
bookkeeping tables of migration 0001 do: `sync_checkpoints`, `sync_runs`, `sync_run_types`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from myhealth.oura.catalog import ALL_NAMES
from myhealth.platform.errors import ErrorCode, UserFacingError
from myhealth.platform.logging import get_logger
from myhealth.platform.retry import DEFAULT_RETRY, RetryPolicy, TransientFailure
from myhealth.storage.db import CONNECT_TIMEOUT_SECONDS, DatabaseUnavailable

T = TypeVar("T")
log = get_logger("myhealth.collector")

# pg_try_advisory_lock key shared by every `myhealth collect` against one database
# (the bytes of "myhealth" read as a big-endian bigint; any constant would do).
RUN_LOCK_KEY = int.from_bytes(b"myhealth", "big") & 0x7FFF_FFFF_FFFF_FFFF

INTERRUPTED = "interrupted: the collector stopped before the run finished"


@asynccontextmanager
async def connect(url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """One autocommit connection for the whole run; it also holds the advisory lock."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(url, exc) from None
    async with conn:
        yield conn


RECONNECT_SECONDS = 60.0  # how long a database restart may take before the run gives up
# The project's retry policy, bounded by time rather than attempts: a restart takes what it takes.
RECONNECT_RETRY = dataclasses.replace(
    DEFAULT_RETRY, attempts=None, wait_max=2.0, timeout=RECONNECT_SECONDS
)


class _ConnectionLost(TransientFailure):
    def __init__(self, error: psycopg.OperationalError) -> None:
        super().__init__("collect_bookkeeping", "connection_lost", str(error))
        self.error = error


class RunLockLost(UserFacingError):
    code = ErrorCode.RUN_LOCK_LOST

    def __init__(self) -> None:
        super().__init__(
            "the database restarted and another collector run took the run lock; stopping",
            exit_code=1,
        )


class Bookkeeping:
    """The run's bookkeeping connection, reopened (and the run lock retaken) when the database
    restarts, so a blip neither aborts the run nor leaves its row `running`.

    `run(operation)` applies one operation of this module (each is one statement or one
    transaction, and safe to apply again) under a lock: concurrent types never interleave
    their transactions on the one connection. An operation that failed because the
    connection broke is applied again on a new connection under the retry policy, for up to
    `RECONNECT_SECONDS`.
    """

    def __init__(
        self, url: str, conn: psycopg.AsyncConnection[Any], retry: RetryPolicy = RECONNECT_RETRY
    ) -> None:
        self._url = url
        self._conn = conn
        self._retry = retry
        self._lock = asyncio.Lock()
        self.reconnects = 0

    async def run(self, operation: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        async with self._lock:
            try:
                async for attempt in self._retry.retrying():
                    with attempt:
                        try:
                            if self._conn.closed:
                                await self._reopen()
                            return await operation(self._conn)
                        except psycopg.OperationalError as exc:
                            if not self._conn.closed:
                                raise  # a live connection refused the statement: not a blip
                            raise _ConnectionLost(exc) from exc
            except _ConnectionLost as lost:
                raise lost.error from None
            raise AssertionError("unreachable")  # pragma: no cover - at least one attempt

    async def _reopen(self) -> None:
        self._conn = await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
        self.reconnects += 1
        if not await try_lock(self._conn):
            await self._conn.close()
            raise RunLockLost
        log.warning("collect_bookkeeping_reconnected", reconnects=self.reconnects)

    async def close(self) -> None:
        """Close a connection this object reopened (the first one belongs to its opener)."""
        if self.reconnects and not self._conn.closed:
            await self._conn.close()


async def try_lock(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Take the run lock for this session; False when another run holds it."""
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (RUN_LOCK_KEY,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def current_run(conn: psycopg.AsyncConnection[Any]) -> tuple[int, dt.datetime] | None:
    """The newest run still marked running (the lock holder's, when there is a holder)."""
    cur = await conn.execute(
        "SELECT run_id, started_at FROM sync_runs WHERE status = 'running'"
        " ORDER BY started_at DESC LIMIT 1"
    )
    row = await cur.fetchone()
    return (int(row[0]), row[1]) if row else None


async def close_abandoned_runs(conn: psycopg.AsyncConnection[Any]) -> int:
    """Mark runs left `running` by a killed collector as failed; only call with the lock held."""
    async with conn.transaction():
        await conn.execute(
            "UPDATE sync_run_types SET status = 'failed', error = %s, finished_at = now()"
            " WHERE status = 'running'",
            (INTERRUPTED,),
        )
        cur = await conn.execute(
            "UPDATE sync_runs SET status = 'failed', error = %s, finished_at = now()"
            " WHERE status = 'running'",
            (INTERRUPTED,),
        )
    return cur.rowcount


async def read_checkpoints(
    conn: psycopg.AsyncConnection[Any], names: Iterable[str]
) -> dict[str, dt.date]:
    cur = await conn.execute(
        "SELECT data_type, last_day FROM sync_checkpoints WHERE data_type = ANY(%s)",
        (list(names),),
    )
    return {str(name): day for name, day in await cur.fetchall()}


async def start_run(
    conn: psycopg.AsyncConnection[Any],
    names: list[str],
    start: dt.date | None,
    end: dt.date | None,
) -> int:
    cur = await conn.execute(
        "INSERT INTO sync_runs (data_types, start_date, end_date) VALUES (%s, %s, %s)"
        " RETURNING run_id",
        (names, start, end),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def start_type(
    conn: psycopg.AsyncConnection[Any], run_id: int, name: str, start: dt.date, end: dt.date
) -> None:
    await conn.execute(
        "INSERT INTO sync_run_types (run_id, data_type, status, start_date, end_date)"
        " VALUES (%s, %s, 'running', %s, %s)"
        " ON CONFLICT (run_id, data_type) DO NOTHING",  # applied again after a reconnect
        (run_id, name, start, end),
    )


async def finish_type(
    conn: psycopg.AsyncConnection[Any],
    run_id: int,
    name: str,
    *,
    documents: int,
    error: str | None,
    checkpoint: dt.date | None,
) -> None:
    """Record a type's outcome; on success also advance its checkpoint, in one transaction.

    The checkpoint only moves forward: `GREATEST` keeps a later day already stored.
    """
    async with conn.transaction():
        if error is None and checkpoint is not None:
            await conn.execute(
                "INSERT INTO sync_checkpoints (data_type, last_day) VALUES (%s, %s)"
                " ON CONFLICT (data_type) DO UPDATE"
                " SET last_day = GREATEST(sync_checkpoints.last_day, EXCLUDED.last_day),"
                "     updated_at = now()"
                " WHERE sync_checkpoints.last_day < EXCLUDED.last_day",
                (name, checkpoint),
            )
        await conn.execute(
            "UPDATE sync_run_types SET status = %s, documents = %s, error = %s,"
            " finished_at = now() WHERE run_id = %s AND data_type = %s",
            ("failed" if error else "succeeded", documents, error, run_id, name),
        )


async def quarantine_oversize(
    conn: psycopg.AsyncConnection[Any], data_type: str, raw_documents: Sequence[str]
) -> None:
    """Quarantine, as received, documents too large for any ingest request (the processor
    answered 413 to each alone); once per distinct text, like the processor's quarantine."""
    async with conn.transaction():
        for raw in raw_documents:
            await conn.execute(
                "INSERT INTO quarantined_documents (data_type, raw_document, reason_code, reason)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (data_type, md5(raw_document)) DO NOTHING",
                (
                    data_type,
                    raw,
                    "document_too_large",
                    "larger than the processor accepts in one request;"
                    " quarantined by the collector",
                ),
            )


async def finish_run(
    conn: psycopg.AsyncConnection[Any],
    run_id: int,
    *,
    succeeded: bool,
    counts: Mapping[str, Any],
    error: str | None,
) -> None:
    await conn.execute(
        "UPDATE sync_runs SET status = %s, counts = %s, error = %s, finished_at = now()"
        " WHERE run_id = %s",
        ("succeeded" if succeeded else "failed", Jsonb(dict(counts)), error, run_id),
    )


async def prune_runs(conn: psycopg.AsyncConnection[Any], retention_days: int) -> int:
    """Delete runs that started more than `retention_days` ago; return how many.

    Kept whatever their age: the latest run of each final status and the run holding each
    type's latest success, which the processor's freshness metrics read. The Oura request
    and retry counters are running totals (`collector_totals`) that pruning does not touch.
    """
    cur = await conn.execute(
        """DELETE FROM sync_runs
           WHERE started_at < now() - make_interval(days => %(days)s)
             AND status <> 'running'
             AND run_id NOT IN (
                 SELECT kept.run_id FROM (
                     SELECT (SELECT run_id FROM sync_runs r WHERE r.status = s.status
                             ORDER BY coalesce(finished_at, started_at) DESC, run_id DESC
                             LIMIT 1)
                     FROM unnest(ARRAY['succeeded', 'failed']) AS s(status)
                     UNION ALL
                     SELECT (SELECT run_id FROM sync_run_types t
                             WHERE t.data_type = types.data_type AND t.status = 'succeeded'
                               AND t.finished_at IS NOT NULL
                             ORDER BY finished_at DESC LIMIT 1)
                     FROM unnest(%(types)s::text[]) AS types(data_type)
                 ) AS kept(run_id)
                 WHERE kept.run_id IS NOT NULL)""",
        {"days": retention_days, "types": list(ALL_NAMES)},
    )
    return cur.rowcount
