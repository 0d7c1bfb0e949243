"""At start, make the daily heart-rate rollup's zone the processor's USER_TIMEZONE.

A background task of the processor's lifespan: the processor starts (and answers `/ready`)
whether or not the database is up, so this retries until the database answers, then rebuilds
the rollup if it was built for another zone or never built
(docs/architecture.md#the-daily-heart-rate-rollup). Batches stored meanwhile keep the rollup
exact for its stored zone; the rebuild waits for them and counts their samples.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from myhealth.platform.logging import get_logger
from myhealth.storage import heart_rate_daily

log = get_logger(__name__)

RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)  # then every 30 s


async def ensure_zone(pool: AsyncConnectionPool[Any], zone: str) -> None:
    """Rebuild the rollup for `zone` unless it already is; retries until the database answers."""
    attempt = 0
    while True:
        try:
            async with pool.connection() as conn:
                started = time.monotonic()
                rebuilt = await heart_rate_daily.ensure_zone(conn, zone)
            if rebuilt:
                log.info(
                    "rebuilt the daily heart-rate rollup",
                    timezone=zone,
                    seconds=round(time.monotonic() - started, 3),
                )
            return
        # Unreachable, or not migrated yet (`myhealth migrate` may run after the processor).
        except (psycopg.OperationalError, psycopg.errors.UndefinedTable, PoolTimeout) as exc:
            delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            log.warning(
                "could not check the daily heart-rate rollup; retrying",
                error=type(exc).__name__,
                retry_seconds=delay,
            )
            attempt += 1
            await asyncio.sleep(delay)
        except psycopg.Error as exc:
            # Not a passing condition: say so loudly; the API keeps reading the samples.
            log.error(
                "could not rebuild the daily heart-rate rollup",
                error=type(exc).__name__,
                sqlstate=exc.sqlstate,
                message=str(exc),
            )
            return
