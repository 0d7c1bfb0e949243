"""Connections to PostgreSQL, with failures turned into one clear line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool

from myhealth.platform.errors import UserFacingError

CONNECT_TIMEOUT_SECONDS = 5


def describe(url: str) -> str:
    """host:port/dbname of a connection string, without user or password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path or ''}"


class DatabaseUnavailable(UserFacingError):
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
    url: str, *, min_size: int = 1, max_size: int = 10, name: str
) -> AsyncConnectionPool:
    """An async pool for the HTTP services; opened by the app's lifespan, not here.

    The pool does not wait for the database at start: readiness (`/ready`) reports it.
    """
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        timeout=CONNECT_TIMEOUT_SECONDS,
        kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "autocommit": False},
    )


async def ping(pool: AsyncConnectionPool) -> bool:
    """True when a connection from the pool answers `SELECT 1`."""
    try:
        async with pool.connection(timeout=2) as conn:
            await conn.execute("SELECT 1")
        return True
    except Exception:  # any failure means not ready
        return False
