"""Forward-only, versioned SQL migrations (`myhealth migrate`).

Migrations are the files `migrations/NNNN_name.sql` (numbers need not be contiguous), applied
in order of their number, each in a savepoint of one transaction, and recorded in
`schema_migrations`. That transaction starts by taking an advisory lock, before anything else,
so concurrent runs (pods starting at once) wait for each other; running it again is a no-op.
Each run ends by setting the read-only role's privileges (`reader_access`).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import psycopg

from myhealth.platform import logging as mh_logging
from myhealth.platform.config import DatabaseSettings, load
from myhealth.storage import reader_access
from myhealth.storage.db import connect

_LOCK_KEY = 0x6D79_6865  # "myhe": any fixed number shared by every migrate run
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files("myhealth.storage").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


def apply(conn: psycopg.Connection) -> list[Migration]:
    """Apply every pending migration, then set the reader role's privileges; return the
    migrations applied (empty when up to date).

    Everything happens in one transaction that first takes the advisory lock, the creation of
    `schema_migrations` included: concurrent first runs on an empty database queue behind the
    lock, and each later one finds the work done.
    """
    applied: list[Migration] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text        NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in available():
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
            applied.append(migration)
        # Every run, not only after a new migration: also repairs older, broader grants.
        reader_access.grant_reader_access(conn)
    return applied


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(DatabaseSettings, environ)
    mh_logging.configure("migrate", settings.LOG_LEVEL)
    log = mh_logging.get_logger(__name__)
    with connect(settings.database_url) as conn:
        applied = apply(conn)
    if applied:
        for migration in applied:
            log.info("migration applied", version=migration.version, name=migration.name)
    else:
        log.info("schema up to date", version=available()[-1].version)
    return 0
