"""`myhealth export --out DIR`: every stored document, losslessly, one JSON Lines file per type.

Documents come from the `oura_documents` archive (the latest version of each, as Oura sent
it); heart-rate samples, which live only in their typed table, are written in Oura's shape
(`{"bpm", "source", "timestamp"}`). The day range follows the rule of the data routes
(`myhealth.oura.days`): a document's `day` (or `start_day`), the UTC date of a heart-rate
sample's timestamp; undated types (`personal_info`, `ring_configuration`) ignore the range.

Everything is read in one REPEATABLE READ, read-only transaction (one consistent snapshot),
through server-side cursors, and written line by line as it arrives, hashing as it goes: memory
stays flat whatever the size. The files go into a temporary directory next to DIR that is
renamed to DIR only after the manifest is written, so a directory named DIR is always a
complete export. See docs/backup.md#export-and-import.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

from myhealth import __version__
from myhealth.oura.catalog import DataType, parse_names
from myhealth.platform.config import DatabaseSettings, load
from myhealth.platform.errors import ErrorCode, UserFacingError
from myhealth.portability.manifest import DOCUMENTS, MANIFEST, VIEW_CSV, FileEntry, Manifest
from myhealth.storage.db import connect

# Rows per round trip of a server-side cursor: what one fetch holds in memory. Archived
# documents reach ~8 KB (daily_activity); a heart-rate sample is ~70 bytes.
FETCH_DOCUMENTS = 250
FETCH_SAMPLES = 10_000
DAILY_VIEWS = ("sleep_metrics", "activity_metrics", "readiness_metrics")

# The archive's documents of one type whose day is in the range (undated types: all).
_DOCUMENTS = """
SELECT day, document::text
FROM oura_documents
WHERE data_type = %(data_type)s
  AND (%(dated)s IS FALSE OR %(start)s::date IS NULL OR day >= %(start)s::date)
  AND (%(dated)s IS FALSE OR %(end)s::date IS NULL OR day <= %(end)s::date)
ORDER BY day, id
"""

# Heart-rate samples in Oura's shape; the session's time zone is UTC, so `to_json` writes
# timestamps as `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00` (exact to the microsecond).
_HEART_RATE = """
SELECT ("timestamp" AT TIME ZONE 'UTC')::date,
       json_build_object('bpm', bpm, 'source', source, 'timestamp', to_json("timestamp"))::text
FROM heart_rate
WHERE (%(start)s::timestamptz IS NULL OR "timestamp" >= %(start)s::timestamptz)
  AND (%(end)s::timestamptz IS NULL OR "timestamp" < %(end)s::timestamptz)
ORDER BY "timestamp", source
"""


class ExportRefused(UserFacingError):
    code = ErrorCode.EXPORT_REFUSED


class _HashingWriter:
    """A text file that counts its lines and bytes and hashes what is written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = path.open("wb")
        self._digest = hashlib.sha256()
        self.bytes = 0
        self.lines = 0

    def write_line(self, text: str) -> None:
        data = text.encode("utf-8") + b"\n"
        self._file.write(data)
        self._digest.update(data)
        self.bytes += len(data)
        self.lines += 1

    def close(self) -> str:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._digest.hexdigest()


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _rows(
    conn: psycopg.Connection, query: str, params: Mapping[str, Any], name: str, fetch: int
) -> Iterator[tuple[dt.date | None, str]]:
    """Rows from a server-side cursor, `fetch` at a time."""
    with conn.cursor(name=name) as cursor:
        cursor.itersize = fetch
        cursor.execute(query, params)
        yield from cursor


def export_type(
    conn: psycopg.Connection,
    data_type: DataType,
    start: dt.date | None,
    end: dt.date | None,
    directory: Path,
) -> FileEntry:
    """Write `<type>.jsonl` into `directory`; return its manifest entry."""
    if data_type.name == "heartrate":
        query, fetch = _HEART_RATE, FETCH_SAMPLES
        params: dict[str, Any] = {
            "start": _utc_midnight(start) if start else None,
            "end": _utc_midnight(end + dt.timedelta(days=1)) if end else None,
        }
    else:
        query, fetch = _DOCUMENTS, FETCH_DOCUMENTS
        params = {
            "data_type": data_type.name,
            "dated": data_type.day_field is not None,
            "start": start,
            "end": end,
        }
    name = f"{data_type.name}.jsonl"
    writer = _HashingWriter(directory / name)
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    try:
        for day, document in _rows(conn, query, params, f"export_{data_type.name}", fetch):
            writer.write_line(document)
            if day is not None:
                first_day = day if first_day is None else min(first_day, day)
                last_day = day if last_day is None else max(last_day, day)
    finally:
        sha256 = writer.close()
    return FileEntry(
        name=name,
        kind=DOCUMENTS,
        data_type=data_type.name,
        count=writer.lines,
        bytes=writer.bytes,
        sha256=sha256,
        first_day=first_day.isoformat() if first_day else None,
        last_day=last_day.isoformat() if last_day else None,
    )


