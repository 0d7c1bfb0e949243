"""Every route of the processor, in one place.

- `POST /api/v1/ingest`           validate + archive + upsert one batch of one data type
- `GET  /api/v1/metrics/{type}`   stored documents of a type, by day range
- `GET  /health`                  alive (no dependencies)
- `GET  /ready`                   the database answers, and we are not shutting down
- `GET  /metrics`                 Prometheus
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Annotated, Any, NoReturn

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from myhealth.oura.catalog import DATA_TYPES, DataType
from myhealth.platform.bounded_json import MalformedJson, ReceivedDocument, read_envelope
from myhealth.platform.config import ProcessorSettings
from myhealth.platform.logging import get_logger
from myhealth.platform.metrics import metrics_response
from myhealth.processor import reads, writer
from myhealth.processor.db_metrics import DatabaseMetrics
from myhealth.processor.observability import IngestMetrics
from myhealth.storage.db import ping

# Documents in one ingest batch (the collector sends at most 5,000); more is answered 413,
# which the collector meets by splitting the batch.
MAX_BATCH_DOCUMENTS = 20_000
# Waiting longer than this for a pooled connection means the database is away: answer 503.
POOL_WAIT_SECONDS = 3.0
# Batches parsed, validated and written at once. The work is CPU-bound (one interpreter lock)
# apart from the database's share, so two overlap it fully; more would only hold more
# decoded batches in memory at the same time (docs/performance.md#memory).
INGEST_SLOTS = 2
DATABASE_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)

log = get_logger(__name__)


@dataclass
class ProcessorState:
    """Everything the routes depend on; built by `create_app`, kept on `app.state.processor`."""

    settings: ProcessorSettings
    pool: AsyncConnectionPool[Any]
    probe_pool: AsyncConnectionPool[Any]  # readiness only: a busy `pool` is not a dead database
    registry: CollectorRegistry
    ingest_metrics: IngestMetrics
    db_metrics: DatabaseMetrics
    shapes: dict[str, writer.TableShape] | None = None
    draining: bool = False
    ingest_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(INGEST_SLOTS))


def get_state(request: Request) -> ProcessorState:
    state: ProcessorState = request.app.state.processor
    return state


State = Annotated[ProcessorState, Depends(get_state)]


def _refuse(
    state: ProcessorState, status: int, reason: str, detail: str, *, count: bool = True
) -> NoReturn:
    if count:  # myhealth_ingest_requests_rejected_total is about ingest requests only
        state.ingest_metrics.requests_rejected.labels(reason).inc()
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    raise HTTPException(status_code=status, detail=detail, headers=headers)


def require_token(request: Request, state: State) -> None:
    """With INGEST_TOKEN set, `/api/v1/*` needs `Authorization: Bearer <INGEST_TOKEN>`."""
    expected = state.settings.INGEST_TOKEN
    if expected is None:
        return
    is_ingest = request.method == "POST"
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        _refuse(state, 401, "unauthorized", "missing bearer token", count=is_ingest)
    if not hmac.compare_digest(presented.strip().encode(), expected.get_secret_value().encode()):
        _refuse(state, 401, "unauthorized", "invalid bearer token", count=is_ingest)


async def _read_body(request: Request, state: ProcessorState) -> bytes:
    """The request body; its size (INGEST_MAX_BYTES → 413) and read time were already
    checked by platform.body_limit.BodyLimitMiddleware, the one guard of both services."""
    return await request.body()


def _parse_batch(body: bytes, state: ProcessorState) -> tuple[DataType, list[ReceivedDocument]]:
    """The batch's type and documents. Only a body that is not a readable envelope is refused
    (422); what a single document carries is that document's problem (`bounded_json`)."""
    try:
        envelope = read_envelope(body, "documents", max_documents=MAX_BATCH_DOCUMENTS)
    except MalformedJson as exc:
        _refuse(state, 422, "malformed", f"malformed JSON: {exc}")
    if envelope.count > MAX_BATCH_DOCUMENTS:
        _refuse(
            state,
            413,
            "too_large",
            f"more than {MAX_BATCH_DOCUMENTS} documents in one batch; send smaller batches",
        )
    name = envelope.members.get("data_type")
    if not isinstance(name, str):
        _refuse(state, 422, "malformed", "data_type must be a string")
    if name not in DATA_TYPES:
        _refuse(state, 422, "unknown_type", f"unknown data_type {name!r}")
    if envelope.documents is None:
        _refuse(state, 422, "malformed", "documents must be a JSON array")
    return DATA_TYPES[name], envelope.documents


async def _shapes(state: ProcessorState) -> dict[str, writer.TableShape]:
    if state.shapes is None:
        async with state.pool.connection(timeout=POOL_WAIT_SECONDS) as conn:
            state.shapes = await writer.load_shapes(conn)
    return state.shapes


def _data_type_or_404(name: str) -> DataType:
    if name not in DATA_TYPES:
        raise HTTPException(
            status_code=404,
            detail=f"unknown data type {name!r} (known: {', '.join(DATA_TYPES)})",
        )
    return DATA_TYPES[name]


