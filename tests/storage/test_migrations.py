"""`myhealth migrate`: from zero, idempotent, and failing with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest

from myhealth.cli import run
from myhealth.storage import migrate

SPEC_COLUMNS = {
    "sleep_metrics": [
        "date",
        "score",
        "duration_seconds",
        "efficiency",
        "latency_minutes",
        "deep_sleep_seconds",
        "light_sleep_seconds",
        "rem_sleep_seconds",
        "average_hrv",
        "lowest_heart_rate",
    ],
    "activity_metrics": ["date", "score", "steps", "calories", "active_calories", "active_minutes"],
    "readiness_metrics": ["date", "score", "hrv", "resting_hr", "temperature_deviation"],
}

TYPED_TABLES = {
    "daily_sleep",
    "sleep_periods",
    "daily_activity",
    "daily_readiness",
    "heart_rate",
    "workouts",
    "sessions",
    "tags",
    "enhanced_tags",
    "daily_spo2",
    "daily_stress",
    "daily_resilience",
    "daily_cardiovascular_age",
    "vo2_max",
    "sleep_time",
    "rest_mode_periods",
    "ring_configurations",
    "personal_info",
}
BOOKKEEPING = {
    "oura_documents",
    "quarantined_documents",
    "sync_checkpoints",
    "sync_runs",
    "sync_run_types",
    "oauth_tokens",
    "schema_migrations",
    "collector_totals",
    "api_tokens",
    "insight_metrics",  # personal baselines (migration 0006)
    "insight_flag_days",
    "insight_state",
    "webhook_events",  # Oura webhook events and the worker's bookkeeping (migration 0008)
    "webhook_documents",
    "heart_rate_daily",  # the daily heart-rate rollup (0005) and the zone it is for
    "heart_rate_daily_zone",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        ).fetchall()
    return {row[0] for row in rows}


def test_migrate_from_zero_then_again_is_a_no_op(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"DATABASE_URL": empty_database_url}
    assert run(["migrate"], env) == 0
    assert _tables(empty_database_url) == TYPED_TABLES | BOOKKEEPING

    with psycopg.connect(empty_database_url) as conn:
        before = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
    assert run(["migrate"], env) == 0
    with psycopg.connect(empty_database_url) as conn:
        after = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
    assert before == after
    assert [version for version, _ in after] == [m.version for m in migrate.available()]


@pytest.mark.parametrize("relation", sorted(SPEC_COLUMNS))
def test_daily_relations_have_the_spec_columns(database_url: str, relation: str) -> None:
    with psycopg.connect(database_url) as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = %s ORDER BY ordinal_position",
                (relation,),
            )
        ]
    assert columns == SPEC_COLUMNS[relation]


def test_migrate_without_database_url_names_the_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["migrate"], {}) == 2
    err = capsys.readouterr().err.strip()
    assert err == "myhealth migrate: configuration error: DATABASE_URL is required but not set"


def test_migrate_with_bad_url_is_a_configuration_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["migrate"], {"DATABASE_URL": "mysql://nope"}) == 2
    err = capsys.readouterr().err.strip()
    assert "DATABASE_URL is invalid" in err
    assert "\n" not in err


def test_migrate_with_unreachable_database_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from myhealth.storage.local_cluster import free_port

    url = f"postgresql://someone:secret@127.0.0.1:{free_port()}/nothing"
    assert run(["migrate"], {"DATABASE_URL": url}) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("myhealth migrate: cannot reach the database at 127.0.0.1:")
    assert "\n" not in err
    assert "secret" not in err  # the password never reaches the terminal


def test_three_concurrent_first_migrations_all_succeed(empty_database_url: str) -> None:
    """Pods starting at once against an empty database all exit 0.

    To make "at once" certain, a gate transaction creates `schema_migrations` uncommitted:
    every migrate that gets as far as creating it waits on the gate; once all three wait, the
    gate rolls back and they race. Before the advisory lock covered the creation of
    `schema_migrations`, the losers failed on a duplicate catalog entry (28 of 45 in the
    attack run); now two of them wait on the lock instead.
    """
    url = empty_database_url
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "warning"}
    with psycopg.connect(url) as gate:
        gate.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY)")
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "myhealth", "migrate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        try:
            deadline = time.monotonic() + 60
            while _waiting_on_locks(url, gate) < 3:
                assert time.monotonic() < deadline, "the migrate runs never reached the gate"
                assert all(run.poll() is None for run in runs), "a migrate run exited early"
                time.sleep(0.05)
            gate.rollback()
            outcomes = [(run.wait(timeout=60), run.communicate()[1]) for run in runs]
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.wait()
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    with psycopg.connect(url) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [m.version for m in migrate.available()]


def _waiting_on_locks(url: str, gate: psycopg.Connection) -> int:
    """Sessions of the database (other than the gate) blocked on a lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> %s",
            (gate.info.backend_pid,),
        ).fetchone()
    return int(row[0]) if row else 0
