"""The Compose database backup in docs/backup.md, run for real with the PostgreSQL binaries the
tests use: `pg_dump -Fc` of a year of pipeline data; a new server (its own cluster) initialised
as the Compose `postgres` service does it (deploy/compose/initdb/ creates the read-only role);
`pg_restore --no-owner --no-privileges`; `myhealth migrate` (nothing to apply, re-grants the
read-only role). Then the API, connected as that read-only role as in Compose, answers every
route byte for byte as before — the collector's bookkeeping (`last_sync`) included, since a
dump carries every table."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from myhealth.storage.local_cluster import LocalCluster

from .conftest import Year, api_answers, run_cli, stored

INIT_SCRIPT = Path(__file__).resolve().parents[2] / "deploy/compose/initdb/10-reader-role.sh"
READER_PASSWORD = "restored-reader-secret"


@pytest.fixture
def new_server() -> Iterator[LocalCluster]:
    cluster = LocalCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


def tool(cluster: LocalCluster, name: str) -> str:
    """A PostgreSQL client program of the installation the clusters run (the bin directory may
    link only the server programs, e.g. /usr/local/bin/initdb -> .../15/bin/initdb)."""
    return str(Path(os.path.realpath(cluster.bindir / "initdb")).parent / name)


def _run(argv: list[str], **env: str) -> None:
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False, env={**os.environ, **env}
    )
    assert result.returncode == 0, result.stderr


def test_pg_dump_and_pg_restore_bring_back_every_answer(
    year: Year,
    year_answers: dict[str, Any],
    pg_cluster: LocalCluster,
    new_server: LocalCluster,
    tmp_path: Path,
) -> None:
    dump = tmp_path / "myhealth.dump"
    _run([tool(pg_cluster, "pg_dump"), "--format=custom", f"--file={dump}",
          year.database_url])  # fmt: skip

    target = new_server.create_database("myhealth")
    _run(
        ["sh", str(INIT_SCRIPT)],
        PATH=f"{Path(tool(new_server, 'psql')).parent}:{os.environ['PATH']}",
        PGHOST="127.0.0.1",
        PGPORT=str(new_server.port),
        POSTGRES_USER="myhealth",
        POSTGRES_DB="myhealth",
        READER_PASSWORD=READER_PASSWORD,
    )
    _run([tool(new_server, "pg_restore"), "--no-owner", "--no-privileges",
          "--exit-on-error", f"--dbname={target}", str(dump)])  # fmt: skip
    assert run_cli(["migrate"], target) == 0

    parts = urlsplit(target)
    reader_url = parts._replace(
        netloc=f"myhealth_reader:{READER_PASSWORD}@{parts.hostname}:{parts.port}"
    ).geturl()
    assert api_answers(reader_url, year.start, year.end) == year_answers
    assert stored(target) == stored(year.database_url)
