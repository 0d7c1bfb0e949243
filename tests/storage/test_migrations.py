"""`myhealth migrate`: from zero, idempotent, and failing with one clear line."""

from __future__ import annotations

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
