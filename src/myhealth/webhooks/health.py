"""Whether webhooks are delivering, as the scheduled poll asks it (docs/webhooks.md#polling).

With a webhook event recorded within `WEBHOOK_HEALTHY_HOURS`, the poll only needs to catch
what an event may have missed, so it re-fetches `OURA_REFETCH_DAYS_WITH_WEBHOOKS` days instead
of `OURA_REFETCH_DAYS`. No event for longer (or webhooks never set up) → the full window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg


async def last_event_received(conn: psycopg.AsyncConnection[Any]) -> dt.datetime | None:
    """When the API last recorded a webhook event (None: never, or before migration 0008)."""
    try:
        cursor = await conn.execute("SELECT max(received_at) FROM webhook_events")
    except psycopg.errors.UndefinedTable:
        return None
    row = await cursor.fetchone()
    return row[0] if row is not None else None


def refetch_days(
    full: int,
    with_webhooks: int,
    last_event: dt.datetime | None,
    healthy_for: dt.timedelta,
    now: dt.datetime,
) -> int:
    """The trailing days the poll re-fetches: fewer while webhooks are healthy."""
    if last_event is not None and now - last_event <= healthy_for:
        return min(full, with_webhooks)
    return full
