"""Connections to PostgreSQL, with failures turned into one clear line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool

from myhealth.platform.errors import ErrorCode, UserFacingError

CONNECT_TIMEOUT_SECONDS = 5


def describe(url: str) -> str:
    """host:port/dbname of a connection string, without user or password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or ''}"


class DatabaseUnavailable(UserFacingError):
    code = ErrorCode.DATABASE_UNAVAILABLE

    def __init__(self, url: str, exc: BaseException) -> None:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        super().__init__(f"cannot reach the database at {describe(url)}: {reason}")


@contextmanager
def connect(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A short-lived connection for commands (migrate, collect bookkeeping)."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(url, exc) from None
    with conn:
        yield conn


def create_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    name: str,
    check_on_checkout: bool = True,
) -> AsyncConnectionPool:
    """An async pool for the HTTP services; opened by the app's lifespan, not here.

    The pool does not wait for the database at start: readiness (`/ready`) reports it.
    Every connection is checked before it is handed out, so after a database restart the
    stale connections are replaced instead of failing one request each (see `_StaleSweeper`).
    `check_on_checkout=False` leaves that to the caller, saving a round trip per checkout:
    the API's reader retries a read once on a fresh connection instead (api/queries.py).
    """
    sweeper = _StaleSweeper()
    pool: AsyncConnectionPool = AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        timeout=CONNECT_TIMEOUT_SECONDS,
        check=sweeper if check_on_checkout else None,
        kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "autocommit": False},
    )
    sweeper.pool = pool
    return pool


class _StaleSweeper:
    """The pool's connection check: when one idle connection turns out dead (the database
    restarted), every idle connection is checked at once and the dead ones replaced.

    Without the sweep the pool finds the dead ones one request at a time, backing off longer
    after each (1 s, 2 s, 4 s …), and the first request after a restart runs out of time.
    """

    pool: AsyncConnectionPool | None = None

    async def __call__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            if self.pool is not None:
                await self.pool.check()
            raise


def create_probe_pool(url: str, *, name: str) -> AsyncConnectionPool:
    """One connection of its own for readiness and `myhealth_db_up`.

    Probes must say whether the database answers, not whether a request pool drained by
    slow queries has a connection free: a busy service is not a dead database.
    """
    return create_pool(url, min_size=1, max_size=1, name=f"{name}-probe")


PING_TIMEOUT_SECONDS = 2.0


async def ping(pool: AsyncConnectionPool) -> bool:
    """True when a connection from the (probe) pool answers `SELECT 1` within
    `PING_TIMEOUT_SECONDS`."""
    try:
        async with (
            asyncio.timeout(PING_TIMEOUT_SECONDS),
            pool.connection(timeout=PING_TIMEOUT_SECONDS) as conn,
        ):
            await conn.execute("SELECT 1")
        return True
    except Exception:  # any failure means not ready
        return False
