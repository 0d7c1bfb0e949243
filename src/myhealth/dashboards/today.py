"""Today (uid myhealth-today): last night, today's readiness and activity, sized for a phone.

One column: every panel spans the full 24-column width, so a narrow screen shows the panels one
under the other without horizontal scrolling. "Last night" is the newest night up to the end
of the time range (Oura files a night under the day it ends), so the page is right in the
morning, and moving the time range back shows an earlier day.
"""

from __future__ import annotations

from . import context
from .kit import (
    TIME_ZONE,
    Field,
    Override,
    Place,
    Section,
    Spec,
    Sql,
    Step,
    bargauge_panel,
    hypnogram_panel,
    standard_links,
    stat_panel,
    table_panel,
    timeseries_panel,
)

FULL = 24

# Oura's score bands (docs/monitoring.md#oura-overview-myhealth-overview).
SCORE_STEPS = (Step("red"), Step("orange", 60), Step("yellow", 70), Step("green", 85))

NIGHT = "(SELECT max(day) FROM main_sleep_periods WHERE day <= $__timeTo()::date)"
READINESS_DAY = "(SELECT max(day) FROM latest_daily_readiness WHERE day <= $__timeTo()::date)"
ACTIVITY_DAY = "(SELECT max(day) FROM latest_daily_activity WHERE day <= $__timeTo()::date)"


def last_night() -> list[Place]:
    summary = stat_panel(
        "Last night",
        "Sleep score, total sleep, average HRV and lowest heart rate of the newest night.",
        [
            Sql(f"""
            SELECT s.score AS "Sleep score",
                   round(m.total_sleep_duration / 3600.0, 1) AS "Total sleep",
                   m.average_hrv AS "HRV", m.lowest_heart_rate AS "Lowest HR"
            FROM main_sleep_periods m
            LEFT JOIN latest_daily_sleep s ON s.day = m.day
            WHERE m.day = {NIGHT}
            """)
        ],
        Field(
            steps=SCORE_STEPS,
            overrides=(
                Override("Total sleep", unit="h", decimals=1, color="blue"),
                Override("HRV", unit="ms", color="purple"),
                Override("Lowest HR", unit="suffix: bpm", color="red"),
            ),
        ),
        show_name=True,
    )
    hypnogram = hypnogram_panel(
        "Hypnogram",
        "Last night's sleep stages in 5-minute steps: deep 1, light 2, REM 3, awake 4.",
        [
            Sql(f"""
            SELECT to_char((p.bedtime_start AT TIME ZONE {TIME_ZONE}) + (i - 1) * interval '5 minutes', 'HH24:MI') AS "Clock",
                   substr(p.sleep_phase_5_min, i, 1)::integer AS "Stage"
            FROM main_sleep_periods p
            CROSS JOIN LATERAL generate_series(1, length(p.sleep_phase_5_min)) AS i
            WHERE p.day = {NIGHT} AND substr(p.sleep_phase_5_min, i, 1) BETWEEN '1' AND '4'
            ORDER BY i
            """)
        ],
        Field(
            min=0,
            max=4,
            steps=(Step("dark-blue"), Step("blue", 2), Step("purple", 3), Step("orange", 4)),
            mappings={"1": "Deep", "2": "Light", "3": "REM", "4": "Awake"},
        ),
        x_field="Clock",
    )
    durations = bargauge_panel(
        "Sleep stages",
        "Hours of deep, light and REM sleep, and time awake in bed, last night.",
        [
            Sql(f"""
            SELECT round(deep_sleep_duration / 3600.0, 2) AS "Deep",
                   round(light_sleep_duration / 3600.0, 2) AS "Light",
                   round(rem_sleep_duration / 3600.0, 2) AS "REM",
                   round(awake_time / 3600.0, 2) AS "Awake"
            FROM main_sleep_periods
            WHERE day = {NIGHT}
            """)
        ],
        Field(
            unit="h",
            decimals=1,
            min=0,
            overrides=(
                Override("Deep", color="dark-blue"),
                Override("Light", color="blue"),
                Override("REM", color="purple"),
                Override("Awake", color="orange"),
            ),
        ),
    )
    return [Place(summary, FULL, 5), Place(hypnogram, FULL, 7), Place(durations, FULL, 6)]


