"""Daily values sit on the owner's day whatever time zone the viewer's browser is in.

Grafana draws a point at an instant and labels the axis in the dashboard's effective time zone
(the dashboard's own zone, else the viewer's default, which Compose and the chart set to
USER_TIMEZONE; "browser" means the browser's). The panels place a `day` at local midnight of
`${__timezone}`, the effective zone Grafana substitutes. These tests run every daily panel's
SQL with the macros expanded as Grafana would for a viewer, on a database holding one day, and
check the date each point shows (docs/monitoring.md#time-zones).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from .grafana_checks import (
    POSTGRES_TYPE,
    TimeRange,
    expand_sql,
    load_dashboards,
    variables_of,
)
from .sample_data import SampleRange, fill

DASHBOARDS = load_dashboards()
STORED_DAY = date(2026, 3, 14)

# (viewer's default zone in Grafana, the browser's zone): west and east of UTC, each way round.
VIEWERS = {
    "LA browser, Grafana default 'browser'": ("browser", "America/Los_Angeles"),
    "Auckland browser, Grafana default 'browser'": ("browser", "Pacific/Auckland"),
    "LA browser, owner in Auckland (USER_TIMEZONE)": ("Pacific/Auckland", "America/Los_Angeles"),
    "Auckland browser, owner in LA (USER_TIMEZONE)": ("America/Los_Angeles", "Pacific/Auckland"),
}


def effective_time_zone(dashboard_zone: str, default_zone: str, browser_zone: str) -> str:
    """The zone Grafana draws a dashboard in and substitutes for ${__timezone}."""
    zone = dashboard_zone or default_zone  # "" means: the viewer's default
    return browser_zone if zone == "browser" else zone


def test_effective_time_zone_follows_grafanas_precedence() -> None:
    assert effective_time_zone("", "Europe/Berlin", "America/Los_Angeles") == "Europe/Berlin"
    assert effective_time_zone("", "browser", "America/Los_Angeles") == "America/Los_Angeles"
    assert effective_time_zone("utc", "Europe/Berlin", "Pacific/Auckland") == "utc"
    assert effective_time_zone("browser", "Europe/Berlin", "Pacific/Auckland") == (
        "Pacific/Auckland"
    )


def test_every_dashboard_leaves_the_zone_to_the_viewers_default() -> None:
    # An explicit zone would override USER_TIMEZONE (Grafana's default) for every viewer.
    assert {name: board["timezone"] for name, board in DASHBOARDS.items()} == {
        name: "" for name in DASHBOARDS
    }
    # ...and no dashboard asks for a zone in a text box (Grafana cannot save its value there).
    for board in DASHBOARDS.values():
        assert [v["name"] for v in variables_of(board) if v["type"] == "textbox"] == []


def _daily_targets() -> list[tuple[str, str, str]]:
    """(dashboard, panel, SQL) of every time series built from days, not from timestamps."""
    found = []
    for name, dashboard in DASHBOARDS.items():
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                sql = target.get("rawSql")
                if sql is None or target.get("format") != "time_series":
                    continue
                if "$__timeGroup" in sql:  # intraday samples (heart rate), bucketed by time
                    continue
                found.append((name, panel["title"], sql))
    return found


def _values(
    conn: psycopg.Connection, dashboard: dict[str, Any], time_range: TimeRange
) -> dict[str, str | list[str]]:
    values: dict[str, str | list[str]] = {}
    for variable in variables_of(dashboard):
        if variable["type"] == "custom":
            values[variable["name"]] = variable["current"]["value"]
        elif variable["type"] == "query" and variable["datasource"]["type"] == POSTGRES_TYPE:
            row = conn.execute(expand_sql(variable["query"], time_range, values)).fetchone()
            values[variable["name"]] = str(row[0]) if row else ""
    return values


def _expected_day(sql: str) -> date:
    """The stored day, or for a weekly total the Monday that starts the stored day's week."""
    if "date_trunc('week'" in sql:
        return STORED_DAY - timedelta(days=STORED_DAY.weekday())
    return STORED_DAY


def test_the_daily_panels_are_found() -> None:
    titles = {title for _name, title, _sql in _daily_targets()}
    assert {
        "Daily scores",
        "Readiness score",
        "Steps",
        "Resilience",
        "Bedtime and wake-up",
    } <= titles
    assert len(titles) >= 25


