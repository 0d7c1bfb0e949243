"""`myhealth summary`: the latest days at a glance, in the terminal, without Grafana.

Reads `DATABASE_URL` only (the three daily relations, the main sleep periods and the collector
runs; see docs/architecture.md#the-daily-relations) and prints, with `rich`:

- the most recent sleep, readiness and activity scores (and their days: today's may not exist
  yet) with their 7-day averages (the mean of the non-null scores of the 7 days ending on the
  latest day of the three daily relations, as the API's dashboard computes `avg_7d`);
- last night's hypnogram, one mark per stretch of the main sleep period's 5-minute stages;
- 14-day sparklines (with the most recent value, minimum and maximum) of sleep score,
  readiness score, HRV, resting heart rate and steps;
- sync freshness: the collector's latest run and the latest successful one.

On a terminal the stages and scores are coloured; written to a pipe or a file the output is
plain text (no escape sequences), and the marks alone still tell the stages apart (their
height follows the stage, like a hypnogram). An empty database is one clear line and exit 3.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import zoneinfo
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO, TypeVar

import psycopg
from pydantic import field_validator
from rich.console import Console
from rich.table import Table
from rich.text import Text

from myhealth.platform.config import DatabaseSettings, load
from myhealth.platform.errors import ErrorCode, UserFacingError
from myhealth.storage.db import connect

SPARKLINE_DAYS = 14
AVERAGE_DAYS = 7
HYPNOGRAM_MAX_MARKS = 72
EXIT_NO_DATA = 3
T = TypeVar("T")
_SPARKS = "▁▂▃▄▅▆▇█"

# Oura's `sleep_phase_5_min`: one character per 5 minutes. The mark's height follows the
# stage (awake on top, deep at the bottom) so the strip reads without colour too.
STAGES: dict[str, tuple[str, str, str]] = {
    "4": ("awake", "█", "bold red"),
    "3": ("REM", "▆", "magenta"),
    "2": ("light", "▄", "cyan"),
    "1": ("deep", "▂", "blue"),
}


class SummarySettings(DatabaseSettings):
    USER_TIMEZONE: str = "UTC"  # bedtimes are shown on the owner's clock

    @field_validator("USER_TIMEZONE")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


class NoData(UserFacingError):
    code = ErrorCode.NO_DATA


@dataclass(frozen=True)
class Score:
    name: str
    value: int | None  # the most recent score of the window (today's may not exist yet)
    day: dt.date | None  # the day of `value`
    average_7d: float | None


@dataclass(frozen=True)
class Series:
    name: str
    unit: str
    values: list[float | None]  # one per day, oldest first, SPARKLINE_DAYS long


@dataclass(frozen=True)
class Night:
    day: dt.date
    bedtime_start: dt.datetime | None
    bedtime_end: dt.datetime | None
    total_sleep_seconds: int | None
    phases: str | None


@dataclass(frozen=True)
class Run:
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    data_types: int


@dataclass(frozen=True)
class Summary:
    latest: dt.date
    now: dt.datetime
    scores: list[Score]
    series: list[Series]
    night: Night | None
    last_run: Run | None
    last_success: Run | None


_LATEST_DAY = """
SELECT max(date) FROM (
    SELECT max(date) AS date FROM sleep_metrics
    UNION ALL SELECT max(date) FROM activity_metrics
    UNION ALL SELECT max(date) FROM readiness_metrics) AS latest
"""

# One row per day of the window, whatever the views hold (a missing day is all nulls).
_WINDOW = """
SELECT d::date,
       s.score, r.score, a.score, r.hrv, r.resting_hr, a.steps
FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d
LEFT JOIN sleep_metrics s ON s.date = d::date
LEFT JOIN readiness_metrics r ON r.date = d::date
LEFT JOIN activity_metrics a ON a.date = d::date
ORDER BY d
"""

_NIGHT = """
SELECT day, bedtime_start, bedtime_end, total_sleep_duration, sleep_phase_5_min
FROM main_sleep_periods
WHERE day <= %s
ORDER BY day DESC
LIMIT 1
"""

_RUN = """
SELECT status, started_at, finished_at, cardinality(data_types)
FROM sync_runs {where}
ORDER BY started_at DESC, run_id DESC
LIMIT 1
"""


def _mean(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def _last(days: Sequence[dt.date], values: Sequence[T]) -> tuple[dt.date | None, T | None]:
    """The most recent non-null value and its day."""
    for day, value in zip(reversed(days), reversed(values), strict=True):
        if value is not None:
            return day, value
    return None, None


def read(conn: psycopg.Connection) -> Summary:
    """Everything the summary shows, read in one read-only transaction."""
    conn.execute("SET TRANSACTION READ ONLY")
    row = conn.execute(_LATEST_DAY).fetchone()
    latest: dt.date | None = row[0] if row else None
    if latest is None:
        raise NoData(
            "no data yet: the database holds no sleep, readiness or activity days; run "
            "`myhealth collect` (or `make demo` for synthetic data) first",
            exit_code=EXIT_NO_DATA,
        )
    first = latest - dt.timedelta(days=SPARKLINE_DAYS - 1)
    rows = conn.execute(_WINDOW, {"first": first, "last": latest}).fetchall()
    days = [row[0] for row in rows]
    columns = list(zip(*[row[1:] for row in rows], strict=True))
    sleep, readiness, activity, hrv, resting_hr, steps = (list(column) for column in columns)
    week = slice(-AVERAGE_DAYS, None)
    scores = [
        Score(name, last_value, last_day, _mean(values[week]))
        for name, values in (("Sleep", sleep), ("Readiness", readiness), ("Activity", activity))
        for last_day, last_value in [_last(days, values)]
    ]
    series = [
        Series("Sleep score", "", sleep),
        Series("Readiness score", "", readiness),
        Series("HRV", "ms", hrv),
        Series("Resting HR", "bpm", resting_hr),
        Series("Steps", "", steps),
    ]
    night_row = conn.execute(_NIGHT, (latest,)).fetchone()
    night = Night(*night_row) if night_row else None
    last = conn.execute(_RUN.format(where="")).fetchone()
    success = conn.execute(_RUN.format(where="WHERE status = 'succeeded'")).fetchone()
    now_row = conn.execute("SELECT now()").fetchone()
    assert now_row is not None
    conn.rollback()
    return Summary(
        latest=latest,
        now=now_row[0],
        scores=scores,
        series=series,
        night=night,
        last_run=Run(*last) if last else None,
        last_success=Run(*success) if success else None,
    )


# ---- rendering ----------------------------------------------------------------------------


def sparkline(values: Sequence[float | None]) -> str:
    """One mark per value, scaled between the window's minimum and maximum; a missing value
    is a space."""
    present = [value for value in values if value is not None]
    if not present:
        return " " * len(values)
    low, high = min(present), max(present)
    marks = []
    for value in values:
        if value is None:
            marks.append(" ")
        elif high == low:
            marks.append(_SPARKS[len(_SPARKS) // 2])
        else:
            marks.append(_SPARKS[round((value - low) / (high - low) * (len(_SPARKS) - 1))])
    return "".join(marks)


def hypnogram(phases: str, max_marks: int = HYPNOGRAM_MAX_MARKS) -> Text:
    """The stages as a strip of at most `max_marks` marks: each mark is the most common stage
    of its stretch of 5-minute epochs (the earliest such stage on a tie)."""
    stretch = max(1, math.ceil(len(phases) / max_marks))
    strip = Text()
    for start in range(0, len(phases), stretch):
        epochs = [phase for phase in phases[start : start + stretch] if phase in STAGES]
        if not epochs:
            strip.append(" ")
            continue
        counts = Counter(epochs)
        stage = max(epochs, key=lambda phase: (counts[phase], -epochs.index(phase)))
        _, mark, style = STAGES[stage]
        strip.append(mark, style=style)
    return strip


def _number(value: float | None, decimals: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{decimals}f}"


def _score_style(value: float | None) -> str:
    if value is None:
        return "dim"
    return "green" if value >= 85 else "yellow" if value >= 70 else "red"


def _age(now: dt.datetime, then: dt.datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _clock(instant: dt.datetime | None, zone: dt.tzinfo) -> str:
    return instant.astimezone(zone).strftime("%H:%M") if instant else "–"


def render(summary: Summary, console: Console, zone: dt.tzinfo = dt.UTC) -> None:
    """Print the summary; clock times (bedtimes) in `zone`, the owner's time zone."""
    console.print(Text(f"myHealth — latest day {summary.latest.isoformat()}", style="bold"))
    console.print()

    scores = Table(box=None, pad_edge=False, show_edge=False)
    scores.add_column("Score")
    scores.add_column("Latest", justify="right")
    scores.add_column("Day")
    scores.add_column(f"{AVERAGE_DAYS}-day avg", justify="right")
    for score in summary.scores:
        scores.add_row(
            score.name,
            Text(_number(score.value), style=_score_style(score.value)),
            score.day.isoformat() if score.day else "–",
            Text(_number(score.average_7d, 1), style=_score_style(score.average_7d)),
        )
    console.print(scores)
    console.print()

    night = summary.night
    if night is None:
        console.print("Last night: no main sleep period stored")
    else:
        console.print(
            f"Last night ({night.day.isoformat()}): {_clock(night.bedtime_start, zone)}–"
            f"{_clock(night.bedtime_end, zone)}, asleep {_duration(night.total_sleep_seconds)}"
        )
        if night.phases:
            console.print(hypnogram(night.phases), soft_wrap=True)
            legend = Text()
            for name, mark, style in STAGES.values():
                legend.append(mark, style=style)
                legend.append(f" {name}  ")
            console.print(legend)
        else:
            console.print("(no sleep stages in this period)")
    console.print()

    first = summary.latest - dt.timedelta(days=SPARKLINE_DAYS - 1)
    trends = Table(
        title=f"Last {SPARKLINE_DAYS} days ({first.isoformat()} – {summary.latest.isoformat()})",
        title_justify="left",
        box=None,
        pad_edge=False,
        show_edge=False,
    )
    trends.add_column("Metric")
    trends.add_column("Trend", no_wrap=True)
    trends.add_column("Latest", justify="right")
    trends.add_column("Min", justify="right")
    trends.add_column("Max", justify="right")
    for series in summary.series:
        present = [value for value in series.values if value is not None]
        unit = f" {series.unit}" if series.unit else ""
        latest = present[-1] if present else None
        trends.add_row(
            series.name,
            Text(sparkline(series.values), style="cyan"),
            _number(latest) + (unit if latest is not None else ""),
            _number(min(present) if present else None),
            _number(max(present) if present else None),
        )
    console.print(trends)
    console.print()

    run, success = summary.last_run, summary.last_success
    if run is None:
        console.print("Sync: no collector run recorded yet")
        return
    when = run.finished_at or run.started_at
    style = {"succeeded": "green", "failed": "red"}.get(run.status, "yellow")
    line = Text("Sync: last run ")
    line.append(run.status, style=style)
    line.append(
        f" {_age(summary.now, when)} ({when.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{run.data_types} data types)"
    )
    console.print(line)
    if run.status != "succeeded":
        if success is not None and success.finished_at is not None:
            console.print(
                f"      last success {_age(summary.now, success.finished_at)} "
                f"({success.finished_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC)"
            )
        else:
            console.print("      no successful run yet")


def print_summary(database_url: str, zone: dt.tzinfo = dt.UTC, file: TextIO | None = None) -> None:
    """Read and print the summary; colour only when `file` (stdout) is a terminal."""
    with connect(database_url) as conn:
        try:
            summary = read(conn)
        except psycopg.errors.UndefinedTable:
            raise NoData(
                "the database has no myhealth schema: run `myhealth migrate` first",
                exit_code=2,
            ) from None
    console = Console(file=file or sys.stdout, highlight=False, emoji=False)
    render(summary, console, zone)


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(SummarySettings, environ)
    print_summary(settings.database_url, zoneinfo.ZoneInfo(settings.USER_TIMEZONE))
    return 0
