"""`myhealth collect` through the CLI entry point: refusals that happen before anything is
fetched (exit codes and messages)."""

from __future__ import annotations

import psycopg
import pytest

from myhealth import cli
from myhealth.collector.state import RUN_LOCK_KEY


def environ(database_url: str) -> dict[str, str]:
    # Nothing listens on port 9: any request that went out would fail loudly.
    return {
        "DATABASE_URL": database_url,
        "OURA_API_KEY": "unused",
        "OURA_API_BASE_URL": "http://127.0.0.1:9",
        "PROCESSOR_URL": "http://127.0.0.1:9",
    }


def runs(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM sync_runs").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--data-types", "daily_sleep,steps,sleeep"],
            "unknown data type(s): steps, sleeep",
            id="unknown-data-type",
        ),
        pytest.param(
            ["--start-date", "2026-02-02", "--end-date", "2026-02-01"],
            "--start-date 2026-02-02 is after --end-date 2026-02-01",
            id="start-after-end",
        ),
    ],
)
def test_bad_arguments_exit_2_before_anything_happens(
    database_url: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = cli.run(["collect", "--no-progress", *argv], environ(database_url))

    assert code == 2
    assert message in capsys.readouterr().err
    assert runs(database_url) == 0


def test_missing_oura_credentials_exit_2(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = environ(database_url)
    del env["OURA_API_KEY"]

    code = cli.run(["collect", "--no-progress"], env)

    assert code == 2
    assert "Oura is not connected" in capsys.readouterr().err
    assert runs(database_url) == 0


def test_a_second_run_is_refused_while_one_holds_the_lock(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (RUN_LOCK_KEY,))
        row = holder.execute(
            "INSERT INTO sync_runs (data_types) VALUES (ARRAY['tag']) RETURNING run_id"
        ).fetchone()
        assert row is not None

        code = cli.run(["collect", "--no-progress"], environ(database_url))

        assert code == 3
        err = capsys.readouterr().err
        assert f"another collector run is in progress (run {row[0]}, started" in err
        assert runs(database_url) == 1  # only the holder's


def test_runs_left_running_by_a_killed_collector_are_closed(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO sync_runs (data_types) VALUES (ARRAY['tag'])")

    # The processor is unreachable, so the run fails, but only after closing the stale run.
    code = cli.run(["collect", "--no-progress", "--data-types", "tag"], environ(database_url))

    assert code == 1
    with psycopg.connect(database_url) as conn:
        statuses = conn.execute("SELECT status, error FROM sync_runs ORDER BY run_id").fetchall()
    assert statuses[0] == ("failed", "interrupted: the collector stopped before the run finished")
    assert statuses[1][0] == "failed"
    assert "processor_unavailable" in (statuses[1][1] or "")