def export_view_csv(
    conn: psycopg.Connection,
    view: str,
    start: dt.date | None,
    end: dt.date | None,
    directory: Path,
) -> FileEntry:
    """One daily view (`sleep_metrics` …) as CSV, a header line then one row per date."""
    query = sql.SQL(
        "SELECT * FROM {} WHERE (%(start)s::date IS NULL OR date >= %(start)s::date) "
        "AND (%(end)s::date IS NULL OR date <= %(end)s::date) ORDER BY date"
    ).format(sql.Identifier(view))
    name = f"{view}.csv"
    path = directory / name
    digest = hashlib.sha256()
    count = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    with path.open("w", encoding="utf-8", newline="") as file, conn.cursor(name=view) as cursor:
        cursor.itersize = FETCH_DOCUMENTS
        cursor.execute(query, {"start": start, "end": end})
        assert cursor.description is not None
        out = csv.writer(file, lineterminator="\n")
        out.writerow([column.name for column in cursor.description])
        for row in cursor:
            out.writerow(["" if value is None else value for value in row])
            count += 1
            first_day = first_day or row[0]
            last_day = row[0]
        file.flush()
        os.fsync(file.fileno())
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return FileEntry(
        name=name,
        kind=VIEW_CSV,
        data_type=None,
        count=count,
        bytes=path.stat().st_size,
        sha256=digest.hexdigest(),
        first_day=first_day.isoformat() if first_day else None,
        last_day=last_day.isoformat() if last_day else None,
    )


def schema_version(conn: psycopg.Connection) -> int:
    """The latest migration applied to the database."""
    found = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone() == (
        True,
    )
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone() if found else None
    if row is None or row[0] is None:
        raise ExportRefused("the database has no schema: run `myhealth migrate` first")
    return int(row[0])


def _prepare_target(out: Path) -> None:
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise ExportRefused(
            f"{out} already exists and is not an empty directory; choose a new --out",
            exit_code=2,
        )
    if not out.parent.is_dir():
        raise ExportRefused(f"{out.parent} does not exist", exit_code=2)


def export(
    database_url: str,
    out: Path,
    data_types: Sequence[DataType],
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    with_csv: bool = False,
    report: IO[str] | None = None,
) -> Manifest:
    """Write an export of `data_types` into the new directory `out`; return its manifest."""
    _prepare_target(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        with connect(database_url) as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.execute("SET LOCAL timezone = 'UTC'")
            manifest = Manifest(
                product_version=__version__,
                schema_version=schema_version(conn),
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                start_date=start.isoformat() if start else None,
                end_date=end.isoformat() if end else None,
                data_types=[data_type.name for data_type in data_types],
            )
            for data_type in data_types:
                entry = export_type(conn, data_type, start, end, staging)
                manifest.files.append(entry)
                if report:
                    print(f"{data_type.name}: {entry.count} documents", file=report)
            if with_csv:
                for view in DAILY_VIEWS:
                    manifest.files.append(export_view_csv(conn, view, start, end, staging))
            conn.rollback()
        (staging / MANIFEST).write_text(manifest.as_json(), encoding="utf-8")
        # Health data: the directory stays as mkdtemp made it, readable by its owner only.
        os.rename(staging, out)  # replaces an empty `out`; atomic on one file system
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(DatabaseSettings, environ)
    try:
        data_types = parse_names(args.data_types)
    except ValueError as exc:
        raise ExportRefused(str(exc), exit_code=2) from None
    if args.start_date and args.end_date and args.start_date > args.end_date:
        raise ExportRefused("--start-date is after --end-date", exit_code=2)
    out = Path(args.out)
    manifest = export(
        settings.database_url,
        out,
        data_types,
        args.start_date,
        args.end_date,
        with_csv=args.csv,
        report=sys.stderr,
    )
    total = sum(entry.count for entry in manifest.documents())
    print(f"exported {total} documents of {len(manifest.documents())} data types to {out}")
    return 0
