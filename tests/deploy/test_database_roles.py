"""The migration hook's roles script (helm/myhealth/files/database/roles.py) against a real
PostgreSQL: run as the master user it creates the writer and reader logins, a second run with
new passwords updates them, and the grants cover the tables the migration creates afterwards."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest

from myhealth.storage import migrate
from myhealth.storage.local_cluster import LocalCluster

from .conftest import CHART

# Roles belong to the whole PostgreSQL cluster, and this script creates `myhealth_reader`, the
# role the Compose init script (tests/api/test_read_only_role.py) creates too: a cluster of its
# own keeps the two tests independent of their order.


@pytest.fixture(scope="module")
def roles_cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster().start()
    try:
        yield cluster
    finally:
        cluster.stop()


_databases = itertools.count()


@pytest.fixture
def empty_database_url(roles_cluster: LocalCluster) -> str:
    return roles_cluster.create_database(f"roles_{next(_databases)}")


SCRIPT = CHART / "files" / "database" / "roles.py"


def run_roles(master_url: str, writer: str, reader: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": master_url,
        "MYHEALTH_DB_WRITER_USER": "myhealth_writer",
        "MYHEALTH_DB_WRITER_PASSWORD": writer,
        "MYHEALTH_DB_READER_USER": "myhealth_reader",
        "MYHEALTH_DB_READER_PASSWORD": reader,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, check=False
    )


def stored_passwords(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname LIKE 'myhealth_%'"
        ).fetchall()
    return {name: password for name, password in rows}


def login(url: str, user: str, password: str) -> psycopg.Connection:
    return psycopg.connect(url, user=user, password=password, autocommit=True)


def test_roles_then_migration_give_writer_and_reader_their_rights(empty_database_url: str) -> None:
    first = run_roles(empty_database_url, "writer-pass-1", "reader-pass-1")
    assert first.returncode == 0, first.stderr
    # The migration runs after the script, as the master user (the hook's order).
    with psycopg.connect(empty_database_url) as conn:
        migrate.apply(conn)
    before = stored_passwords(empty_database_url)
    again = run_roles(empty_database_url, "writer-pass-2", "reader-pass-2")
    assert again.returncode == 0, again.stderr
    after = stored_passwords(empty_database_url)
    # A rerun with rotated secrets sets the new passwords (the throwaway cluster trusts local
    # logins, so the hashes show it rather than a refused login).
    assert set(before) == set(after) == {"myhealth_writer", "myhealth_reader"}
    assert all(before[role] != after[role] for role in before)
    with login(empty_database_url, "myhealth_writer", "writer-pass-2") as writer:
        writer.execute("DELETE FROM oura_documents")
        assert writer.execute("SELECT count(*) FROM oura_documents").fetchone() == (0,)
    with login(empty_database_url, "myhealth_reader", "reader-pass-2") as reader:
        assert reader.execute("SELECT count(*) FROM oura_documents").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("DELETE FROM oura_documents")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("CREATE TABLE sneaky (id int)")
        # The reader's grants are migrate's explicit list: never the stored OAuth tokens.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT count(*) FROM oauth_tokens")


def test_a_reader_login_of_another_name_reads_through_the_reader_group(
    empty_database_url: str,
) -> None:
    env_reader = "grafana_ro"
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={
            **os.environ,
            "DATABASE_URL": empty_database_url,
            "MYHEALTH_DB_WRITER_USER": "app_writer",
            "MYHEALTH_DB_WRITER_PASSWORD": "w",
            "MYHEALTH_DB_READER_USER": env_reader,
            "MYHEALTH_DB_READER_PASSWORD": "r",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(empty_database_url) as conn:
        migrate.apply(conn)
    with login(empty_database_url, env_reader, "r") as reader:
        assert reader.execute("SELECT count(*) FROM sync_runs").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("SELECT count(*) FROM oauth_tokens")


def test_missing_setting_exits_2_before_touching_the_database() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={"PATH": os.environ.get("PATH", ""), "DATABASE_URL": "postgresql://nowhere/db"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "MYHEALTH_DB_WRITER_USER is not set" in result.stderr