def readiness() -> list[Place]:
    summary = stat_panel(
        "Readiness",
        "Today's readiness score, and the skin temperature against your baseline.",
        [
            Sql(f"""
            SELECT score AS "Readiness", temperature_deviation AS "Temperature"
            FROM latest_daily_readiness
            WHERE day = {READINESS_DAY}
            """)
        ],
        Field(
            steps=SCORE_STEPS,
            overrides=(Override("Temperature", unit="celsius", decimals=1, color="text"),),
        ),
        show_name=True,
    )
    contributors = bargauge_panel(
        "Readiness contributors",
        "What today's readiness is made of (0-100 each): low bars are what held it back.",
        [
            Sql(f"""
            SELECT (contributors->>'activity_balance')::integer AS "Activity balance",
                   (contributors->>'body_temperature')::integer AS "Body temperature",
                   (contributors->>'hrv_balance')::integer AS "HRV balance",
                   (contributors->>'previous_day_activity')::integer AS "Previous day activity",
                   (contributors->>'previous_night')::integer AS "Previous night",
                   (contributors->>'recovery_index')::integer AS "Recovery index",
                   (contributors->>'resting_heart_rate')::integer AS "Resting heart rate",
                   (contributors->>'sleep_balance')::integer AS "Sleep balance"
            FROM latest_daily_readiness
            WHERE day = {READINESS_DAY}
            """)
        ],
        Field(min=0, max=100, steps=SCORE_STEPS),
    )
    return [Place(summary, FULL, 4), Place(contributors, FULL, 9)]


def activity() -> list[Place]:
    so_far = stat_panel(
        "Activity so far",
        "Steps, active calories, moderate-to-vigorous minutes and the activity score of the newest day.",
        [
            Sql(f"""
            SELECT steps AS "Steps", active_calories AS "Active kcal",
                   round((high_activity_time + medium_activity_time) / 60.0) AS "Active minutes",
                   score AS "Activity score"
            FROM latest_daily_activity
            WHERE day = {ACTIVITY_DAY}
            """)
        ],
        Field(
            decimals=0,
            overrides=(
                Override("Steps", unit="short", color="green"),
                Override("Active kcal", unit="kcal", color="orange"),
                Override("Active minutes", unit="m", color="yellow"),
            ),
            steps=SCORE_STEPS,
        ),
        show_name=True,
    )
    return [Place(so_far, FULL, 4)]


def heart_rate() -> list[Place]:
    panel = timeseries_panel(
        "Heart rate",
        "Heart rate over the time range (by default the last 24 hours), averaged per interval, with the lowest and highest sample.",
        [
            Sql(
                """
                SELECT $__timeGroupAlias("timestamp", $__interval),
                       round(avg(bpm)) AS "Average", min(bpm) AS "Min", max(bpm) AS "Max"
                FROM heart_rate
                WHERE $__timeFilter("timestamp")
                GROUP BY 1
                ORDER BY 1
                """,
                time_series=True,
            )
        ],
        Field(
            unit="suffix: bpm",
            overrides=(
                Override("Min", line_width=0, fill_below_to="Max", color="#f2495c40"),
                Override("Max", line_width=0, color="#f2495c40"),
                Override("Average", color="red"),
            ),
        ),
        fill_opacity=0,
    )
    return [Place(panel, FULL, 7)]


def freshness() -> list[Place]:
    panel = table_panel(
        "Sync freshness",
        "When each kind of data last synced successfully and the newest day stored: if this is old, look at the Service health dashboard.",
        [
            Sql(f"""
            SELECT kinds.label AS "Data", kinds.newest AS "Newest day",
                   (SELECT max(t.finished_at) FROM sync_run_types t
                    WHERE t.data_type = kinds.data_type AND t.status = 'succeeded') AS "Last successful sync"
            FROM (
              SELECT 1 AS position, 'Sleep' AS label, 'sleep' AS data_type, max(day) AS newest FROM sleep_periods
              UNION ALL SELECT 2, 'Readiness', 'daily_readiness', max(day) FROM daily_readiness
              UNION ALL SELECT 3, 'Activity', 'daily_activity', max(day) FROM daily_activity
              UNION ALL SELECT 4, 'Heart rate', 'heartrate', max("timestamp" AT TIME ZONE {TIME_ZONE})::date FROM heart_rate
            ) AS kinds
            ORDER BY kinds.position
            """)
        ],
        Field(
            overrides=(Override("Last successful sync", unit="dateTimeFromNow"),),
        ),
    )
    return [Place(panel, FULL, 6)]


def spec() -> Spec:
    return Spec(
        uid="myhealth-today",
        title="Today",
        description="Last night, today's readiness and activity, heart rate and sync freshness, in one column for a phone.",
        tags=["myhealth", "oura"],
        time_from="now-24h",
        sections=[
            Section("Last night", last_night()),
            Section("Readiness", readiness()),
            Section("Activity", activity()),
            Section("Heart rate", heart_rate()),
            Section("Sync", freshness()),
        ],
        annotations=context.all_context(),
        links=standard_links(with_today=False),
    )
