"""Checks long-lived API tokens (`myhealth token create`) against the database.

Every request asks the database, so a revoke or an expiry takes effect at once (no cache of
the answer). The API's role cannot read `api_tokens`; it calls the SECURITY DEFINER function
`api_token_authenticate` (migration 0007), which answers for the hash it is given only.

Last use is recorded at most once per `touch_interval` per token and process: a polling
script or a request storm costs one small write a minute, not one per request. Only tokens
found active are remembered, so the memory is bounded by the number of tokens in the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from myhealth.security import api_tokens

TOUCH_INTERVAL_SECONDS = 60.0


class TokenState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class ApiTokenChecker:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        statement_timeout_ms: int,
        touch_interval: float = TOUCH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pool = pool
        self.touch_interval = touch_interval
        self.clock = clock
        self._last_touch: dict[bytes, float] = {}
        self._timeout = sql.SQL("SET LOCAL statement_timeout = {}").format(
            sql.Literal(int(statement_timeout_ms))
        )

    async def state(self, token: str) -> TokenState:
        """The presented token's state; a malformed one is UNKNOWN without a query."""
        if not api_tokens.well_formed(token):
            return TokenState.UNKNOWN
        token_hash = api_tokens.digest(token)
        now = self.clock()
        last = self._last_touch.get(token_hash)
        touch = last is None or now - last >= self.touch_interval
        async with self.pool.connection() as conn, conn.transaction():
            # The read-only role defaults to read-only transactions; the function's narrow
            # UPDATE needs a read-write one, and only when it records a use.
            await conn.execute(
                "SET TRANSACTION READ WRITE" if touch else "SET TRANSACTION READ ONLY"
            )
            await conn.execute(self._timeout)
            cursor = await conn.execute(
                "SELECT state FROM api_token_authenticate(%s, %s)", (token_hash, touch)
            )
            row = await cursor.fetchone()
        state = TokenState(row[0]) if row else TokenState.UNKNOWN
        if state is TokenState.ACTIVE:
            if touch:
                self._last_touch[token_hash] = now
        else:
            self._last_touch.pop(token_hash, None)
        return state
