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
        pytest.param(
            ["--start-date", "2999-01-01"],
            "--start-date 2999-01-01 is in the future",
            id="start-in-the-future",
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


def test_old_runs_are_pruned_but_the_latest_of_each_kind_is_kept(database_url: str) -> None:
    """SYNC_RUN_RETENTION_DAYS bounds the history; what the freshness metrics read survives,
    and the Oura request totals do not shrink."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO sync_runs (started_at, finished_at, status, data_types, counts)
               SELECT now() - make_interval(days => d), now() - make_interval(days => d),
                      s, ARRAY['tag'], '{"oura_requests": {"tag 200": 1}}'
               FROM (VALUES (300, 'succeeded'), (200, 'succeeded'), (150, 'failed'),
                            (120, 'succeeded'), (5, 'succeeded')) AS v(d, s)"""
        )
        conn.execute(  # the latest successes of `tag` (300 days ago) and `sleep` (200): kept
            """INSERT INTO sync_run_types (run_id, data_type, status, finished_at)
               SELECT run_id, CASE WHEN started_at < now() - interval '250 days'
                                   THEN 'tag' ELSE 'sleep' END, 'succeeded', finished_at
               FROM sync_runs
               WHERE status = 'succeeded' AND started_at < now() - interval '190 days'"""
        )
    env = {**environ(database_url), "SYNC_RUN_RETENTION_DAYS": "30"}

    assert cli.run(["collect", "--no-progress", "--data-types", "tag"], env) == 1

    with psycopg.connect(database_url) as conn:
        left = conn.execute(
            "SELECT (now() - started_at) > interval '1 day', status,"
            " round(extract(epoch FROM now() - started_at) / 86400)"
            " FROM sync_runs ORDER BY started_at"
        ).fetchall()
        total = conn.execute("SELECT total FROM collector_totals WHERE key = 'tag 200'").fetchone()
    # Gone: 150 days (failed, no longer the latest failure) and 120 days (nothing needs it).
    assert [(old, status) for old, status, _ in left] == [
        (True, "succeeded"),
        (True, "succeeded"),
        (True, "succeeded"),
        (False, "failed"),
    ]
    assert [days for _, _, days in left][:3] == [300, 200, 5]
    assert total == (5,)
