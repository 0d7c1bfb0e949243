"""The stored insights equal an independent computation, as data arrive and are revised."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import threading
import time
from typing import Any

import psycopg
import pytest

from myhealth.insights import rules
from myhealth.insights import store as store_module
from myhealth.oura.catalog import DATA_TYPES
from myhealth.processor import writer

from .series import (
    START,
    Person,
    expected_metrics,
    expected_streaks,
    random_person,
    store,
)


def stored(database_url: str) -> tuple[dict[Any, Any], dict[Any, int]]:
    with psycopg.connect(database_url) as conn:
        metrics = {
            (metric, day): (value, history, median, mad, z)
            for metric, day, value, history, median, mad, z in conn.execute(
                """SELECT metric, date, value, history_days, baseline_median, baseline_mad,
                          z_score FROM insight_metrics"""
            )
        }
        streaks = {
            (flag, day): n
            for flag, day, n in conn.execute(
                "SELECT flag, date, streak_days FROM insight_flag_days"
            )
        }
    return metrics, streaks


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_exact(database_url: str, person: Person) -> None:
    metrics, streaks = stored(database_url)
    expected = expected_metrics(person.series())
    assert set(metrics) == set(expected)
    wrong = {
        key: (metrics[key], expected[key])
        for key in expected
        if not all(close(a, b) for a, b in zip(metrics[key], expected[key], strict=True))
    }
    assert wrong == {}
    assert streaks == expected_streaks(expected)


def test_a_history_stored_in_batches_matches_the_independent_computation(
    database_url: str,
) -> None:
    person = random_person(160, seed=7)
    store(database_url, person.documents())
    assert_exact(database_url, person)
    metrics, streaks = stored(database_url)
    # The series exercises what it should: judgements, no judgement yet, each flag.
    assert any(row[2] is None for row in metrics.values())
    assert any(row[4] is not None and abs(row[4]) > 2 for row in metrics.values())
    raised = {flag for (flag, _), n in streaks.items() if n >= rules.FLAGS[flag].required_days}
    assert raised == set(rules.FLAGS)


def test_revisions_and_late_days_keep_the_table_exact(database_url: str) -> None:
    person = random_person(150, seed=11, missing=0.2)
    late = {day for day in person.sleep if day.day in (3, 17)}  # arrive last, out of order
    first = Person(
        person.readiness,
        {day: v for day, v in person.sleep.items() if day not in late},
        person.activity,
    )
    store(database_url, first.documents())
    assert_exact(database_url, first)
    store(
        database_url,
        {
            "sleep": [
                d for d in person.documents()["sleep"] if d["id"][2:] in {str(x) for x in late}
            ]
        },
    )
    assert_exact(database_url, person)
    # Revise an early night (its baseline reach is the 60 days after it) and a recent one.
    for day in (START + dt.timedelta(days=20), START + dt.timedelta(days=140)):
        if day in person.sleep:
            person.sleep[day]["average_hrv"] = 5
            person.sleep[day]["total_sleep_duration"] = 3600
        person.readiness[day] = {"temperature_deviation": 1.5}
        revised = {
            "sleep": [d for d in person.documents()["sleep"] if d["day"] == day.isoformat()],
            "daily_readiness": [
                d for d in person.documents()["daily_readiness"] if d["day"] == day.isoformat()
            ],
        }
        store(database_url, revised)
        assert_exact(database_url, person)


def test_a_short_history_has_values_but_no_judgement(database_url: str) -> None:
    person = random_person(14, seed=3, missing=0.0)
    store(database_url, person.documents())
    assert_exact(database_url, person)
    metrics, _ = stored(database_url)
    assert metrics
    assert all(median is None and z is None for (_, _, median, _, z) in metrics.values())


def test_gaps_break_consecutive_days(database_url: str) -> None:
    """Three short nights with a night missing in between are not 3 consecutive nights."""
    person = Person()
    for offset, hours in enumerate([7, 5, 5, None, 5, 5, 5]):
        day = START + dt.timedelta(days=offset)
        if hours is not None:
            person.sleep[day] = {"total_sleep_duration": hours * 3600}
    store(database_url, person.documents())
    _, streaks = stored(database_url)
    short = {day.day: n for (flag, day), n in streaks.items() if flag == "sleep_short"}
    assert short == {2: 1, 3: 2, 5: 1, 6: 2, 7: 3}
    assert_exact(database_url, person)


@pytest.mark.parametrize("rules_version", [0, None], ids=["older-rules", "never-computed"])
def test_a_refresh_recomputes_everything_after_a_rules_change(
    database_url: str, rules_version: int | None
) -> None:
    person = random_person(90, seed=5)
    store(database_url, person.documents())
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE insight_metrics SET value = -1")
        conn.execute("DELETE FROM insight_flag_days")
        if rules_version is None:
            conn.execute("DELETE FROM insight_state")
        else:
            conn.execute("UPDATE insight_state SET rules_version = %s", (rules_version,))
    # One unchanged document of the last day: its refresh finds the rules stale.
    last = max(person.activity)
    store(
        database_url,
        {
            "daily_activity": [
                d for d in person.documents()["daily_activity"] if d["day"] == last.isoformat()
            ]
        },
    )
    assert_exact(database_url, person)


def test_mad_zero_judges_nothing_but_the_median_itself(database_url: str) -> None:
    """More than half of the history holds one value: MAD = 0, so the spread is unknown."""
    person = Person()
    hrv = [40] * 10 + [41, 39] * 3 + [40, 30, 30, 30]
    for offset, value in enumerate(hrv):
        day = START + dt.timedelta(days=offset)
        person.readiness[day] = {}
        person.sleep[day] = {"average_hrv": value}
    store(database_url, person.documents())
    assert_exact(database_url, person)
    metrics, streaks = stored(database_url)
    by_day = {day.day: row for (metric, day), row in metrics.items() if metric == "hrv"}
    assert by_day[17][1:] == (16, 40, 0, 0.0)  # equal to the median: z = 0
    assert by_day[18][1:] == (17, 40, 0, None)  # 30 ms: no z, and no hrv_low condition
    assert by_day[20][3:] == (0, None)
    assert not [key for key in streaks if key[0] == "hrv_low"]


def test_concurrent_batches_leave_the_exact_result(database_url: str) -> None:
    """Batches of the three source types stored at once on separate connections (as processor
    replicas do). Whether refreshes really overlap here depends on timing; the lock itself is
    proven by the next test."""
    person = random_person(120, seed=17)
    documents = person.documents()

    async def one(data_type: str, chunk: list[dict[str, Any]]) -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            shapes = await writer.load_shapes(conn)
            await writer.store_batch(conn, DATA_TYPES[data_type], shapes[data_type], chunk)

    async def main() -> None:
        await asyncio.gather(
            *(
                one(data_type, docs[start : start + 30])
                for data_type, docs in documents.items()
                for start in range(0, len(docs), 30)
            )
        )

    asyncio.run(main())
    assert_exact(database_url, person)


def test_rebuild_recomputes_every_day(database_url: str) -> None:
    person = random_person(70, seed=19)
    store(database_url, person.documents())
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE insight_metrics SET z_score = 99")
        conn.execute("UPDATE insight_flag_days SET streak_days = 99")

    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            await store_module.rebuild(conn)

    asyncio.run(main())
    assert_exact(database_url, person)


def test_a_refresh_waits_for_the_one_in_progress(database_url: str) -> None:
    """The refresh lock serialises refreshes: one cannot start while another holds it."""
    person = random_person(30, seed=23)
    store(database_url, person.documents())
    finished = threading.Event()

    def refresh() -> None:
        async def main() -> None:
            async with await psycopg.AsyncConnection.connect(database_url) as conn:
                await store_module.refresh(conn, START, START)

        asyncio.run(main())
        finished.set()

    with psycopg.connect(database_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (store_module.REFRESH_LOCK_KEY,))
        worker = threading.Thread(target=refresh)
        worker.start()
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                waiting = holder.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ).fetchone()
                if waiting == (1,):
                    break
                time.sleep(0.05)
            assert waiting == (1,)
            assert not finished.is_set()
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (store_module.REFRESH_LOCK_KEY,))
            worker.join(30)
    assert finished.is_set()