@pytest.mark.parametrize("viewer", sorted(VIEWERS))
def test_daily_points_fall_on_the_stored_day(database_url: str, viewer: str) -> None:
    default_zone, browser_zone = VIEWERS[viewer]
    with psycopg.connect(database_url, autocommit=True) as conn:
        fill(conn, SampleRange(last_day=STORED_DAY, days=1))
        conn.execute("SET default_transaction_read_only = on")
        checked: dict[str, int] = {}
        wrong: list[str] = []
        for name, title, sql in _daily_targets():
            zone = effective_time_zone(DASHBOARDS[name]["timezone"], default_zone, browser_zone)
            # Two days either side: the stored day is inside the range in every zone.
            around = datetime.combine(STORED_DAY, time(12), ZoneInfo(zone))
            time_range = TimeRange(around - timedelta(days=2), around + timedelta(days=2), zone)
            values = _values(conn, DASHBOARDS[name], time_range)
            cursor = conn.execute(expand_sql(sql, time_range, values))
            columns = [column.name for column in cursor.description or []]
            assert columns[0] == "time", f"{name} / {title}: {columns}"
            for row in cursor.fetchall():
                if all(value is None for value in row[1:]):
                    continue  # a gap (e.g. a day with no workout) draws nothing
                shown = row[0].astimezone(ZoneInfo(zone)).date()
                checked[f"{name} / {title}"] = checked.get(f"{name} / {title}", 0) + 1
                if shown != _expected_day(sql):
                    wrong.append(f"{name} / {title}: drawn on {shown} in {zone}")
    assert wrong == []
    # Every daily panel whose data the one-day sample holds drew its point(s).
    assert len(checked) >= 20, sorted(checked)


def test_the_check_catches_a_day_drawn_at_utc_midnight(database_url: str) -> None:
    """The old query (day::timestamp, i.e. midnight UTC) shows the previous day west of UTC."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        fill(conn, SampleRange(last_day=STORED_DAY, days=1))
        zone = "America/Los_Angeles"
        around = datetime.combine(STORED_DAY, time(12), ZoneInfo(zone))
        time_range = TimeRange(around - timedelta(days=2), around + timedelta(days=2), zone)
        old = 'SELECT day::timestamptz AS "time", score FROM daily_sleep WHERE $__timeFilter(day)'
        conn.execute("SET TIME ZONE 'UTC'")
        ((drawn, _score),) = conn.execute(expand_sql(old, time_range)).fetchall()
    assert drawn.astimezone(ZoneInfo(zone)).date() == STORED_DAY - timedelta(days=1)


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Pacific/Auckland"])
def test_bedtime_and_wake_up_are_drawn_as_clock_times(database_url: str, zone: str) -> None:
    """The y value, formatted with the panel's `time:HH:mm` unit in the dashboard's zone, is
    the local clock time of going to bed and of waking up."""
    sleep = DASHBOARDS["sleep.json"]
    panel = next(panel for panel in sleep["panels"] if panel["title"] == "Bedtime and wake-up")
    assert panel["fieldConfig"]["defaults"]["unit"] == "time:HH:mm"
    with psycopg.connect(database_url, autocommit=True) as conn:
        fill(conn, SampleRange(last_day=STORED_DAY, days=5))
        stored = {
            day: (start, end)
            for day, start, end in conn.execute(
                "SELECT day, bedtime_start, bedtime_end FROM main_sleep_periods"
            ).fetchall()
        }
        end = datetime.combine(STORED_DAY, time(23), ZoneInfo(zone))
        time_range = TimeRange(end - timedelta(days=10), end, zone)
        rows = conn.execute(expand_sql(panel["targets"][0]["rawSql"], time_range)).fetchall()
    assert len(rows) == 5
    local = ZoneInfo(zone)
    bedtimes = []
    for drawn_at, bedtime_ms, wake_ms in rows:
        day = drawn_at.astimezone(local).date()
        bedtime_start, bedtime_end = stored[day]
        bedtime_label = datetime.fromtimestamp(float(bedtime_ms) / 1000, local).strftime("%H:%M")
        wake_label = datetime.fromtimestamp(float(wake_ms) / 1000, local).strftime("%H:%M")
        assert bedtime_label == bedtime_start.astimezone(local).strftime("%H:%M")
        assert wake_label == bedtime_end.astimezone(local).strftime("%H:%M")
        bedtimes.append(float(bedtime_ms))
    # An evening bedtime sorts below a past-midnight one: no jump of a day at midnight.
    assert max(bedtimes) - min(bedtimes) < 12 * 3600 * 1000
