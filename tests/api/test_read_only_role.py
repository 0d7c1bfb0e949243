"""The API needs only read access: it runs as the read-only role that
deploy/compose/initdb/10-reader-role.sh creates (and docs/api.md describes)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from myhealth.storage.local_cluster import LocalCluster

from .conftest import ClientFactory, bearer

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "compose" / "initdb" / "10-reader-role.sh"


def test_api_works_as_the_read_only_role(
    pg_cluster: LocalCluster, database_url: str, make_client: ClientFactory
) -> None:
    dbname = urlsplit(database_url).path.lstrip("/")
    subprocess.run(
        ["sh", str(SCRIPT)],
        env={
            "PATH": f"{pg_cluster.bindir}:{os.environ['PATH']}",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(pg_cluster.port),
            "POSTGRES_USER": "myhealth",
            "POSTGRES_DB": dbname,
            "READER_PASSWORD": "reader-secret",
        },
        check=True,
        capture_output=True,
        timeout=60,
    )
    reader_url = f"postgresql://myhealth_reader:reader-secret@127.0.0.1:{pg_cluster.port}/{dbname}"
    # A table created later by a migration (as the owner) is readable too.
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE later_table (x int)")
    with psycopg.connect(reader_url) as conn:
        conn.execute("SELECT * FROM later_table")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO sync_runs (data_types) VALUES ('{x}')")
    with psycopg.connect(reader_url, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO sync_runs (data_types) VALUES ('{x}')")

    client = make_client(reader_url)
    headers = bearer(client)
    for path in (
        "/api/v1/sleep",
        "/api/v1/activity",
        "/api/v1/readiness",
        "/api/v1/dashboard",
        "/api/v1/trends/heart_rate",
        "/ready",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
