"""The set-based batch writer behind `POST /api/v1/ingest`.

One batch is one transaction with at most three statements, whatever its size:

1. rejected documents go into `quarantined_documents` with their reason code and message and
   their exact JSON text (`raw_document`; `document` too when PostgreSQL's jsonb can hold it),
   once: the same text of the same type quarantined again adds no row;
2. valid documents (not heart rate) are upserted verbatim (their received JSON text) into the
   `oura_documents` archive;
3. the validated values are upserted into the type's typed table.

What a document carries can only reject that document: the body reader
(`platform.bounded_json`) and the models turn every value PostgreSQL would refuse into a
per-document rejection first; should PostgreSQL still refuse a value of a batch (a data
exception or a program limit), `write` stores the batch again one document per transaction and
quarantines the ones refused, with the code `database_refused`.

Validation, the CPU-bound half, is `myhealth.processor.validation`. Each statement sends the
whole batch as one JSON array, unpacked server-side with `jsonb_to_recordset` (heart rate, by
far the most rows: as binary arrays, unpacked with `unnest`), and upserts with `ON CONFLICT ...
DO UPDATE ... WHERE (cols) IS DISTINCT FROM (excluded cols)`, so an identical document
touches no row (`updated_at` and `last_changed_at` stay put) and `RETURNING (xmax = 0)` tells
inserted rows from updated ones. Duplicates of one key inside a batch are collapsed before the
upsert (the last one wins), since PostgreSQL refuses to update the same row twice in one
statement.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import psycopg
from psycopg import AsyncConnection, sql

from myhealth.insights import store as insights
from myhealth.oura.catalog import DataType
from myhealth.platform.bounded_json import ReceivedDocument
from myhealth.platform.logging import get_logger
from myhealth.processor.validation import (
    Rejected,
    Rejection,
    TableShape,
    Valid,
    best_effort_id,
    load_shapes,
    received,
    validate,
)
from myhealth.storage import heart_rate_daily

__all__ = ["BatchResult", "PreparedBatch", "TableShape", "load_shapes", "prepare", "write"]

log = get_logger(__name__)

DATABASE_REFUSED = "database_refused"
STATEMENT_TIMEOUT_SECONDS = 60
_ENCODER = msgspec.json.Encoder()


@dataclass
class BatchResult:
    data_type: str
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": [rejection.as_json() for rejection in self.rejected],
        }


def _typed_upsert(shape: TableShape) -> sql.Composed:
    names = shape.names
    non_key = [name for name in names if name not in shape.key]
    table = sql.Identifier(shape.table)

    def cols(prefix: sql.Composable | None, columns: list[str]) -> sql.Composed:
        if prefix is None:
            return sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        return sql.SQL(", ").join(sql.Composed([prefix, sql.Identifier(c)]) for c in columns)

    # The key as text, to match the archive id (heart rate has no archive: no key needed).
    key_text: sql.Composable = (
        sql.SQL("{}::text").format(sql.Identifier(shape.key[0]))
        if len(shape.key) == 1
        else sql.SQL("NULL::text")
    )
    return sql.SQL(
        """INSERT INTO {table} ({columns})
SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS incoming({definitions})
ON CONFLICT ({key}) DO UPDATE SET {assignments}, updated_at = now()
WHERE ({current}) IS DISTINCT FROM ({excluded})
RETURNING {key_text}, (xmax = 0)"""
    ).format(
        table=table,
        columns=cols(None, names),
        definitions=sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(sql_type))
            for name, sql_type in shape.columns
        ),
        key=cols(None, list(shape.key)),
        assignments=sql.SQL(", ").join(
            sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in non_key
        ),
        current=cols(sql.SQL("{}.").format(table), non_key),
        excluded=cols(sql.SQL("EXCLUDED."), non_key),
        key_text=key_text,
    )


_ARCHIVE_UPSERT = """
INSERT INTO oura_documents (data_type, id, day, document)
SELECT %s, incoming.id, incoming.day, incoming.document
FROM jsonb_to_recordset(%s::jsonb) AS incoming(id text, day date, document jsonb)
ON CONFLICT (data_type, id) DO UPDATE
   SET day = EXCLUDED.day, document = EXCLUDED.document, last_changed_at = now()
WHERE (oura_documents.day, oura_documents.document)
      IS DISTINCT FROM (EXCLUDED.day, EXCLUDED.document)
RETURNING id, (xmax = 0)
"""

_QUARANTINE = """
INSERT INTO quarantined_documents
       (data_type, document_id, document, raw_document, reason_code, reason)
SELECT %s, incoming.document_id, incoming.document, incoming.raw_document,
       incoming.reason_code, incoming.reason
FROM jsonb_to_recordset(%s::jsonb)
     AS incoming(document_id text, document jsonb, raw_document text, reason_code text,
                 reason text)
