"""Activity dashboard (uid myhealth-activity)."""

from __future__ import annotations

from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode

from . import baselines, context
from .baselines import Band
from .kit import (
    Field,
    Override,
    Place,
    Section,
    Spec,
    Sql,
    Step,
    donut_panel,
    local_midnight,
    stat_panel,
    table_panel,
    timeseries_panel,
)


def sections() -> list[Section]:
    return [
        Section(
            "Averages over the time range",
            [
                Place(
                    stat_panel(
                        "Steps",
                        "Mean steps per day.",
                        [
                            Sql(
                                'SELECT round(avg(steps)) AS "Steps" FROM activity_metrics WHERE $__timeFilter(date)'
                            )
                        ],
                        Field(unit="short", decimals=0),
                    ),
                    6,
                    4,
                ),
                Place(
                    stat_panel(
                        "Active calories",
                        "Mean active calories per day.",
                        [
                            Sql(
                                'SELECT round(avg(active_calories)) AS "Active calories" FROM activity_metrics WHERE $__timeFilter(date)'
                            )
                        ],
                        Field(unit="suffix: kcal", decimals=0),
                    ),
                    6,
                    4,
                ),
                Place(
                    stat_panel(
                        "Moderate-to-vigorous",
                        "Mean minutes per day of medium and high activity.",
                        [
                            Sql(
                                'SELECT round(avg(active_minutes)) AS "Active minutes" FROM activity_metrics WHERE $__timeFilter(date)'
                            )
                        ],
                        Field(unit="m", decimals=0),
                    ),
                    6,
                    4,
                ),
                Place(
                    stat_panel(
                        "Workouts",
                        "Workouts recorded in the time range.",
                        [
                            Sql(
                                'SELECT count(*) AS "Workouts" FROM workouts WHERE $__timeFilter(day)'
                            )
                        ],
                        Field(unit="short", decimals=0),
                    ),
                    6,
                    4,
                ),
            ],
        ),
        Section(
            "Daily",
            [
                Place(
                    timeseries_panel(
                        "Steps",
                        "Steps per day; the dashed line is 10,000.",
                        [
                            Sql(
                                f"""SELECT {local_midnight("date")} AS "time", steps AS "Steps" FROM activity_metrics WHERE $__timeFilter(date) ORDER BY 1""",
                                time_series=True,
                            )
                        ],
                        Field(
                            unit="short",
                            steps=(
                                Step("transparent"),
                                Step("green", 10000),
                            ),
                        ),
                        bars=True,
                        threshold_style=GraphThresholdsStyleMode.DASHED,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Calories",
                        "Total burn (including basal metabolism) and active calories per day.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("date")} AS "time", calories AS "Total", active_calories AS "Active"
            FROM activity_metrics
            WHERE $__timeFilter(date)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="suffix: kcal"),
                        points=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Moderate-to-vigorous minutes",
                        "Minutes of medium and high activity per day, stacked (WHO suggests 150+ a week).",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("day")} AS "time",
                   round(medium_activity_time / 60.0) AS "Medium",
                   round(high_activity_time / 60.0) AS "High"
            FROM latest_daily_activity
            WHERE $__timeFilter(day)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="m"),
                        bars=True,
                        stacked=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Time by activity class",
                        "How each day's 24 hours split across Oura's activity classes.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("day")} AS "time",
                   round(high_activity_time / 3600.0, 2) AS "High",
                   round(medium_activity_time / 3600.0, 2) AS "Medium",
                   round(low_activity_time / 3600.0, 2) AS "Low",
                   round(sedentary_time / 3600.0, 2) AS "Sedentary",
                   round(resting_time / 3600.0, 2) AS "Resting",
                   round(non_wear_time / 3600.0, 2) AS "Not worn"
            FROM latest_daily_activity
            WHERE $__timeFilter(day)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="h", decimals=1, max=24),
                        bars=True,
                        stacked=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    donut_panel(
                        "Activity-class share",
                        "Share of all hours in the time range per activity class.",
                        [
                            Sql("""\
            SELECT round(sum(high_activity_time) / 3600.0, 1) AS "High",
                   round(sum(medium_activity_time) / 3600.0, 1) AS "Medium",
                   round(sum(low_activity_time) / 3600.0, 1) AS "Low",
                   round(sum(sedentary_time) / 3600.0, 1) AS "Sedentary",
                   round(sum(resting_time) / 3600.0, 1) AS "Resting",
                   round(sum(non_wear_time) / 3600.0, 1) AS "Not worn"
            FROM latest_daily_activity
            WHERE $__timeFilter(day)
            """)
                        ],
                        Field(unit="h"),
                    ),
                    8,
                    9,
                ),
                Place(
                    timeseries_panel(
                        "Activity score",
                        "Oura's daily activity score.",
                        [
                            Sql(
                                f"""SELECT {local_midnight("date")} AS "time", score AS "Activity score" FROM activity_metrics WHERE $__timeFilter(date) ORDER BY 1""",
                                time_series=True,
                            )
                        ],
                        Field(unit="none", min=30, max=100),
                        points=True,
                    ),
                    16,
                    9,
                ),
            ],
        ),
        Section(
            "Workouts",
            [
                Place(
                    timeseries_panel(
                        "Workout minutes per week",
                        "Workout time per ISO week (starting Monday), by activity.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("date_trunc('week', day)::date")} AS "time", activity AS "metric",
                   round(sum(extract(epoch FROM end_datetime - start_datetime)) / 60) AS "minutes"
            FROM workouts
            WHERE $__timeFilter(day)
            GROUP BY 1, 2
            ORDER BY 1, 2
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="m"),
                        bars=True,
                        stacked=True,
                    ),
                    10,
                    9,
                ),
                Place(
                    table_panel(
                        "Workouts",
                        "Every workout in the range, newest first.",
                        [
                            Sql("""\
            SELECT start_datetime AS "Start", activity AS "Activity", intensity AS "Intensity",
                   round(extract(epoch FROM end_datetime - start_datetime) / 60) AS "Minutes",
                   round(calories) AS "Calories (kcal)", round((distance / 1000)::numeric, 2) AS "Distance (km)",
                   source AS "Source"
            FROM workouts
            WHERE $__timeFilter(day)
            ORDER BY start_datetime DESC
            """)
                        ],
                        Field(),
                    ),
                    14,
                    9,
                ),
            ],
        ),
        Section(
            "Workouts and sessions per day",
            [
                Place(
                    timeseries_panel(
                        "Workout duration and calories",
                        "Minutes of workouts per day (bars, left) and the calories they burned (line, right).",
                        [
                            Sql(
                                f"""
                            SELECT {local_midnight("day")} AS "time",
                                   round(sum(extract(epoch FROM end_datetime - start_datetime)) / 60) AS "Workout minutes",
                                   round(sum(calories)) AS "Workout calories"
                            FROM workouts
                            WHERE $__timeFilter(day)
                            GROUP BY day
                            ORDER BY 1
                            """,
                                time_series=True,
                            )
                        ],
                        Field(
                            unit="m",
                            overrides=(
                                Override(
                                    "Workout calories", unit="kcal", axis_right=True, line=True
                                ),
                            ),
                        ),
                        bars=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Session minutes",
                        "Minutes of guided or unguided sessions (meditation, breathing, rest) per day, by type.",
                        [
                            Sql(
                                f"""
                            SELECT {local_midnight("day")} AS "time",
                                   initcap(replace(COALESCE(type, 'session'), '_', ' ')) AS "metric",
                                   round(sum(extract(epoch FROM end_datetime - start_datetime)) / 60) AS "value"
                            FROM sessions
                            WHERE $__timeFilter(day)
                            GROUP BY day, type
                            ORDER BY 1
                            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="m"),
                        bars=True,
                        stacked=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    table_panel(
                        "Sessions",
                        "Every session in the range, newest first, with its average heart rate and HRV where the ring recorded them.",
                        [
                            Sql("""
                            SELECT start_datetime AS "Start",
                                   initcap(replace(COALESCE(type, 'session'), '_', ' ')) AS "Type",
                                   round(extract(epoch FROM end_datetime - start_datetime) / 60) AS "Minutes",
                                   mood AS "Mood",
                                   (SELECT round(avg(value::numeric)) FROM jsonb_array_elements_text(heart_rate->'items') AS value) AS "Avg HR (bpm)",
                                   (SELECT round(avg(value::numeric)) FROM jsonb_array_elements_text(heart_rate_variability->'items') AS value) AS "Avg HRV (ms)"
                            FROM sessions
                            WHERE $__timeFilter(day)
                            ORDER BY start_datetime DESC NULLS LAST
                            """)
                        ],
                        Field(),
                    ),
                    24,
                    7,
                ),
            ],
        ),
        baselines.section(
            [Band("steps", "Steps", "none", "Steps of each day (today still counting).")]
        ),
    ]


def spec() -> Spec:
    return Spec(
        uid="myhealth-activity",
        title="Activity",
        description="Steps, calories, moderate-to-vigorous minutes, time per activity class and workouts.",
        tags=["myhealth", "oura", "activity"],
        time_from="now-30d",
        refresh="",
        sections=sections(),
        annotations=context.all_context(),
    )
