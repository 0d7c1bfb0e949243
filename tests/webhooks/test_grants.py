"""The read-only role gets exactly one write: INSERT on `webhook_events` (the receiver's
record). It cannot read those events back, change or delete them, nor append elsewhere."""

from __future__ import annotations

import psycopg
import pytest

from myhealth.storage.reader_access import READER_INSERT_RELATIONS, READER_ROLE
from tests.reader_role import as_reader, run_migrate

INSERT = (
    "INSERT INTO webhook_events (signature_timestamp, signature, event_type, data_type,"
    " object_id, event_time, user_id) VALUES (1, 'S', 'create', 'tag', 'x', now(), 'u')"
)


def read_write(conn: psycopg.Connection, statement: str) -> None:
    with conn.transaction():
        conn.execute("SET TRANSACTION READ WRITE")
        conn.execute(statement.encode())


def privileges(database_url: str) -> set[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee = %s AND privilege_type <> 'SELECT'",
            (READER_ROLE,),
        ).fetchall()
    return {(table, privilege) for table, privilege in rows}


def test_insert_on_the_event_table_is_the_only_write(reader_role: str, database_url: str) -> None:
    run_migrate(database_url)
    assert privileges(database_url) == {(name, "INSERT") for name in READER_INSERT_RELATIONS}
    with psycopg.connect(as_reader(database_url)) as conn:
        read_write(conn, INSERT)
        for statement in (
            "SELECT * FROM webhook_events",
            "UPDATE webhook_events SET status = 'done'",
            "DELETE FROM webhook_events",
            "INSERT INTO webhook_documents VALUES ('tag', 'x', now(), 'create')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                read_write(conn, statement)
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM webhook_events").fetchone() == (1,)


def test_without_read_write_the_insert_is_refused_too(reader_role: str, database_url: str) -> None:
    """The role's sessions stay read-only by default: the receiver opts in per transaction."""
    run_migrate(database_url)
    with (
        psycopg.connect(as_reader(database_url)) as conn,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        conn.execute(INSERT)
