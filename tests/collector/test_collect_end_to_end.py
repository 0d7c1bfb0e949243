"""`myhealth collect` against the sandbox and the processor: backfill, idempotence, revisions,
a processor that goes away mid-run, Oura faults, quarantine and overlapping runs."""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
import stamina

from myhealth.oura.catalog import ALL_NAMES, DATA_TYPES
from myhealth.platform.retry import DEFAULT_RETRY

from .expected import activity_metrics, readiness_metrics, served, sleep_metrics
from .support import TIMEZONE, Stack

DAILY = [name for name in ALL_NAMES if name != "heartrate"]
DAY = dt.timedelta(days=1)


def query(stack: Stack, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(sql, params).fetchall()


def key(name: str, doc: dict[str, Any]) -> str:
    return str(doc.get("id") or doc["day"]) if name != "heartrate" else doc["timestamp"]


def assert_stored(
    stack: Stack, names: list[str], start: dt.date, end: dt.date
) -> dict[str, list[dict[str, Any]]]:
    """The archive and typed tables hold exactly what the sandbox serves for the window;
    returns what the sandbox served."""
    # Fetched in parallel: the sandbox (another process) generates while this one parses.
    with ThreadPoolExecutor(4) as pool:
        fetched = pool.map(lambda n: served(stack.sandbox_url, n, start, end, TIMEZONE), names)
        everything = dict(zip(names, fetched, strict=True))
    for name in names:
        data_type = DATA_TYPES[name]
        expected = everything[name]
        if name == "heartrate":
            rows = query(stack, 'SELECT "timestamp", source, bpm FROM heart_rate')
            stored = sorted((ts, source, bpm) for ts, source, bpm in rows)
            wanted = sorted(
                (dt.datetime.fromisoformat(doc["timestamp"]), doc["source"], doc["bpm"])
                for doc in expected
            )
            assert stored == wanted, name
            continue
        archived = [
            doc
            for (doc,) in query(
                stack, "SELECT document FROM oura_documents WHERE data_type = %s", (name,)
            )
        ]
        if data_type.day_field is not None:
            archived = [
                doc
                for doc in archived
                if start.isoformat() <= doc[data_type.day_field] <= end.isoformat()
            ]
        assert sorted(archived, key=lambda d: key(name, d)) == sorted(
            expected, key=lambda d: key(name, d)
        ), name
        where = f" WHERE {data_type.day_field} BETWEEN %s AND %s" if data_type.day_field else ""
        params = (start, end) if data_type.day_field else None
        [(typed,)] = query(stack, f"SELECT count(*) FROM {data_type.table}{where}", params)
        assert typed == len(expected), name
    return everything


def close(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(
        x == y or (x is not None and y is not None and math.isclose(float(x), float(y)))
        for x, y in zip(a, b, strict=True)
    )


def assert_daily_relations(stack: Stack, docs: dict[str, list[dict[str, Any]]]) -> None:
    relations = {
        "sleep_metrics": (
            "date, score, duration_seconds, efficiency, latency_minutes, deep_sleep_seconds,"
            " light_sleep_seconds, rem_sleep_seconds, average_hrv, lowest_heart_rate",
            sleep_metrics(docs["daily_sleep"], docs["sleep"]),
        ),
        "activity_metrics": (
            "date, score, steps, calories, active_calories, active_minutes",
            activity_metrics(docs["daily_activity"]),
        ),
        "readiness_metrics": (
            "date, score, hrv, resting_hr, temperature_deviation",
            readiness_metrics(docs["daily_readiness"], docs["sleep"]),
        ),
    }
    for relation, (columns, expected) in relations.items():
        rows = query(stack, f"SELECT {columns} FROM {relation} ORDER BY date")
        assert len(rows) == len(expected) > 300, relation
        mismatches = [(r, e) for r, e in zip(rows, expected, strict=True) if not close(r, e)]
        assert mismatches == [], relation


def snapshot(stack: Stack) -> dict[str, Any]:
    """Everything a no-op run must leave alone."""
    tables = {data_type.table for data_type in DATA_TYPES.values()}
    return {
        "archive": query(
            stack,
            "SELECT data_type, id, document::text, first_seen_at, last_changed_at"
            " FROM oura_documents ORDER BY data_type, id",
        ),
        "checkpoints": query(stack, "SELECT * FROM sync_checkpoints ORDER BY data_type"),
        **{
            table: query(stack, f"SELECT count(*), max(updated_at), min(updated_at) FROM {table}")
            for table in tables
        },
    }


def checkpoints(stack: Stack) -> dict[str, dt.date]:
    return dict(query(stack, "SELECT data_type, last_day FROM sync_checkpoints"))


def test_two_year_backfill_then_an_identical_run_changes_nothing(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    today = stack.today
    backfill = today - dt.timedelta(days=730)
    heart_start = today - dt.timedelta(days=13)
    daily_run = ["--data-types", ",".join(DAILY)]
    heart_run = ["--data-types", "heartrate", "--start-date", heart_start.isoformat()]

    assert stack.collect(*daily_run, OURA_BACKFILL_START=backfill.isoformat()) == 0
    assert stack.collect(*heart_run) == 0

    docs = assert_stored(stack, DAILY, backfill, today)
    assert_stored(stack, ["heartrate"], heart_start, today)
    assert_daily_relations(stack, docs)
    assert checkpoints(stack) == dict.fromkeys(ALL_NAMES, today)
    runs = query(stack, "SELECT status, counts, error FROM sync_runs ORDER BY run_id")
    assert [(status, error) for status, _, error in runs] == [("succeeded", None)] * 2
    counts = runs[0][1]
    assert set(counts) == {"documents", "oura_requests", "oura_retries", "reauth_required"}
    assert counts["documents"]["daily_sleep"] == 731
    assert counts["oura_requests"]["/v2/usercollection/daily_sleep 200"] >= 1
    assert counts["reauth_required"] is False
    capsys.readouterr()

    before = snapshot(stack)
    assert stack.collect(*daily_run, OURA_BACKFILL_START=backfill.isoformat()) == 0
    assert stack.collect(*heart_run) == 0

    assert snapshot(stack) == before
    out = capsys.readouterr().out
    assert out.count("(0 new, 0 updated,") == 2, out


def test_revised_days_and_a_new_day_are_stored_by_a_plain_run(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    backfill = stack.today - dt.timedelta(days=10)
    stack.extra_env["OURA_BACKFILL_START"] = backfill.isoformat()
    assert stack.collect("--start-date", backfill.isoformat()) == 0
    before = snapshot(stack)
    capsys.readouterr()
    # The same window again, every document re-sent: nothing changes.
    assert stack.collect("--start-date", backfill.isoformat()) == 0
    assert snapshot(stack) == before
    assert "(0 new, 0 updated," in capsys.readouterr().out
    first_day_sleep = dict(
        query(stack, "SELECT id, document::text FROM oura_documents WHERE data_type = 'sleep'")
    )
    capsys.readouterr()

    stack.sandbox_control("faults", {"revise_days": 5})
    stack.sandbox_control("clock", {"advance_days": 1})
    new_day = stack.today
    assert stack.collect() == 0

    out = capsys.readouterr().out
    assert " 0 updated," not in out, out
    assert_stored(stack, list(ALL_NAMES), backfill, new_day)
    [(new_documents,)] = query(
        stack, "SELECT count(*) FROM oura_documents WHERE day = %s", (new_day,)
    )
    assert new_documents > 0
    revised_sleep = dict(
        query(stack, "SELECT id, document::text FROM oura_documents WHERE data_type = 'sleep'")
    )
    changed = {i for i in first_day_sleep if revised_sleep[i] != first_day_sleep[i]}
    assert changed
    assert checkpoints(stack) == dict.fromkeys(ALL_NAMES, new_day)


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def retries_without_waits() -> Iterator[None]:
    """stamina's test mode: the same number of attempts, no waits. For tests that check what
    fails and what is stored, not the backoff (tests/platform/test_retry.py measures that)."""
    with stamina.set_testing(True, attempts=DEFAULT_RETRY.attempts or 1):
        yield


@pytest.mark.usefixtures("retries_without_waits")
def test_processor_stopped_mid_run_then_the_next_run_completes(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    backfill = stack.today - dt.timedelta(days=30)
    stack.extra_env.update(
        OURA_BACKFILL_START=backfill.isoformat(), COLLECT_CONCURRENCY="1", COLLECT_BATCH_SIZE="20"
    )
    stack.sandbox_control("faults", {"page_size": 10, "delay_ms": 20})
    names = DAILY
    codes: list[int] = []
    run = threading.Thread(
        target=lambda: codes.append(stack.collect("--data-types", ",".join(names)))
    )
    run.start()
    wait_for(lambda: query(stack, "SELECT 1 FROM sync_run_types WHERE status = 'succeeded'"))
    stack.stop_processor()
    run.join(60)

    assert codes == [1]
    err = capsys.readouterr().err
    outcome = dict(query(stack, "SELECT data_type, status FROM sync_run_types"))
    failed = sorted(name for name, status in outcome.items() if status == "failed")
    succeeded = sorted(name for name, status in outcome.items() if status == "succeeded")
    assert failed
    assert succeeded
    assert sorted(failed + succeeded) == sorted(names)
    assert f"{len(failed)} of {len(names)} data types failed" in err
    for name in failed:
        assert f"\n  {name}: processor_unavailable: " in err
    assert checkpoints(stack) == dict.fromkeys(succeeded, stack.today)
    [(status, error)] = query(stack, "SELECT status, error FROM sync_runs")
    assert status == "failed"
    assert error.count("processor_unavailable") == len(failed)

    stack.start_processor()
    stack.sandbox_control("faults", {"page_size": 100, "delay_ms": 0})
    assert stack.collect("--data-types", ",".join(names), COLLECT_CONCURRENCY="4") == 0

    assert_stored(stack, names, backfill, stack.today)
    assert checkpoints(stack) == dict.fromkeys(names, stack.today)


def test_rate_limits_server_errors_and_invalid_documents_do_not_fail_the_run(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    start = stack.today - dt.timedelta(days=20)
    heart_start = stack.today - dt.timedelta(days=3)
    names = ["daily_activity", "daily_sleep", "sleep", "workout", "tag", "heartrate"]
    stack.sandbox_control(
        "faults",
        {
            "rate_limit_every": 4,
            "retry_after": 0,
            "error_burst": 3,
            "page_size": 5,
            "heartrate_page_size": 200,
            "invalid_documents": 1,
        },
    )

    assert (
        stack.collect(
            "--data-types",
            ",".join(n for n in names if n != "heartrate"),
            "--start-date",
            start.isoformat(),
        )
        == 0
    )
    assert stack.collect("--data-types", "heartrate", "--start-date", heart_start.isoformat()) == 0

    stack.sandbox_control("faults", {"rate_limit_every": 0, "error_burst": 0})
    assert_stored(stack, names[:-1], start, stack.today)
    assert_stored(stack, ["heartrate"], heart_start, stack.today)
    retries: dict[str, int] = {}
    for (counts,) in query(stack, "SELECT counts FROM sync_runs"):
        for reason, n in counts["oura_retries"].items():
            retries[reason] = retries.get(reason, 0) + n
    assert retries.get("rate_limited", 0) > 0
    assert retries.get("server_error", 0) >= 3
    quarantined = dict(
        query(stack, "SELECT data_type, count(*) FROM quarantined_documents GROUP BY data_type")
    )
    assert set(quarantined) == set(names)
    out = capsys.readouterr().out
    assert f" {sum(quarantined.values()) - quarantined['heartrate']} quarantined)" in out


def test_unknown_data_type_fetches_nothing(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stack.collect("--data-types", "sleep,hrv") == 2
    assert "unknown data type(s): hrv" in capsys.readouterr().err
    assert stack.data_requests() == 0
    assert query(stack, "SELECT count(*) FROM sync_runs") == [(0,)]


def test_a_run_started_while_another_runs_is_refused(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.sandbox_control("faults", {"delay_ms": 1500})
    codes: list[int] = []
    first = threading.Thread(
        target=lambda: codes.append(
            stack.collect("--data-types", "tag", "--start-date", "2026-06-01")
        )
    )
    first.start()
    wait_for(lambda: query(stack, "SELECT 1 FROM sync_runs WHERE status = 'running'"))

    assert stack.collect("--data-types", "tag") == 3
    assert "another collector run is in progress (run 1, started" in capsys.readouterr().err

    first.join(30)
    assert codes == [0]
    assert query(stack, "SELECT run_id, status FROM sync_runs") == [(1, "succeeded")]


@pytest.mark.parametrize(
    ("faults", "failing", "code"),
    [
        pytest.param(
            {"strict_auth": True},
            ["daily_sleep", "sleep", "tag"],
            "reauthentication_required",
            id="token-refused",
        ),
        pytest.param(
            {"forbidden": True},
            ["daily_sleep", "sleep", "tag"],
            "access_forbidden",
            id="membership-lapsed",
        ),
        pytest.param(
            {"repeat_next_token": ["sleep"], "page_size": 2},
            ["sleep"],
            "pagination_error",
            id="next-token-cycle",
        ),
    ],
)
def test_oura_refusals_fail_the_types_and_keep_their_checkpoints(
    stack: Stack,
    capsys: pytest.CaptureFixture[str],
    faults: dict[str, Any],
    failing: list[str],
    code: str,
) -> None:
    names = ["daily_sleep", "sleep", "tag"]
    start = stack.today - dt.timedelta(days=5)
    stack.sandbox_control("faults", faults)

    assert stack.collect("--data-types", ",".join(names), "--start-date", start.isoformat()) == 1

    err = capsys.readouterr().err
    for name in failing:
        assert f"\n  {name}: {code}: " in err
    assert checkpoints(stack) == dict.fromkeys(set(names) - set(failing), stack.today)
    [(status, counts)] = query(stack, "SELECT status, counts FROM sync_runs")
    assert status == "failed"
    assert counts["reauth_required"] is (code == "reauthentication_required")


def test_a_wrong_ingest_token_is_a_refusal_not_a_retry(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    start = stack.today - dt.timedelta(days=3)

    code = stack.collect(
        "--data-types", "daily_sleep,sleep", "--start-date", start.isoformat(), INGEST_TOKEN="wrong"
    )

    assert code == 1
    err = capsys.readouterr().err
    for name in ("daily_sleep", "sleep"):
        assert f"\n  {name}: processor_refused: processor refused a {name} batch" in err
        assert "HTTP 401" in err
    assert "check INGEST_TOKEN" in err
    assert checkpoints(stack) == {}
