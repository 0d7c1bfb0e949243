"""What the read-only role (`myhealth_reader`, used by the API and Grafana) may SELECT.

Deny by default: `myhealth migrate` grants SELECT on exactly the relations listed in
`READER_RELATIONS` and revokes everything else, so a table a later migration adds stays
unreadable to the reader until it is listed here on purpose. (Default privileges cannot
exclude a table, and a deny-list would expose every secret someone forgets to add to it.)
`tests/api/test_read_only_role.py` fails when a relation is in neither list, so every new
table gets a decision. Besides SELECT, the reader may EXECUTE exactly `READER_FUNCTIONS`.

Runs on every `migrate`, so it also repairs databases set up by older recipes that granted
SELECT on all tables (including `oauth_tokens`) through default privileges.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import LiteralString

import psycopg
from psycopg import sql

READER_ROLE = "myhealth_reader"

# Everything the API and the Grafana dashboards read: Oura data, its views, and the sync
# bookkeeping behind the freshness panels and `last_sync`.
READER_RELATIONS = frozenset(
    {
        # raw archive and quarantine
        "oura_documents",
        "quarantined_documents",
        # typed tables, one per Oura data type
        "daily_activity",
        "daily_cardiovascular_age",
        "daily_readiness",
        "daily_resilience",
        "daily_sleep",
        "daily_spo2",
        "daily_stress",
        "enhanced_tags",
        "heart_rate",
        "personal_info",
        "rest_mode_periods",
        "ring_configurations",
        "sessions",
        "sleep_periods",
        "sleep_time",
        "tags",
        "vo2_max",
        "workouts",
        # the daily heart-rate rollup (the API's heart-rate trend) and the zone it is for
        "heart_rate_daily",
        "heart_rate_daily_zone",
        # the daily views
        "activity_metrics",
        "latest_daily_activity",
        "latest_daily_readiness",
        "latest_daily_sleep",
        "main_sleep_periods",
        "readiness_metrics",
        "sleep_metrics",
        # personal baselines and flags (the insights route, the baseline bands)
        "insight_flag_days",
        "insight_metrics",
        # sync bookkeeping (freshness)
        "sync_checkpoints",
        "sync_run_types",
        "sync_runs",
    }
)

# Relations the reader must not read, and why.
WITHHELD_RELATIONS: dict[str, str] = {
    "oauth_tokens": "the Oura access and refresh tokens (a secret)",
    "schema_migrations": "migrate's own bookkeeping; nothing that reads needs it",
    "collector_totals": "running totals behind the processor's /metrics; no dashboard reads it",
    "api_tokens": "hashes of the long-lived API tokens; the API checks them through "
    "READER_FUNCTIONS only",
    "insight_state": "the processor's record of which rules computed the insights",
    "webhook_events": "Oura's webhook events: the API only appends them (see below)",
    "webhook_documents": "the webhook worker's per-document bookkeeping",
}

# Functions the reader may EXECUTE (signature -> why). SECURITY DEFINER functions that each do
# one narrow thing with a withheld table, so the reader never holds a privilege on the table.
READER_FUNCTIONS: dict[LiteralString, str] = {
    "api_token_authenticate(bytea, boolean)": "the state of the long-lived API token whose "
    "hash the caller presents, and (throttled) its last use",
}

# Relations the reader may append to, and nothing else (no SELECT, UPDATE or DELETE): the
# API's webhook receiver records each accepted Oura event (docs/webhooks.md#receiver).
READER_INSERT_RELATIONS = frozenset({"webhook_events"})


def role_exists(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)", (READER_ROLE,))
    return row.fetchone() == (True,)


def grant_reader_access(conn: psycopg.Connection) -> bool:
    """Make the reader's privileges in schema `public` exactly SELECT on `READER_RELATIONS`,
    INSERT on `READER_INSERT_RELATIONS` and EXECUTE on `READER_FUNCTIONS`.

    Call inside a transaction (the revoke and the grants then land together). Returns False,
    doing nothing, when the role does not exist (tests, or a database without a reader)."""
    if not role_exists(conn):
        return False
    role = sql.Identifier(READER_ROLE)
    conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(role))
    # Older recipes made every new table readable; undo that for tables this role creates.
    conn.execute(
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {}").format(
            role
        )
    )
    present = existing_relations(conn, READER_RELATIONS)
    if present:
        conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier("public", name) for name in present), role
            )
        )
    for signature in READER_FUNCTIONS:
        if function_exists(conn, signature):
            conn.execute(
                sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                    sql.SQL("public.") + sql.SQL(signature), role
                )
            )
    appendable = existing_relations(conn, READER_INSERT_RELATIONS)
    if appendable:
        conn.execute(
            sql.SQL("GRANT INSERT ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier("public", name) for name in appendable), role
            )
        )
    return True


def existing_relations(conn: psycopg.Connection, names: Iterable[str]) -> list[str]:
    """Those of `names` that exist in schema `public` (a migration may not have made them yet)."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relname = ANY(%s) ORDER BY 1",
        (sorted(names),),
    )
    return [row[0] for row in rows]


def function_exists(conn: psycopg.Connection, signature: str) -> bool:
    row = conn.execute("SELECT to_regprocedure(%s) IS NOT NULL", (f"public.{signature}",))
    return row.fetchone() == (True,)
