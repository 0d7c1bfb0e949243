"""`make demo` with DATABASE_URL: it fills an empty database (and one it filled before), and
refuses — exit 1, nothing written — a database holding anyone else's data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from myhealth.demo import DEMO_MARKER_TABLE, DemoError, claim_database
from myhealth.storage.local_cluster import free_port

from .test_demo import _listening

REAL_SLEEP = {"id": "real-ring-0001", "day": "2026-11-30", "score": 81}


def snapshot(url: str) -> dict[str, object]:
    """Every user table with its rows, to compare before and after."""
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1"
            )
        ]
        return {
            table: sorted(
                json.dumps(row[0], sort_keys=True, default=str)
                for row in conn.execute(f'SELECT to_jsonb(t) FROM "{table}" t')
            )
            for table in tables
        }


def add_real_sleep(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO oura_documents (data_type, id, day, document) "
            "VALUES ('daily_sleep', %s, %s, %s)",
            (REAL_SLEEP["id"], REAL_SLEEP["day"], json.dumps(REAL_SLEEP)),
        )


def add_tokens(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO oauth_tokens (provider, access_token, refresh_token) "
            "VALUES ('oura', 'real-access', 'real-refresh')"
        )


def marked(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (DEMO_MARKER_TABLE,)).fetchone()
    return row == (True,)


def test_a_database_with_real_data_is_refused_by_make_demo(
    tmp_path: Path, database_url: str
) -> None:
    add_real_sleep(database_url)
    before = snapshot(database_url)
    ports = {name: free_port() for name in ("api", "processor", "sandbox")}
    result = subprocess.run(
        [
            sys.executable, "-m", "myhealth.demo", "--exit-after-backfill", "--days", "2",
            "--workdir", str(tmp_path),
            *(arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))),
        ],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout
    assert "holds data the demo did not put there (rows in oura_documents)" in result.stdout
    assert "env -u DATABASE_URL make demo" in result.stdout
    assert "Database migrated" not in result.stdout
    assert snapshot(database_url) == before
    for port in ports.values():
        assert not _listening(port), port


def test_an_empty_database_is_claimed_and_can_be_used_again(
    empty_database_url: str, database_url: str
) -> None:
    for url in (empty_database_url, database_url):  # no schema yet; migrated but no rows
        claim_database(url)
        assert marked(url)
    add_real_sleep(database_url)  # stands in for what the demo's backfill writes
    claim_database(database_url)  # a second `make demo`: the marker lets it in


def test_rows_in_any_table_of_an_unmarked_database_are_refused(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE SCHEMA elsewhere")
        conn.execute("CREATE TABLE elsewhere.notes (x int)")
        conn.execute("INSERT INTO elsewhere.notes VALUES (1)")
    before = snapshot(database_url)
    with pytest.raises(DemoError, match=r"rows in elsewhere\.notes"):
        claim_database(database_url)
    assert snapshot(database_url) == before
    assert not marked(database_url)


def test_stored_oauth_tokens_are_refused_even_in_a_demo_database(database_url: str) -> None:
    claim_database(database_url)
    add_tokens(database_url)
    before = snapshot(database_url)
    with pytest.raises(DemoError, match="holds Oura OAuth tokens"):
        claim_database(database_url)
    assert snapshot(database_url) == before


def test_an_unreachable_database_is_reported() -> None:
    with pytest.raises(DemoError, match="cannot reach the database"):
        claim_database(f"postgresql://nobody@127.0.0.1:{free_port()}/myhealth")


def test_a_table_the_demo_cannot_read_is_a_refusal(database_url: str) -> None:
    """Whatever a table it may not read holds is not the demo's."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_guest') "
            "THEN CREATE ROLE demo_guest LOGIN PASSWORD 'guest'; END IF; END $$"
        )
        conn.execute("CREATE TABLE private_notes (x int)")
    parts = urlsplit(database_url)
    as_guest = parts._replace(netloc=f"demo_guest:guest@{parts.hostname}:{parts.port}").geturl()
    with pytest.raises(DemoError, match=r"cannot check .* \(SQLSTATE 42501: permission denied"):
        claim_database(as_guest)
    assert not marked(database_url)
