"""`myhealth import DIR`: load an export into `DATABASE_URL`, through the ingest path.

Before anything is written, the manifest and every file it lists are checked (size, line count,
SHA-256; `manifest.verify`): a truncated, changed or incomplete export is refused with exit 3,
one written by a newer myhealth (a schema this code does not know) with exit 4, and a database
that is not migrated far enough is told to run `myhealth migrate`.

The documents then go through what `POST /api/v1/ingest` runs for a batch — the same reader
(`read_document`, which keeps each document's exact JSON text), the same validation and the
same upserts (`writer.prepare` + `writer.write`) — in batches of at most `BATCH_DOCUMENTS`
documents and `BATCH_BYTES` of text (so memory does not grow with the history), in one
transaction per data type (each batch is a savepoint in it). Upserts make it idempotent: a
second import of the same export reports every document unchanged and changes no row. While
loading, each file is hashed again; should it differ from the verified one (changed meanwhile)
that type's transaction is rolled back.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg

from myhealth.oura.catalog import DATA_TYPES
from myhealth.platform.bounded_json import MalformedJson, ReceivedDocument, read_document
from myhealth.platform.config import DatabaseSettings, load
from myhealth.portability.manifest import (
    EXIT_NEWER_SCHEMA,
    EXIT_REFUSED,
    FileEntry,
    ImportRefused,
    Manifest,
    verify,
)
from myhealth.processor import writer
from myhealth.storage import migrate
from myhealth.storage.db import CONNECT_TIMEOUT_SECONDS, DatabaseUnavailable

BATCH_DOCUMENTS = 5_000  # what the collector sends per ingest request
# ... and at most this much JSON text: a batch of large documents (a daily_activity is ~8 KB of
# text and ~100 KB once parsed) would otherwise make memory grow with the history's length.
BATCH_BYTES = 2_000_000
SHOWN_REJECTIONS = 20


@dataclass
class TypeResult:
    data_type: str
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[str] = field(default_factory=list)  # "line N (id): reason"

    def line(self) -> str:
        return (
            f"{self.data_type}: {self.received} received, {self.inserted} inserted, "
            f"{self.updated} updated, {self.unchanged} unchanged, {len(self.rejected)} rejected"
        )


class _ChangedDuringImport(Exception):
    pass


def check_schema(manifest: Manifest, database_version: int | None, directory: Path) -> None:
    """Refuse an export this code or this database cannot hold."""
    known = migrate.available()[-1].version
    if manifest.schema_version > known:
        raise ImportRefused(
            f"refusing {directory}: it was written by myhealth {manifest.product_version} with "
            f"database schema version {manifest.schema_version}, newer than this myhealth "
            f"knows ({known}); upgrade myhealth, run `myhealth migrate`, then import; nothing "
            "was written",
            exit_code=EXIT_NEWER_SCHEMA,
        )
    if database_version is None or database_version < known:
        raise ImportRefused(
            f"the database is at schema version {database_version or 'none'}, this myhealth "
            f"needs {known}: run `myhealth migrate` first; nothing was written",
            exit_code=2,
        )


async def _database_version(conn: psycopg.AsyncConnection[Any]) -> int | None:
    cursor = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if await cursor.fetchone() != (True,):
        return None
    cursor = await conn.execute("SELECT max(version) FROM schema_migrations")
    row = await cursor.fetchone()
    await conn.rollback()
    return int(row[0]) if row and row[0] is not None else None


async def _load_type(
    conn: psycopg.AsyncConnection[Any],
    entry: FileEntry,
    shape: writer.TableShape,
    path: Path,
) -> TypeResult:
    assert entry.data_type is not None
    data_type = DATA_TYPES[entry.data_type]
    result = TypeResult(data_type.name)
    digest = hashlib.sha256()

    async def store(documents: list[ReceivedDocument], first_line: int) -> None:
        outcome = await writer.write(conn, writer.prepare(data_type, shape, documents))
        result.received += outcome.received
        result.inserted += outcome.inserted
        result.updated += outcome.updated
        result.unchanged += outcome.unchanged
        for rejection in outcome.rejected:
            result.rejected.append(
                f"line {first_line + rejection.index} ({rejection.id}): {rejection.error}"
            )

    async with conn.transaction():
        with path.open("rb") as source:
            batch: list[ReceivedDocument] = []
            batch_bytes = 0
            first_line = 1
            for number, raw in enumerate(source, start=1):
                digest.update(raw)
                batch_bytes += len(raw)
                try:
                    batch.append(read_document(raw.rstrip(b"\n")))
                except MalformedJson as exc:
                    raise ImportRefused(
                        f"{entry.name} line {number} is not a JSON document ({exc}); the "
                        f"{data_type.name} documents were not imported",
                        exit_code=EXIT_REFUSED,
                    ) from None
                if len(batch) == BATCH_DOCUMENTS or batch_bytes >= BATCH_BYTES:
                    await store(batch, first_line)
                    batch, batch_bytes, first_line = [], 0, number + 1
            if batch:
                await store(batch, first_line)
        if digest.hexdigest() != entry.sha256:
            raise _ChangedDuringImport(entry.name)
    return result


async def import_export(
    database_url: str, directory: Path, report: IO[str] | None = None
) -> list[TypeResult]:
    """Verify the export in `directory`, then load each data type; return what happened."""
    manifest = verify(directory)
    try:
        conn = await psycopg.AsyncConnection.connect(
            database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(database_url, exc) from None
    results = []
    async with conn:
        check_schema(manifest, await _database_version(conn), directory)
        shapes = await writer.load_shapes(conn)
        await conn.rollback()
        for entry in manifest.documents():
            assert entry.data_type is not None
            try:
                result = await _load_type(
                    conn, entry, shapes[entry.data_type], directory / entry.name
                )
            except _ChangedDuringImport:
                raise ImportRefused(
                    f"{entry.name} changed while it was being imported; its documents were "
                    "not imported (the types reported above were)",
                    exit_code=EXIT_REFUSED,
                ) from None
            results.append(result)
            if report:
                print(result.line(), file=report)
    return results


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(DatabaseSettings, environ)
    directory = Path(args.directory)
    results = asyncio.run(import_export(settings.database_url, directory, report=sys.stdout))
    received = sum(result.received for result in results)
    rejected = [line for result in results for line in result.rejected]
    print(
        f"imported {received - len(rejected)} of {received} documents from {directory} "
        f"({sum(r.inserted for r in results)} inserted, {sum(r.updated for r in results)} "
        f"updated, {sum(r.unchanged for r in results)} unchanged)"
    )
    if rejected:
        print(
            f"myhealth import: {len(rejected)} documents were rejected by validation and "
            "quarantined (docs/troubleshooting.md#quarantined-documents):",
            file=sys.stderr,
        )
        for line in rejected[:SHOWN_REJECTIONS]:
            print(f"  {line}", file=sys.stderr)
        if len(rejected) > SHOWN_REJECTIONS:
            print(f"  … and {len(rejected) - SHOWN_REJECTIONS} more", file=sys.stderr)
        return 1
    return 0
