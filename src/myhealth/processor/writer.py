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

Each statement sends the whole batch as one JSON array, unpacked server-side with
`jsonb_to_recordset`, and upserts with `ON CONFLICT ... DO UPDATE ... WHERE (cols) IS DISTINCT
FROM (excluded cols)`, so an identical document touches no row (`updated_at` and
`last_changed_at` stay put) and `RETURNING (xmax = 0)` tells inserted rows from updated ones.
Duplicates of one key inside a batch are collapsed before the upsert (the last one wins), since
PostgreSQL refuses to update the same row twice in one statement.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import psycopg
from psycopg import AsyncConnection, sql

from myhealth.oura import models
from myhealth.oura.catalog import DATA_TYPES, DataType
from myhealth.platform.bounded_json import ReceivedDocument, printable, read_document
from myhealth.platform.logging import get_logger

log = get_logger(__name__)

# Columns every typed table has that the writer maintains itself.
_BOOKKEEPING_COLUMNS = frozenset({"created_at", "updated_at"})
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INT_TYPES = frozenset({"integer", "smallint"})
_BIGINT_TYPES = frozenset({"bigint"})
# Reason codes of rejections decided here (the others come from the reader and the models).
NUMBER_OUT_OF_RANGE = "number_out_of_range"
DATABASE_REFUSED = "database_refused"
STATEMENT_TIMEOUT_SECONDS = 60
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True)
class Rejection:
    index: int
    id: str | None
    code: str  # stable: ProblemCode values, the models' codes, or the two above
    error: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "code": self.code, "error": self.error}


@dataclass(frozen=True)
class _Rejected:
    document: ReceivedDocument
    rejection: Rejection


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


@dataclass(frozen=True)
class TableShape:
    """The typed-table columns a data type writes: model fields that are also table columns."""

    table: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (column, SQL type as PostgreSQL prints it)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]


@dataclass(frozen=True)
class _Valid:
    index: int
    identity: tuple[Any, ...]  # the typed table's key values: what duplicates are judged by
    key: str  # the archive id ("" for heart rate, which is not archived)
    raw: ReceivedDocument
    row: dict[str, Any]
    day: dt.date | None


async def load_shapes(conn: AsyncConnection[Any]) -> dict[str, TableShape]:
    """Read the typed tables' columns from the catalogue, once per process."""
    tables = [data_type.table for data_type in DATA_TYPES.values()]
    cursor = await conn.execute(
        """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           WHERE c.relname = ANY(%s) AND c.relkind = 'r'
             AND c.relnamespace = to_regnamespace(current_schema())
             AND a.attnum > 0 AND NOT a.attisdropped
           ORDER BY c.relname, a.attnum""",
        (tables,),
    )
    table_columns: dict[str, list[tuple[str, str]]] = {}
    for table, column, sql_type in await cursor.fetchall():
        table_columns.setdefault(table, []).append((column, sql_type))
    shapes = {}
    for name, data_type in DATA_TYPES.items():
        fields = models.MODELS[name].model_fields
        columns = tuple(
            (column, sql_type)
            for column, sql_type in table_columns.get(data_type.table, [])
            if column in fields and column not in _BOOKKEEPING_COLUMNS
        )
        if not columns:
            raise RuntimeError(f"typed table {data_type.table} is missing: run `myhealth migrate`")
        shapes[name] = TableShape(data_type.table, data_type.key, columns)
    return shapes


def _best_effort_id(data_type: DataType, raw: Any) -> str | None:
    """An id for the rejection report and the quarantine, when the document has one (a NUL or
    a lone surrogate in it is written as its escape, which PostgreSQL text can hold)."""
    if not isinstance(raw, dict):
        return None
    parts = [raw.get(key) for key in data_type.key]
    if any(part is None for part in parts):
        document_id = raw.get("id")
        return printable(document_id) if isinstance(document_id, str) else None
    return printable("|".join(str(part) for part in parts))


def _out_of_range(int_columns: Sequence[tuple[str, str]], row: dict[str, Any]) -> str | None:
    for column, sql_type in int_columns:
        low, high = _INT64 if sql_type in _BIGINT_TYPES else _INT32
        value = row.get(column)
        if isinstance(value, int) and not low <= value <= high:
            bits = 64 if sql_type in _BIGINT_TYPES else 32
            return f"{column} is out of range for a {bits}-bit integer"
    return None