async def _ingest(body: bytes, state: ProcessorState) -> tuple[writer.BatchResult, float]:
    """Parse, validate and store one batch; its counts and the seconds it took to store."""
    # Parsing and validating thousands of documents is CPU work: off the event loop, so
    # probes and other requests are answered meanwhile.
    data_type, documents = await asyncio.to_thread(_parse_batch, body, state)
    started = time.perf_counter()
    try:
        shapes = await _shapes(state)
        batch = await asyncio.to_thread(
            writer.prepare, data_type, shapes[data_type.name], documents
        )
        async with state.pool.connection(timeout=POOL_WAIT_SECONDS) as conn:
            result = await writer.write(conn, batch)
    except DATABASE_ERRORS:
        state.ingest_metrics.requests_rejected.labels("database").inc()
        raise
    except psycopg.Error as exc:
        # Not a value of a document (the writer isolates those): a bug or a schema
        # problem. The transaction was rolled back, so nothing of the batch is stored.
        state.ingest_metrics.requests_rejected.labels("database").inc()
        # Only the SQLSTATE: the database's message quotes the offending value, and
        # documents (health data) never go to the logs.
        log.error("batch refused by the database", data_type=data_type.name, sqlstate=exc.sqlstate)
        reason = exc.diag.message_primary or type(exc).__name__
        raise HTTPException(
            status_code=500,
            detail=f"the database refused the batch, nothing was stored: {reason}",
        ) from None
    return result, time.perf_counter() - started


def _observe(state: ProcessorState, result: writer.BatchResult, elapsed: float) -> None:
    """Count and log a stored batch."""
    data_type = DATA_TYPES[result.data_type]
    metrics = state.ingest_metrics
    metrics.batch_duration.labels(data_type.name).observe(elapsed)
    for outcome, count in (
        ("received", result.received),
        ("inserted", result.inserted),
        ("updated", result.updated),
        ("unchanged", result.unchanged),
        ("rejected", len(result.rejected)),
    ):
        if count:
            metrics.documents.labels(data_type.name, outcome).inc(count)
    log.info(
        "batch stored",
        data_type=data_type.name,
        received=result.received,
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        rejected=len(result.rejected),
        duration_ms=round(elapsed * 1000, 2),
    )


def add_routes(app: FastAPI) -> None:
    """Register every route on the app itself: this FastAPI keeps included routers as nested
    objects, which the route-template lookup of the HTTP metrics does not descend into."""
    token = [Depends(require_token)]

    @app.post("/api/v1/ingest", dependencies=token)
    async def ingest(request: Request, state: State) -> dict[str, Any]:
        body = await _read_body(request, state)
        async with state.ingest_slots:
            result, elapsed = await _ingest(body, state)
        # The batch is committed: work that follows a stored batch goes here.
        _observe(state, result, elapsed)
        return result.as_json()

    @app.get("/api/v1/metrics/{data_type}", dependencies=token)
    async def stored_documents(
        data_type: str,
        state: State,
        start_date: Annotated[dt.date | None, Query()] = None,
        end_date: Annotated[dt.date | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=reads.HEART_RATE_PAGE_MAX)] = (
            reads.HEART_RATE_PAGE_MAX
        ),
        cursor: Annotated[str | None, Query()] = None,
    ) -> Response:
        known = _data_type_or_404(data_type)
        if start_date and end_date and start_date > end_date:
            raise HTTPException(status_code=422, detail="start_date is after end_date")
        try:
            async with state.pool.connection(timeout=POOL_WAIT_SECONDS) as conn:
                documents, following = await reads.documents_json(
                    conn, known, start_date, end_date, limit=limit, after=cursor
                )
        except reads.InvalidCursor as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        except psycopg.errors.QueryCanceled:
            raise HTTPException(
                status_code=504, detail="query timed out: narrow the date range"
            ) from None
        next_cursor = json.dumps(following)
        body = '{"data":' + documents + ',"next_cursor":' + next_cursor + "}"
        return Response(content=body, media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(state: State) -> JSONResponse:
        if state.draining:
            return JSONResponse({"detail": "shutting down"}, status_code=503)
        up = await ping(state.probe_pool)
        state.ingest_metrics.set_db_up(up)
        if not up:
            return JSONResponse({"detail": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def metrics(state: State) -> Response:
        # `myhealth_db_up` says whether the database answers a ping, nothing else: a slow
        # refresh of the database-derived metrics keeps the last snapshot and is logged.
        state.ingest_metrics.set_db_up(await ping(state.probe_pool))
        await state.db_metrics.refresh(state.pool)
        return metrics_response(state.registry)


def install_error_handlers(app: FastAPI) -> None:
    """Every error is JSON with a `detail`; an unreachable database is a 503."""

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, psycopg.Error) and writer.refused_for_content(exc):
            # psycopg files "program limit exceeded" (e.g. a jsonb too large) under
            # OperationalError: the database is there, it refused what it was given.
            log.error("database refused a value", route=request.url.path, sqlstate=exc.sqlstate)
            return JSONResponse({"detail": "the database refused a value"}, status_code=500)
        log.warning("database unavailable", error=type(exc).__name__, route=request.url.path)
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # No message and no traceback text: either can quote document content. The error's
        # type and where it was raised are enough to find the bug.
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else None
        log.error("unhandled error", route=request.url.path, error=type(exc).__name__, at=where)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    for error in DATABASE_ERRORS:
        app.add_exception_handler(error, database_unavailable)
    app.add_exception_handler(Exception, unexpected)
