"""The export's `manifest.json`: what an export holds, and the check an import runs first.

An export directory holds one JSON Lines file per data type (`<type>.jsonl`, one document per
line, as Oura sent it), optionally CSV copies of the three daily views, and `manifest.json`:

    {"format": "myhealth-export", "format_version": 1,
     "product_version": "0.1.0", "schema_version": 4,
     "created_at": "2026-03-31T09:00:00+00:00",
     "start_date": null | "YYYY-MM-DD", "end_date": null | "YYYY-MM-DD",
     "data_types": ["daily_sleep", ...],
     "files": [{"name": "daily_sleep.jsonl", "kind": "documents", "data_type": "daily_sleep",
                "count": 365, "bytes": 123456, "sha256": "…",
                "first_day": "YYYY-MM-DD" | null, "last_day": "YYYY-MM-DD" | null}, ...]}

`count` is the number of lines (documents, or CSV rows after the header). See
docs/backup.md#export-and-import.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from myhealth.oura.catalog import DATA_TYPES
from myhealth.platform.errors import ErrorCode, UserFacingError

FORMAT = "myhealth-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DOCUMENTS = "documents"  # a file of one data type's documents, loaded by `import`
VIEW_CSV = "csv"  # a daily view as CSV, for spreadsheets; `import` verifies but never loads it
EXIT_REFUSED = 3  # the export is damaged, tampered with or not an export
EXIT_NEWER_SCHEMA = 4  # written by a newer myhealth
_CHUNK = 1 << 20
_PLAIN_NAME = re.compile(r"^[a-z0-9_]+\.(jsonl|csv)$")


class ImportRefused(UserFacingError):
    """The export failed verification; nothing was written."""

    code = ErrorCode.IMPORT_REFUSED


@dataclass
class FileEntry:
    name: str
    kind: str
    data_type: str | None
    count: int
    bytes: int
    sha256: str
    first_day: str | None = None
    last_day: str | None = None


@dataclass
class Manifest:
    product_version: str
    schema_version: int
    created_at: str
    start_date: str | None
    end_date: str | None
    data_types: list[str]
    files: list[FileEntry] = field(default_factory=list)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def as_json(self) -> str:
        body = asdict(self)
        ordered = {"format": body.pop("format"), "format_version": body.pop("format_version")}
        return json.dumps({**ordered, **body}, indent=2) + "\n"

    def documents(self) -> list[FileEntry]:
        return [entry for entry in self.files if entry.kind == DOCUMENTS]


def _refuse(directory: Path, reason: str) -> ImportRefused:
    return ImportRefused(
        f"refusing {directory}: {reason}; nothing was written", exit_code=EXIT_REFUSED
    )


def _parse(directory: Path, raw: Any) -> Manifest:
    """A manifest from its JSON, every field checked for type and sense."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise _refuse(directory, f"{MANIFEST} is not a {FORMAT} manifest")
    if raw.get("format_version") != FORMAT_VERSION:
        raise _refuse(
            directory,
            f"export format version {raw.get('format_version')!r} is not {FORMAT_VERSION} "
            "(written by another myhealth version)",
        )
    try:
        files = [FileEntry(**entry) for entry in raw["files"]]
        manifest = Manifest(
            product_version=str(raw["product_version"]),
            schema_version=raw["schema_version"],
            created_at=str(raw["created_at"]),
            start_date=raw["start_date"],
            end_date=raw["end_date"],
            data_types=list(raw["data_types"]),
            files=files,
        )
    except (KeyError, TypeError) as exc:
        raise _refuse(directory, f"{MANIFEST} is incomplete or malformed ({exc})") from None
    if not isinstance(manifest.schema_version, int):
        raise _refuse(directory, "schema_version is not a number")
    names = [entry.name for entry in files]
    if len(set(names)) != len(names):
        raise _refuse(directory, f"{MANIFEST} lists a file twice")
    for entry in files:
        if not _PLAIN_NAME.match(entry.name):
            raise _refuse(directory, f"{MANIFEST} names an unexpected file {entry.name!r}")
        if entry.kind == DOCUMENTS and (
            entry.data_type not in DATA_TYPES or entry.name != f"{entry.data_type}.jsonl"
        ):
            raise _refuse(directory, f"{entry.name}: unknown data type {entry.data_type!r}")
        if entry.kind not in (DOCUMENTS, VIEW_CSV):
            raise _refuse(directory, f"{entry.name}: unknown kind {entry.kind!r}")
        if not isinstance(entry.count, int) or not isinstance(entry.bytes, int):
            raise _refuse(directory, f"{entry.name}: count and bytes must be numbers")
    return manifest


def file_digest(path: Path) -> tuple[str, int, int]:
    """(SHA-256 hex, bytes, lines) of a file, read in chunks (constant memory)."""
    digest = hashlib.sha256()
    size = lines = 0
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), size, lines


def verify(directory: Path) -> Manifest:
    """Read the manifest and check every file it lists against its size, line count and
    SHA-256; raise ImportRefused naming the first problem. Reads only."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise _refuse(directory, "it is not a directory")
    if not path.is_file():
        raise _refuse(directory, f"no {MANIFEST} (not an export, or an unfinished one)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _refuse(directory, f"{MANIFEST} is not valid JSON ({exc})") from None
    manifest = _parse(directory, raw)
    for entry in manifest.files:
        file = directory / entry.name
        if not file.is_file():
            raise _refuse(directory, f"{entry.name} is missing")
        sha256, size, lines = file_digest(file)
        if size != entry.bytes:
            raise _refuse(
                directory,
                f"{entry.name} has {size} bytes, the manifest says {entry.bytes} "
                "(truncated or changed)",
            )
        if sha256 != entry.sha256:
            raise _refuse(
                directory, f"{entry.name} does not match its SHA-256 in {MANIFEST} (changed)"
            )
        header = 1 if entry.kind == VIEW_CSV else 0
        if lines != entry.count + header:
            raise _refuse(
                directory,
                f"{entry.name} has {lines - header} lines, the manifest says {entry.count}",
            )
    return manifest
