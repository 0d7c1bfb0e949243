"""`myhealth summary` on what the pipeline stored: the numbers it prints are recomputed here
from the typed tables with plain SQL and Python (not from the views it reads), piped output is
plain text, and on a terminal (a real pseudo-terminal) it is coloured."""

from __future__ import annotations

import datetime as dt
import os
import pty
import re
import subprocess
import sys
from collections.abc import Sequence
from statistics import mean
from typing import Any

import psycopg

from myhealth import summary

from .conftest import TIMEZONE, System

ANSI = re.compile(r"\x1b\[")


def _environ(database_url: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    return {**keep, "DATABASE_URL": database_url, "USER_TIMEZONE": TIMEZONE}


def _piped(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "myhealth", "summary"],
        env=_environ(database_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _on_terminal(database_url: str) -> str:
    """Run the command with a pseudo-terminal as its stdout; return what it wrote."""
    controller, child = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "myhealth", "summary"],
            env={**_environ(database_url), "TERM": "xterm-256color", "COLUMNS": "120"},
            stdin=subprocess.DEVNULL,
            stdout=child,
            stderr=subprocess.PIPE,
        )
        os.close(child)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    finally:
        os.close(controller)
    return b"".join(chunks).decode()


def _main_period(periods: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The day's main sleep period by the rule in docs/architecture.md#the-daily-relations."""
    for kind in ("long_sleep", "sleep"):
        candidates = [period for period in periods if period["type"] == kind]
        if candidates:
            return max(
                candidates,
                key=lambda p: (p["total_sleep_duration"] or -1, p["bedtime_end"]),
            )
    return None


def _expected(database_url: str) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn:
        latest = conn.execute(
            """SELECT max(day) FROM (SELECT day FROM daily_sleep UNION ALL
               SELECT day FROM daily_activity UNION ALL SELECT day FROM daily_readiness
               UNION ALL SELECT day FROM sleep_periods WHERE type IN ('long_sleep', 'sleep')) d"""
        ).fetchone()[0]  # type: ignore[index]
        week = latest - dt.timedelta(days=6)
        fortnight = latest - dt.timedelta(days=13)

        def scores(table: str, since: dt.date) -> dict[dt.date, int | None]:
            rows = conn.execute(
                f"SELECT day, score FROM {table} WHERE day BETWEEN %s AND %s",
                (since, latest),
            ).fetchall()
            return dict(rows)

        steps: dict[dt.date, int | None] = dict(
            conn.execute(
                "SELECT day, steps FROM daily_activity WHERE day BETWEEN %s AND %s",
                (fortnight, latest),
            ).fetchall()
        )
        periods: dict[dt.date, list[dict[str, Any]]] = {}
        cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
        for period in cursor.execute(
            "SELECT * FROM sleep_periods WHERE day BETWEEN %s AND %s", (fortnight, latest)
        ):
            periods.setdefault(period["day"], []).append(period)
        sleep = scores("daily_sleep", fortnight)
        readiness = scores("daily_readiness", fortnight)
        activity = scores("daily_activity", fortnight)
    main = {day: _main_period(found) for day, found in periods.items()}
    readiness_days = readiness
    hrv = [
        main[day]["average_hrv"]  # type: ignore[index]
        for day in readiness_days
        if main.get(day) and main[day]["average_hrv"] is not None  # type: ignore[index]
    ]
    resting = [
        main[day]["lowest_heart_rate"]  # type: ignore[index]
        for day in readiness_days
        if main.get(day) and main[day]["lowest_heart_rate"] is not None  # type: ignore[index]
    ]

    def week_average(found: dict[dt.date, int | None]) -> float:
        return mean(score for day, score in found.items() if day >= week and score is not None)

    def most_recent(found: dict[dt.date, int | None]) -> tuple[dt.date, int]:
        return max((day, score) for day, score in found.items() if score is not None)

    latest_night = main[max(day for day, period in main.items() if period)]
    return {
        "latest": latest,
        "sleep": (most_recent(sleep), week_average(sleep)),
        "readiness": (most_recent(readiness), week_average(readiness)),
        "activity": (most_recent(activity), week_average(activity)),
        "steps": (
            most_recent(steps)[1],
            min(v for v in steps.values() if v is not None),
            max(v for v in steps.values() if v is not None),
        ),
        "hrv": (min(hrv), max(hrv)),
        "resting_hr": (min(resting), max(resting)),
        "night": latest_night,
    }


def _numbers(line: str) -> list[str]:
    return re.findall(r"\d[\d,]*(?:\.\d)?", line)


def test_piped_summary_is_plain_text_with_the_stored_numbers(system: System) -> None:
    result = _piped(system.database_url)
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert not ANSI.search(output), output
    want = _expected(system.database_url)
    lines = output.splitlines()
    assert f"latest day {want['latest'].isoformat()}" in lines[0]

    def line(prefix: str) -> str:
        return next(text for text in lines if text.strip().startswith(prefix))

    for name in ("sleep", "readiness", "activity"):
        latest, average = want[name]
        (day, score), average = latest, average
        assert line(name.capitalize()).split() == [
            name.capitalize(),
            str(score),
            day.isoformat(),
            f"{average:.1f}",
        ]
    assert _numbers(line("Steps"))[-3:] == [f"{v:,}" for v in want["steps"]]
    assert _numbers(line("HRV"))[-2:] == [str(v) for v in want["hrv"]]
    assert _numbers(line("Resting HR"))[-2:] == [str(v) for v in want["resting_hr"]]
    night = want["night"]
    hours, rest = divmod(night["total_sleep_duration"], 3600)
    assert f"Last night ({night['day'].isoformat()})" in output
    assert f"asleep {hours} h {rest // 60:02d} min" in output
    # The hypnogram: one mark per stretch of stages, each mark a stage's own character.
    stage_marks = {mark for _, mark, _ in summary.STAGES.values()}
    strip = lines[lines.index(line(f"Last night ({night['day'].isoformat()})")) + 1]
    assert strip.strip(), lines
    assert set(strip.strip()) <= stage_marks | {" "}, strip
    assert "Sync: last run succeeded" in output


def test_summary_on_a_terminal_is_coloured(system: System) -> None:
    output = _on_terminal(system.database_url)
    assert ANSI.search(output), output
    assert "Sync: last run" in output


def test_an_empty_database_is_one_clear_line_and_exit_3(database_url: str) -> None:
    result = _piped(database_url)
    assert result.returncode == summary.EXIT_NO_DATA
    assert result.stdout == ""
    assert result.stderr.strip().startswith("myhealth summary: no data yet"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sparkline_scales_between_the_window_minimum_and_maximum() -> None:
    assert summary.sparkline([1, None, 5, 3]) == "▁ █▅"
    assert summary.sparkline([4, 4]) == "▅▅"
    assert summary.sparkline([None, None]) == "  "


def test_hypnogram_keeps_the_dominant_stage_of_each_stretch() -> None:
    assert summary.hypnogram("4321", max_marks=4).plain == "█▆▄▂"
    assert summary.hypnogram("11122233", max_marks=4).plain == "▂▂▄▆"
    assert summary.hypnogram("1112", max_marks=2).plain == "▂▂"
    assert summary.hypnogram("2211", max_marks=1).plain == "▄"


def test_a_database_without_the_schema_is_told_to_migrate(empty_database_url: str) -> None:
    result = _piped(empty_database_url)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "myhealth summary: the database has no myhealth schema: run `myhealth migrate` first"
    )
