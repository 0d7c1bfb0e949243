"""The webhook worker: turns recorded Oura events into stored documents
(docs/webhooks.md#worker). It runs inside the processor (docs/architecture.md#webhooks).

Each pass claims pending `webhook_events` one at a time (`FOR UPDATE SKIP LOCKED`, oldest
`event_time` first), and in that event's transaction:

  * an event no newer than the last one applied to its document (`webhook_documents`) is
    `superseded` — duplicates and late arrivals of an out-of-order pair change nothing;
  * `delete` marks the document deleted (`deletion.mark_deleted`);
  * `create`/`update` fetch the document by id with the owner's token
    (`GET /v2/usercollection/<route>/<id>`) and store it through the processor's writer,
    clearing a deletion mark; a 404 means Oura no longer has it (`not_found`);
  * `meal` (no collection route) is `unsupported`.

A failure (Oura away, a refresh refused...) rolls the event back to `pending` with
exponential backoff (`WEBHOOK_RETRY`, the product's retry policy's parameters) until
`max_attempts`, then `failed` — the scheduled poll still brings the document.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from myhealth.oura.client import OuraClient
from myhealth.oura.errors import DocumentNotFound
from myhealth.platform.bounded_json import RawJsonObject, read_document
from myhealth.platform.logging import get_logger
from myhealth.platform.retry import RetryPolicy
from myhealth.processor import validation, writer
from myhealth.webhooks import deletion
from myhealth.webhooks.catalog import collected_type

log = get_logger("webhooks.worker")

# Backoff between attempts of one event: 5 s, 10 s, 20 s ... capped at 10 minutes; 8 attempts
# span about half an hour, after which the scheduled poll is the better way to catch up.
WEBHOOK_RETRY = RetryPolicy(attempts=8, wait_initial=5.0, wait_max=600.0, wait_jitter=1.0)


class Outcome(StrEnum):
    """What became of one event (`webhook_events.status` and the metric label; stable)."""

    DONE = "done"
    SUPERSEDED = "superseded"
    NOT_FOUND = "not_found"
    UNSUPPORTED = "unsupported"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class _Event:
    id: int
    event_type: str
    data_type: str
    object_id: str
    event_time: dt.datetime
    attempts: int


_CLAIM = """
SELECT id, event_type, data_type, object_id, event_time, attempts FROM webhook_events
WHERE status = 'pending' AND next_attempt_at <= now()
ORDER BY event_time, id LIMIT 1 FOR UPDATE SKIP LOCKED
"""

_APPLIED = """
SELECT last_event_time, last_event_type FROM webhook_documents
WHERE data_type = %s AND object_id = %s FOR UPDATE
"""

_RECORD_APPLIED = """
INSERT INTO webhook_documents (data_type, object_id, last_event_time, last_event_type)
VALUES (%s, %s, %s, %s)
ON CONFLICT (data_type, object_id) DO UPDATE
SET last_event_time = EXCLUDED.last_event_time, last_event_type = EXCLUDED.last_event_type
"""

_FINISH = """
UPDATE webhook_events SET status = %s, processed_at = now(), last_error = %s,
       attempts = attempts + 1
