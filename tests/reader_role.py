"""The API's read-only role in the test cluster: made once by the Compose init script (roles
belong to the cluster, not to a database), and URLs that connect as it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from myhealth.storage import migrate
from myhealth.storage.local_cluster import LocalCluster
from myhealth.storage.reader_access import READER_ROLE

INIT_SCRIPT = (
    Path(__file__).resolve().parents[1] / "deploy" / "compose" / "initdb" / "10-reader-role.sh"
)
PASSWORD = "reader-secret"


def ensure_reader_role(pg_cluster: LocalCluster) -> str:
    """Run the Compose init script unless the role exists already."""
    with psycopg.connect(pg_cluster.url) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,)).fetchone():
            return READER_ROLE
    url = pg_cluster.create_database("reader_role_init")
    subprocess.run(
        ["sh", str(INIT_SCRIPT)],
        env={
            "PATH": f"{pg_cluster.bindir}:{os.environ['PATH']}",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(pg_cluster.port),
            "POSTGRES_USER": "myhealth",
            "POSTGRES_DB": urlsplit(url).path.lstrip("/"),
            "READER_PASSWORD": PASSWORD,
        },
        check=True,
        capture_output=True,
        timeout=60,
    )
    return READER_ROLE


def as_reader(database_url: str) -> str:
    """`database_url` with the read-only role's login instead."""
    parts = urlsplit(database_url)
    netloc = f"{READER_ROLE}:{PASSWORD}@{parts.hostname}:{parts.port}"
    return parts._replace(netloc=netloc).geturl()


def run_migrate(database_url: str) -> None:
    """Apply the migrations (which also grant the reader its relations)."""
    with psycopg.connect(database_url) as conn:
        migrate.apply(conn)