def received(values: Sequence[Any]) -> list[ReceivedDocument]:
    """Documents given as Python values (`myhealth import`, tests) as if they had arrived as
    JSON: encoded the way the collector sends them, then read like an ingest body."""
    documents = []
    for value in values:
        try:
            text = json.dumps(value, ensure_ascii=True, allow_nan=True)
        except ValueError as exc:  # an integer Python will not print (over 4,300 digits)
            text = json.dumps(f"unprintable value: {exc}")
        documents.append(read_document(text))
    return documents


@functools.cache
def _json_object_fields(data_type: str) -> tuple[str, ...]:
    """Fields holding JSON objects (or arrays of them) of any content, e.g. daily activity's
    1,440 MET values: validated as objects, their members are the decoded JSON values
    already, so they go into the typed row as they are (`model_dump` would walk and copy
    every element to the same result)."""

    def is_object(annotation: Any) -> bool:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            return is_object(typing.get_args(annotation)[0])
        if origin in (typing.Union, types.UnionType):
            return any(is_object(arg) for arg in typing.get_args(annotation))
        if origin is list:
            return is_object(typing.get_args(annotation)[0])
        return origin is dict

    fields = models.MODELS[data_type].model_fields
    return tuple(name for name, info in fields.items() if is_object(info.annotation))


def validate(
    data_type: DataType, shape: TableShape, documents: Sequence[ReceivedDocument]
) -> tuple[list[_Valid], list[_Rejected]]:
    """Split a batch into valid documents (with their typed row) and rejections."""
    valid: list[_Valid] = []
    rejected: list[_Rejected] = []
    include = set(shape.names)
    int_columns = [
        (name, sql_type)
        for name, sql_type in shape.columns
        if sql_type in _INT_TYPES | _BIGINT_TYPES
    ]
    archived = data_type.name != "heartrate"
    key_of = operator.attrgetter(*data_type.key)
    single_key = len(data_type.key) == 1
    objects = [name for name in _json_object_fields(data_type.name) if name in include]
    scalars = include.difference(objects)
    for index, raw in enumerate(documents):
        if raw.problem is not None:
            document_id = _best_effort_id(data_type, raw.value)
            rejection = Rejection(index, document_id, raw.problem.code.value, raw.problem.message)
            rejected.append(_Rejected(raw, rejection))
            continue
        try:
            document = models.parse(data_type.name, raw.value)
            row = document.model_dump(mode="json", include=scalars)
            for name in objects:  # already plain JSON values: dumping would only copy them
                row[name] = getattr(document, name)
            if problem := _out_of_range(int_columns, row):
                raise models.InvalidDocument(problem, NUMBER_OUT_OF_RANGE)
        except models.InvalidDocument as exc:
            document_id = _best_effort_id(data_type, raw.value)
            rejection = Rejection(index, document_id, exc.code, str(exc))
            rejected.append(_Rejected(raw, rejection))
            continue
        identity = (key_of(document),) if single_key else key_of(document)
        key = models.document_key(data_type.name, document) if archived else ""
        day = models.document_day(data_type.name, document) if archived else None
        valid.append(_Valid(index, identity, key, raw, row, day))
    return valid, rejected


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


def _latest(valid: list[_Valid]) -> list[_Valid]:
    """One document per key, the last one of the batch; in key order, so concurrent batches
    with overlapping keys lock rows in the same order and cannot deadlock each other."""
    latest: dict[tuple[Any, ...], _Valid] = {}
    for document in valid:
        latest[document.identity] = document
    return [latest[identity] for identity in sorted(latest)]


def _payloads(archived: bool, unique: list[_Valid]) -> tuple[str, str]:
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


def _quarantine_payload(rejected: Sequence[_Rejected]) -> str:
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
    valid: list[_Valid]
    unique: list[_Valid]
    rejected: list[_Rejected]
    archive_payload: str
    typed_payload: str


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
    valid: list[_Valid],
    rejected: list[_Rejected],
) -> PreparedBatch:
    unique = _latest(valid)
    archive_payload, typed_payload = _payloads(data_type.name != "heartrate", unique)
    result.rejected = [item.rejection for item in rejected]
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
    stored: list[_Valid] = []
    for document in batch.valid:
        single = _prepared(data_type, shape, BatchResult(data_type.name), [document], [])
        try:
            result = await _write_once(conn, single)
        except psycopg.Error as exc:
            if not refused_for_content(exc) or conn.broken:
                raise
            reason = exc.diag.message_primary or "refused by the database"
            document_id = document.key or _best_effort_id(data_type, document.raw.value)
            rejection = Rejection(document.index, document_id, DATABASE_REFUSED, reason)
            rejected.append(_Rejected(document.raw, rejection))
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
        cursor = await conn.execute(_typed_upsert(batch.shape), (batch.typed_payload,))
        typed_rows = await cursor.fetchall()

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