WHERE id = %s
"""


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "myhealth_webhook_events_processed_total",
            "Webhook events the worker finished, by outcome (done, superseded, not_found, ...).",
            ["outcome"],
            registry=registry,
        )
        for outcome in Outcome:
            self.events.labels(outcome.value)
        self.last_received = Gauge(
            "myhealth_webhook_last_event_received_timestamp_seconds",
            "When the API last recorded a webhook event (unix seconds; 0: never).",
            registry=registry,
        )
        self.pending = Gauge(
            "myhealth_webhook_events_pending",
            "Webhook events recorded but not yet processed.",
            registry=registry,
        )


class WebhookWorker:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        oura: OuraClient,
        metrics: WebhookMetrics,
        *,
        poll_seconds: float = 1.0,
        retry: RetryPolicy = WEBHOOK_RETRY,
    ) -> None:
        self._pool = pool
        self._oura = oura
        self._metrics = metrics
        self._poll_seconds = poll_seconds
        self._retry = retry
        self._shapes: dict[str, writer.TableShape] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Process events until `stop` is set; a failing pass is logged and retried."""
        while not stop.is_set():
            try:
                while await self.process_one():
                    if stop.is_set():
                        return
                await self.refresh_gauges()
            except Exception as exc:  # the loop must outlive a bad pass
                log.warning("webhook pass failed", error=type(exc).__name__, detail=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_seconds)

    async def refresh_gauges(self) -> None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT coalesce(extract(epoch FROM max(received_at)), 0)::float8,"
                " count(*) FILTER (WHERE status = 'pending') FROM webhook_events"
            )
            row = await cursor.fetchone()
        if row is not None:
            self._metrics.last_received.set(row[0])
            self._metrics.pending.set(row[1])

    async def process_one(self) -> bool:
        """Claim and finish one due event; False when none is due."""
        async with self._pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(_CLAIM)
            row = await cursor.fetchone()
            if row is None:
                return False
            event = _Event(*row)
            try:
                async with conn.transaction():  # a savepoint: a failure leaves nothing behind
                    outcome, note = await self._apply(conn, event)
            except Exception as exc:  # any failure is retried later
                await self._postpone(conn, event, exc)
                return True
            await conn.execute(_FINISH, (outcome.value, note, event.id))
        self._metrics.events.labels(outcome.value).inc()
        return True

    async def _apply(self, conn: AsyncConnection[Any], event: _Event) -> tuple[Outcome, str | None]:
        data_type = collected_type(event.data_type)
        if data_type is None:
            return Outcome.UNSUPPORTED, f"{event.data_type} has no collection route"
        cursor = await conn.execute(_APPLIED, (event.data_type, event.object_id))
        applied = await cursor.fetchone()
        if applied is not None:
            last_time, last_type = applied
            if event.event_time < last_time or (
                event.event_time == last_time and event.event_type == last_type
            ):
                return Outcome.SUPERSEDED, f"an event of {last_time.isoformat()} was applied"
        if event.event_type == "delete":
            await deletion.mark_deleted(conn, data_type, event.object_id)
            outcome, note = Outcome.DONE, None
        else:
            try:
                document = await self._oura.get(data_type, event.object_id)
            except DocumentNotFound:
                outcome, note = Outcome.NOT_FOUND, "Oura no longer has the document"
            else:
                shapes = await self._table_shapes(conn)
                # The exact text Oura sent, as the collector forwards it (bounded_json.py).
                received = (
                    [read_document(document.json_text)]
                    if isinstance(document, RawJsonObject)
                    else validation.received([document])
                )
                batch = writer.prepare(data_type, shapes[data_type.name], received)
                result = await writer.write(conn, batch)
                if result.rejected:
                    return Outcome.DONE, f"quarantined: {result.rejected[0].as_json()}"
                await deletion.clear_deleted(conn, data_type, event.object_id)
                outcome, note = Outcome.DONE, None
        await conn.execute(
            _RECORD_APPLIED, (event.data_type, event.object_id, event.event_time, event.event_type)
        )
        return outcome, note

    async def _table_shapes(self, conn: AsyncConnection[Any]) -> dict[str, writer.TableShape]:
        if self._shapes is None:
            self._shapes = await writer.load_shapes(conn)
        return self._shapes

    async def _postpone(self, conn: AsyncConnection[Any], event: _Event, exc: Exception) -> None:
        attempts = event.attempts + 1
        detail = f"{type(exc).__name__}: {exc}"[:500]
        if self._retry.attempts is not None and attempts >= self._retry.attempts:
            await conn.execute(
                "UPDATE webhook_events SET status = 'failed', attempts = %s, last_error = %s,"
                " processed_at = now() WHERE id = %s",
                (attempts, detail, event.id),
            )
            self._metrics.events.labels(Outcome.FAILED.value).inc()
            log.warning("webhook event failed", event_id=event.id, error=detail)
        else:
            wait = min(self._retry.wait_max, self._retry.wait_initial * 2 ** (attempts - 1))
            await conn.execute(
                "UPDATE webhook_events SET attempts = %s, last_error = %s,"
                " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                (attempts, detail, wait, event.id),
            )
            self._metrics.events.labels(Outcome.RETRY.value).inc()
            log.info("webhook event postponed", event_id=event.id, wait_s=wait, error=detail)


@contextlib.asynccontextmanager
async def running_worker(
    worker: WebhookWorker | None, oura: OuraClient | None
) -> AsyncIterator[None]:
    """Run `worker` (if any) for the duration of the block; stop it and close `oura` after."""
    if worker is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="webhook-worker")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=10)  # an event in flight rolls back
        if oura is not None:
            await oura.aclose()