ON CONFLICT (data_type, md5(raw_document)) DO NOTHING
"""


# Heart rate, by far the most rows, goes as three binary arrays unpacked with `unnest`:
# PostgreSQL neither parses JSON nor reads timestamps from text (docs/performance.md#ingest).
# Used only while the table has exactly these columns (any other shape takes the JSON path).
_HEART_RATE_SHAPE = (
    "heart_rate",
    ("timestamp", "source"),
    frozenset({"timestamp", "source", "bpm"}),
)
_HEART_RATE_UPSERT = """
INSERT INTO heart_rate ("timestamp", source, bpm)
SELECT * FROM unnest(%b::timestamptz[], %b::text[], %b::integer[])
ON CONFLICT ("timestamp", source) DO UPDATE SET bpm = EXCLUDED.bpm, updated_at = now()
WHERE (heart_rate.bpm) IS DISTINCT FROM (EXCLUDED.bpm)
RETURNING NULL::text, (xmax = 0)
"""


def _latest(valid: list[Valid]) -> list[Valid]:
    """One document per key, the last one of the batch; in key order, so concurrent batches
    with overlapping keys lock rows in the same order and cannot deadlock each other."""
    latest: dict[tuple[Any, ...], Valid] = {}
    for document in valid:
        latest[document.identity] = document
    return [latest[identity] for identity in sorted(latest)]


def _payloads(archived: bool, unique: list[Valid]) -> tuple[str, str]:
    # The archive gets each document's received JSON text spliced in as it is: verbatim, and
    # free of what jsonb refuses (the reader rejected those documents).
    archive = (
        "["
        + ",".join(
            f'{{"id":{json.dumps(doc.key)},'
            f'"day":{json.dumps(doc.day.isoformat()) if doc.day else "null"},'
            f'"document":{doc.raw.text}}}'
            for doc in unique
        )
        + "]"
        if archived
        else "[]"
    )
    # msgspec writes the same JSON values as json.dumps, five times faster (non-ASCII as
    # UTF-8 rather than escapes, exponents as `1e16` rather than `1e+16`: the same jsonb).
    typed = _ENCODER.encode([doc.row for doc in unique]).decode()
    return archive, typed


def _quarantine_payload(rejected: Sequence[Rejected]) -> str:
    rows = []
    for item in rejected:
        document, rejection = item.document, item.rejection
        # jsonb holds the document when it was read without a content problem; the exact
        # text is kept in every case (escaped as a JSON string, so a `\u0000` or lone
        # surrogate escape is stored as those six characters, never decoded).
        holdable = document.problem is None and rejection.code != DATABASE_REFUSED
        rows.append(
            f'{{"document_id":{json.dumps(rejection.id)},'
            f'"reason_code":{json.dumps(rejection.code)},'
            f'"reason":{json.dumps(rejection.error)},'
            f'"raw_document":{json.dumps(document.text)},'
            f'"document":{document.text if holdable else "null"}}}'
        )
    return "[" + ",".join(rows) + "]"


@dataclass
class PreparedBatch:
    """A validated batch, ready to write: the CPU-bound half, run off the event loop."""

    data_type: DataType
    shape: TableShape
    result: BatchResult
    valid: list[Valid]
    unique: list[Valid]
    rejected: list[Rejected]
    archive_payload: str
    typed_payload: str
    # Heart rate: the typed rows as one list per column (`_HEART_RATE_UPSERT`), else None.
    typed_columns: tuple[list[Any], ...] | None = None


def prepare(
    data_type: DataType, shape: TableShape, documents: Sequence[ReceivedDocument]
) -> PreparedBatch:
    """Validate, de-duplicate and serialise a batch (no database access)."""
    result = BatchResult(data_type.name, received=len(documents))
    valid, rejected = validate(data_type, shape, documents)
    return _prepared(data_type, shape, result, valid, rejected)


def _prepared(
    data_type: DataType,
    shape: TableShape,
    result: BatchResult,
    valid: list[Valid],
    rejected: list[Rejected],
) -> PreparedBatch:
    unique = _latest(valid)
    result.rejected = [item.rejection for item in rejected]
    if (shape.table, shape.key, frozenset(shape.names)) == _HEART_RATE_SHAPE:
        columns = (
            [doc.identity[0] for doc in unique],  # the validated instant, not its text
            [doc.identity[1] for doc in unique],
            [doc.row["bpm"] for doc in unique],
        )
        return PreparedBatch(data_type, shape, result, valid, unique, rejected, "[]", "", columns)
    archive_payload, typed_payload = _payloads(data_type.name != "heartrate", unique)
    return PreparedBatch(
        data_type, shape, result, valid, unique, rejected, archive_payload, typed_payload
    )


async def store_batch(
    conn: AsyncConnection[Any], data_type: DataType, shape: TableShape, documents: Sequence[Any]
) -> BatchResult:
    """Validate and store one batch of Python values (see `received`); return the counts."""
    return await write(conn, prepare(data_type, shape, received(documents)))


def refused_for_content(exc: psycopg.Error) -> bool:
    """PostgreSQL refused a value (SQLSTATE class 22, data exception) or its size (class 54,
    program limit exceeded, e.g. a jsonb too large): the data's fault, not the database's.
    psycopg files class 54 under OperationalError, so this must be asked before treating an
    OperationalError as "database unreachable"."""
    state = exc.sqlstate or ""
    return state.startswith(("22", "54"))


async def write(conn: AsyncConnection[Any], batch: PreparedBatch) -> BatchResult:
    """Store a prepared batch (`store`), then bring the insights of its days up to date."""
    result = await store(conn, batch)
    await insights.refresh_after_batch(conn, batch.data_type.name, (d.day for d in batch.unique))
    return result


async def store(conn: AsyncConnection[Any], batch: PreparedBatch) -> BatchResult:
    """Store a prepared batch; return the per-outcome counts.

    One transaction for the batch. Should PostgreSQL refuse a value in it (see
    `refused_for_content`), the batch is stored again one document per transaction, and the
    documents it still refuses are quarantined with the code `database_refused`.
    """
    try:
        return await _write_once(conn, batch)
    except psycopg.Error as exc:
        if not refused_for_content(exc) or conn.broken:
            raise
        log.warning(
            "batch refused by the database; storing its documents one by one",
            data_type=batch.data_type.name,
            sqlstate=exc.sqlstate,
        )
    return await _write_one_by_one(conn, batch)


async def _write_one_by_one(conn: AsyncConnection[Any], batch: PreparedBatch) -> BatchResult:
    data_type, shape = batch.data_type, batch.shape
    total = BatchResult(data_type.name, received=batch.result.received)
    rejected = list(batch.rejected)
    stored: list[Valid] = []
    for document in batch.valid:
        single = _prepared(data_type, shape, BatchResult(data_type.name), [document], [])
        try:
            result = await _write_once(conn, single)
        except psycopg.Error as exc:
            if not refused_for_content(exc) or conn.broken:
                raise
            reason = exc.diag.message_primary or "refused by the database"
            document_id = document.key or best_effort_id(data_type, document.raw.value)
            rejection = Rejection(document.index, document_id, DATABASE_REFUSED, reason)
            rejected.append(Rejected(document.raw, rejection))
            continue
        stored.append(document)
        total.inserted += result.inserted
        total.updated += result.updated
    rejected.sort(key=lambda item: item.rejection.index)
    quarantine = _prepared(data_type, shape, BatchResult(data_type.name), [], rejected)
    await _write_once(conn, quarantine)
    total.rejected = [item.rejection for item in rejected]
    total.unchanged = len(stored) - total.inserted - total.updated
    return total


async def _write_once(conn: AsyncConnection[Any], batch: PreparedBatch) -> BatchResult:
    """Store a prepared batch in one transaction; return the per-outcome counts."""
    data_type, result, unique, rejected = (
        batch.data_type,
        batch.result,
        batch.unique,
        batch.rejected,
    )
    archived = data_type.name != "heartrate"
    async with conn.transaction():
        # UTC for timestamps sent without an offset; a bound on lock waits and slow writes
        # (a cancelled statement is answered 503 and retried by the collector).
        await conn.execute(
            "SELECT set_config('timezone', 'UTC', true), set_config('statement_timeout', %s, true)",
            (f"{STATEMENT_TIMEOUT_SECONDS}s",),
        )
        if rejected:
            await conn.execute(_QUARANTINE, (data_type.name, _quarantine_payload(rejected)))
        if not unique:
            return result
        archive_inserted: set[str] = set()
        archive_updated: set[str] = set()
        if archived:
            cursor = await conn.execute(_ARCHIVE_UPSERT, (data_type.name, batch.archive_payload))
            for key, inserted in await cursor.fetchall():
                (archive_inserted if inserted else archive_updated).add(key)
        if batch.typed_columns is not None:
            cursor = await conn.execute(_HEART_RATE_UPSERT, batch.typed_columns)
        else:
            cursor = await conn.execute(_typed_upsert(batch.shape), (batch.typed_payload,))
        typed_rows = await cursor.fetchall()
        if not archived and typed_rows:  # samples were inserted or revised: their days change
            await heart_rate_daily.refresh(conn, [doc.identity[0] for doc in unique])

    if archived:
        typed_changed = {key for key, _ in typed_rows}
        for doc in unique:
            if doc.key in archive_inserted:
                result.inserted += 1
            elif doc.key in archive_updated or doc.key in typed_changed:
                result.updated += 1
    else:
        result.inserted = sum(1 for _, inserted in typed_rows if inserted)
        result.updated = len(typed_rows) - result.inserted
    # Earlier duplicates of a key in the batch were superseded: they count as unchanged.
    result.unchanged = len(batch.valid) - result.inserted - result.updated
    return result
