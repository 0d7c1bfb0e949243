"""Validation of an ingest batch: which documents are valid, and the typed row of each.

The CPU-bound half of an ingest (`myhealth.processor.writer` is the database half): every
document is validated by its model (`myhealth.oura.models`), its integers checked against
the typed table's column types, and each valid one becomes the row of its typed table; every
other one becomes a `Rejection` with a stable reason code and a readable message.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from myhealth.oura import models
from myhealth.oura.catalog import DATA_TYPES, DataType
from myhealth.platform.bounded_json import ReceivedDocument, printable, read_document

# Columns every typed table has that the writer maintains itself.
_BOOKKEEPING_COLUMNS = frozenset({"created_at", "updated_at"})
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INT_TYPES = frozenset({"integer", "smallint"})
_BIGINT_TYPES = frozenset({"bigint"})
# Reason codes of rejections decided here (the others come from the reader and the models).
# Reason codes of rejections decided here (the others come from the reader and the models).
NUMBER_OUT_OF_RANGE = "number_out_of_range"


@dataclass(frozen=True)
class Rejection:
    index: int
    id: str | None
    code: str  # stable: ProblemCode values, the models' codes, or the two above
    error: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "code": self.code, "error": self.error}


@dataclass(frozen=True)
class Rejected:
    document: ReceivedDocument
    rejection: Rejection


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
class Valid:
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


def best_effort_id(data_type: DataType, raw: Any) -> str | None:
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


# Heart rate's usual sample, validated without the model (docs/performance.md#ingest): the
# model costs more than anything else per sample, and there are hundreds of thousands. Only
# a sample that is plainly valid is taken here; anything else (another key, a naive or
# unusual timestamp, a float or boolean where an integer goes, a year out of range) goes to
# the model, which decides and words the rejection (tests/processor/test_validation.py holds
# this to the model's answers).
_USUAL_TIMESTAMP = re.compile(r"(\d{4})-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)")
_SAMPLE_KEYS = frozenset({"timestamp", "timestamp_unix", "bpm", "source"})
_SAMPLE_ROW = frozenset({"timestamp", "source", "bpm"})


def usual_sample(value: Any) -> tuple[dt.datetime, dict[str, Any]] | None:
    """A heart-rate sample's instant and typed row when it has the usual shape and is valid,
    else None (then the model decides)."""
    if type(value) is not dict or not value.keys() <= _SAMPLE_KEYS:
        return None
    timestamp, bpm, source = value.get("timestamp"), value.get("bpm"), value.get("source")
    unix = value.get("timestamp_unix")
    if type(timestamp) is not str or type(bpm) is not int or type(source) is not str:
        return None
    if (unix is not None and type(unix) is not int) or not _INT32[0] <= bpm <= _INT32[1]:
        return None
    match = _USUAL_TIMESTAMP.fullmatch(timestamp)
    if match is None or not models.FIRST_YEAR <= int(match.group(1)) <= models.LAST_YEAR:
        return None
    try:
        instant = dt.datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if not models.FIRST_YEAR <= instant.astimezone(dt.UTC).year <= models.LAST_YEAR:
        return None
    return instant, {"timestamp": instant.isoformat(), "source": source, "bpm": bpm}


def validate(
    data_type: DataType, shape: TableShape, documents: Sequence[ReceivedDocument]
) -> tuple[list[Valid], list[Rejected]]:
    """Split a batch into valid documents (with their typed row) and rejections."""
    valid: list[Valid] = []
    rejected: list[Rejected] = []
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
    samples = data_type.name == "heartrate" and scalars == _SAMPLE_ROW and not objects
    for index, raw in enumerate(documents):
        if raw.problem is not None:
            document_id = best_effort_id(data_type, raw.value)
            rejection = Rejection(index, document_id, raw.problem.code.value, raw.problem.message)
            rejected.append(Rejected(raw, rejection))
            continue
        if samples and (usual := usual_sample(raw.value)):
            instant, row = usual
            valid.append(Valid(index, (instant, row["source"]), "", raw, row, None))
            continue
        try:
            document = models.parse(data_type.name, raw.value)
            row = document.model_dump(mode="json", include=scalars)
            for name in objects:  # already plain JSON values: dumping would only copy them
                row[name] = getattr(document, name)
            if problem := _out_of_range(int_columns, row):
                raise models.InvalidDocument(problem, NUMBER_OUT_OF_RANGE)
        except models.InvalidDocument as exc:
            document_id = best_effort_id(data_type, raw.value)
            rejection = Rejection(index, document_id, exc.code, str(exc))
            rejected.append(Rejected(raw, rejection))
            continue
        identity = (key_of(document),) if single_key else key_of(document)
        key = models.document_key(data_type.name, document) if archived else ""
        day = models.document_day(data_type.name, document) if archived else None
        valid.append(Valid(index, identity, key, raw, row, day))
    return valid, rejected
