"""The migration hook's roles script (helm/myhealth/files/database/roles.py) against a real
PostgreSQL: run as the master user it creates the writer and reader logins, a second run with
new passwords updates them, and the grants cover the tables the migration creates afterwards."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from myhealth.storage import migrate
from myhealth.storage.local_cluster import LocalCluster

from .conftest import CHART

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


def test_roles_then_migration_give_writer_and_reader_their_rights(
    pg_cluster: LocalCluster, empty_database_url: str
) -> None:
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
