"""The set-based batch writer behind `POST /api/v1/ingest`.

One batch is one transaction with at most three statements, whatever its size:

1. invalid documents go verbatim into `quarantined_documents`, with the reason;
2. valid documents (not heart rate) are upserted verbatim into the `oura_documents` archive;
3. the validated values are upserted into the type's typed table.

Each statement sends the whole batch as one JSON array, unpacked server-side with
`jsonb_to_recordset`, and upserts with `ON CONFLICT ... DO UPDATE ... WHERE (cols) IS DISTINCT
FROM (excluded cols)`, so an identical document touches no row (`updated_at` and
`last_changed_at` stay put) and `RETURNING (xmax = 0)` tells inserted rows from updated ones.
Duplicates of one key inside a batch are collapsed before the upsert (the last one wins), since
PostgreSQL refuses to update the same row twice in one statement.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection, sql

from myhealth.oura import models
from myhealth.oura.catalog import DATA_TYPES, DataType

# Columns every typed table has that the writer maintains itself.
_BOOKKEEPING_COLUMNS = frozenset({"created_at", "updated_at"})
_INT32 = (-(2**31), 2**31 - 1)
_INT_TYPES = frozenset({"integer", "smallint"})
STATEMENT_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Rejection:
    index: int
    id: str | None
    error: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "error": self.error}


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
    raw: Any
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
    """An id for the rejection report and the quarantine, when the document has one."""
    if not isinstance(raw, dict):
        return None
    parts = [raw.get(key) for key in data_type.key]
    if any(part is None for part in parts):
        return raw.get("id") if isinstance(raw.get("id"), str) else None
    return "|".join(str(part) for part in parts)


def _out_of_range(int_columns: Sequence[str], row: dict[str, Any]) -> str | None:
    low, high = _INT32
    for column in int_columns:
        value = row.get(column)
        if isinstance(value, int) and not low <= value <= high:
            return f"{column} is out of range for a 32-bit integer"
    return None


def validate(
    data_type: DataType, shape: TableShape, documents: Sequence[Any]
) -> tuple[list[_Valid], list[tuple[int, Any, Rejection]]]:
    """Split a batch into valid documents (with their typed row) and rejections."""
    valid: list[_Valid] = []
    rejected: list[tuple[int, Any, Rejection]] = []
    include = set(shape.names)
    int_columns = [name for name, sql_type in shape.columns if sql_type in _INT_TYPES]
    archived = data_type.name != "heartrate"
    for index, raw in enumerate(documents):
        try:
            document = models.parse(data_type.name, raw)
            row = document.model_dump(mode="json", include=include)
            if problem := _out_of_range(int_columns, row):
                raise models.InvalidDocument(problem)
        except models.InvalidDocument as exc:
            rejection = Rejection(index, _best_effort_id(data_type, raw), str(exc))
            rejected.append((index, raw, rejection))
            continue
        identity = tuple(getattr(document, field) for field in data_type.key)
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
INSERT INTO quarantined_documents (data_type, document_id, document, reason)
SELECT %s, incoming.document_id, coalesce(incoming.document, 'null'::jsonb), incoming.reason
FROM jsonb_to_recordset(%s::jsonb) AS incoming(document_id text, document jsonb, reason text)
"""


_NUL = "\\u0000"  # how json.dumps writes U+0000, which PostgreSQL text and jsonb refuse
_NUL_REASON = "contains a NUL character (\\u0000), which PostgreSQL cannot store"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _latest(valid: list[_Valid]) -> list[_Valid]:
    """One document per key, the last one of the batch; in key order, so concurrent batches
    with overlapping keys lock rows in the same order and cannot deadlock each other."""
    latest: dict[tuple[Any, ...], _Valid] = {}
    for document in valid:
        latest[document.identity] = document
    return [latest[identity] for identity in sorted(latest)]


def _payloads(archived: bool, unique: list[_Valid]) -> tuple[str, str]:
    archive = (
        json.dumps(
            [
                {
                    "id": doc.key,
                    "day": doc.day.isoformat() if doc.day else None,
                    "document": doc.raw,
                }
                for doc in unique
            ],
            separators=(",", ":"),
        )
        if archived
        else "[]"
    )
    typed = json.dumps([doc.row for doc in unique], separators=(",", ":"))
    return archive, typed


def _quarantine_payload(rejected: list[tuple[int, Any, Rejection]]) -> str:
    rows = [
        {"document_id": rejection.id, "reason": rejection.error, "document": raw}
        for _, raw, rejection in rejected
    ]
    # The quarantine keeps what it can: a NUL becomes U+FFFD there, nowhere else.
    return json.dumps(rows, separators=(",", ":")).replace(_NUL, "\\ufffd")


@dataclass
class PreparedBatch:
    """A validated batch, ready to write: the CPU-bound half, run off the event loop."""

    data_type: DataType
    shape: TableShape
    result: BatchResult
    valid: list[_Valid]
    unique: list[_Valid]
    rejected: list[tuple[int, Any, Rejection]]
    archive_payload: str
    typed_payload: str


def prepare(data_type: DataType, shape: TableShape, documents: Sequence[Any]) -> PreparedBatch:
    """Validate, de-duplicate and serialise a batch (no database access)."""
    result = BatchResult(data_type.name, received=len(documents))
    valid, rejected = validate(data_type, shape, documents)
    archived = data_type.name != "heartrate"
    unique = _latest(valid)
    archive_payload, typed_payload = _payloads(archived, unique)
    if _NUL in archive_payload or _NUL in typed_payload:  # rare: find the culprits
        clean = []
        for doc in valid:
            if _has_nul(doc.raw):
                rejection = Rejection(doc.index, _best_effort_id(data_type, doc.raw), _NUL_REASON)
                rejected.append((doc.index, doc.raw, rejection))
            else:
                clean.append(doc)
        rejected.sort(key=lambda item: item[0])
        valid = clean
        unique = _latest(valid)
        archive_payload, typed_payload = _payloads(archived, unique)
    result.rejected = [rejection for _, _, rejection in rejected]
    return PreparedBatch(
        data_type, shape, result, valid, unique, rejected, archive_payload, typed_payload
    )


async def store_batch(
    conn: AsyncConnection[Any], data_type: DataType, shape: TableShape, documents: Sequence[Any]
) -> BatchResult:
    """Validate and store one batch in one transaction; return the per-outcome counts."""
    return await write(conn, prepare(data_type, shape, documents))


async def write(conn: AsyncConnection[Any], batch: PreparedBatch) -> BatchResult:
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
