"""The read-only role the API and Grafana connect as (`myhealth_reader`, created by
deploy/compose/initdb/10-reader-role.sh; its table privileges are set by every `migrate`):
it reads exactly `reader_access.READER_RELATIONS` — never `oauth_tokens`, nor a table a
later migration adds without listing it — it cannot write, and the API works with it."""

from __future__ import annotations

import psycopg
import pytest

from myhealth.storage.reader_access import READER_RELATIONS, READER_ROLE, WITHHELD_RELATIONS
from tests.observability.test_dashboards import run_all_sql
from tests.reader_role import as_reader, run_migrate

from .conftest import ClientFactory, bearer


def relations(database_url: str) -> dict[str, bool]:
    """Every table, view and materialized view in `public` -> can the reader SELECT it."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT c.relname, has_table_privilege(%s, c.oid, 'SELECT') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
            (READER_ROLE,),
        ).fetchall()
    return {name: readable for name, readable in rows}


def test_every_relation_after_all_migrations_has_a_decision(
    reader_role: str, database_url: str
) -> None:
    run_migrate(database_url)
    found = relations(database_url)
    undecided = set(found) - READER_RELATIONS - set(WITHHELD_RELATIONS)
    assert not undecided, (
        f"new relations {sorted(undecided)}: list each in reader_access.READER_RELATIONS "
        "or WITHHELD_RELATIONS"
    )
    assert not READER_RELATIONS & set(WITHHELD_RELATIONS)
    assert set(found) >= READER_RELATIONS, "a listed relation no longer exists"
    assert {name for name, readable in found.items() if readable} == READER_RELATIONS
    assert "oauth_tokens" in WITHHELD_RELATIONS


def test_the_reader_cannot_read_the_tokens_or_write(reader_role: str, database_url: str) -> None:
    run_migrate(database_url)
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO oauth_tokens (refresh_token) VALUES ('the-secret')")
    with psycopg.connect(as_reader(database_url)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="oauth_tokens"):
            conn.execute("SELECT refresh_token FROM oauth_tokens")
        conn.rollback()
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO sync_runs (data_types) VALUES ('{x}')")
    with psycopg.connect(as_reader(database_url), autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO sync_runs (data_types) VALUES ('{x}')")


def test_a_table_a_later_migration_adds_stays_unreadable(
    reader_role: str, database_url: str
) -> None:
    """E.g. a future table of API tokens: created by the owner, then `migrate` runs."""
    run_migrate(database_url)
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE api_token_secrets (token_hash text)")
        conn.execute("CREATE VIEW token_overview AS SELECT token_hash FROM api_token_secrets")
    run_migrate(database_url)
    found = relations(database_url)
    assert found["api_token_secrets"] is False
    assert found["token_overview"] is False
    with (
        psycopg.connect(as_reader(database_url)) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute("SELECT * FROM api_token_secrets")


def test_migrate_repairs_the_old_grant_everything_recipe(
    reader_role: str, database_url: str
) -> None:
    """Databases set up before this change: SELECT on every table and default privileges."""
    with psycopg.connect(database_url) as conn:
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER_ROLE}")
        conn.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {READER_ROLE}"
        )
    assert relations(database_url)["oauth_tokens"] is True  # the hole being closed
    run_migrate(database_url)
    assert relations(database_url)["oauth_tokens"] is False
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE later_table (x int)")
    assert relations(database_url)["later_table"] is False  # no default grant any more


def test_api_works_as_the_read_only_role(
    reader_role: str, database_url: str, make_client: ClientFactory
) -> None:
    run_migrate(database_url)
    client = make_client(as_reader(database_url))
    headers = bearer(client)
    for path in (
        "/api/v1/sleep",
        "/api/v1/activity",
        "/api/v1/readiness",
        "/api/v1/dashboard",
        "/api/v1/trends/heart_rate",
        "/api/v1/data/sleep",
        "/api/v1/data/personal_info",
        "/api/v1/heart_rate",
        "/ready",
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)
    # The insights tables are readable (nothing stored yet: 404, not a permission error).
    response = client.get("/api/v1/insights", headers=headers)
    assert response.status_code == 404, response.text


def test_every_grafana_panel_query_runs_as_the_reader(reader_role: str, database_url: str) -> None:
    """Grafana connects as the same role: nothing a dashboard reads may be withheld."""
    run_migrate(database_url)
    errors, _empty, count = run_all_sql(as_reader(database_url))
    assert errors == []
    assert count > 150
