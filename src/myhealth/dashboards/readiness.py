"""Readiness & recovery dashboard (uid myhealth-readiness)."""

from __future__ import annotations

from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode

from . import baselines, context
from .baselines import Band
from .kit import (
    SCORE_STEPS,
    Field,
    Override,
    Place,
    Section,
    Spec,
    Sql,
    Step,
    bargauge_panel,
    latest_with_averages,
    local_midnight,
    stat_panel,
    state_timeline_panel,
    table_panel,
    timeseries_panel,
)


def sections() -> list[Section]:
    return [
        Section(
            "Latest day in range",
            [
                Place(
                    stat_panel(
                        "Readiness score",
                        "The latest readiness score in range, and the 7- and 30-day means ending on that day.",
                        [Sql(latest_with_averages("readiness_metrics", "score"))],
                        Field(
                            unit="none",
                            decimals=0,
                            steps=SCORE_STEPS,
                        ),
                        show_name=True,
                    ),
                    8,
                    5,
                ),
                Place(
                    stat_panel(
                        "HRV",
                        "Average HRV of the latest main sleep period, and the 7- and 30-day means.",
                        [Sql(latest_with_averages("readiness_metrics", "hrv"))],
                        Field(unit="ms", decimals=0),
                        show_name=True,
                    ),
                    6,
                    5,
                ),
                Place(
                    stat_panel(
                        "Resting heart rate",
                        "Lowest heart rate of the latest main sleep period, and the 7- and 30-day means.",
                        [Sql(latest_with_averages("readiness_metrics", "resting_hr"))],
                        Field(unit="suffix: bpm", decimals=0),
                        show_name=True,
                    ),
                    6,
                    5,
                ),
                Place(
                    stat_panel(
                        "Temperature deviation",
                        "Body temperature deviation from your baseline on the latest day.",
                        [
                            Sql("""\
            SELECT temperature_deviation AS "Deviation"
            FROM readiness_metrics
            WHERE $__timeFilter(date) AND temperature_deviation IS NOT NULL
            ORDER BY date DESC
            LIMIT 1
            """)
                        ],
                        Field(
                            unit="celsius",
                            decimals=2,
                            steps=(
                                Step("blue"),
                                Step("green", -0.5),
                                Step("orange", 0.5),
                                Step("red", 1),
                            ),
                        ),
                    ),
                    4,
                    5,
                ),
            ],
        ),
        Section(
            "Readiness",
            [
                Place(
                    timeseries_panel(
                        "Readiness score",
                        "Oura's daily readiness score.",
                        [
                            Sql(
                                f"""SELECT {local_midnight("date")} AS "time", score AS "Readiness" FROM readiness_metrics WHERE $__timeFilter(date) ORDER BY 1""",
                                time_series=True,
                            )
                        ],
                        Field(
                            unit="none",
                            min=30,
                            max=100,
                            steps=SCORE_STEPS,
                        ),
                        fill_opacity=0,
                        points=True,
                        threshold_style=GraphThresholdsStyleMode.AREA,
                    ),
                    12,
                    8,
                ),
                Place(
                    bargauge_panel(
                        "Readiness contributors (latest day)",
                        "Oura's readiness contributors (0-100) on the latest day in range.",
                        [
                            Sql("""\
            SELECT (contributors->>'activity_balance')::integer AS "Activity balance",
                   (contributors->>'body_temperature')::integer AS "Body temperature",
                   (contributors->>'hrv_balance')::integer AS "HRV balance",
                   (contributors->>'previous_day_activity')::integer AS "Previous day activity",
                   (contributors->>'previous_night')::integer AS "Previous night",
                   (contributors->>'recovery_index')::integer AS "Recovery index",
                   (contributors->>'resting_heart_rate')::integer AS "Resting heart rate",
                   (contributors->>'sleep_balance')::integer AS "Sleep balance"
            FROM latest_daily_readiness
            WHERE $__timeFilter(day)
            ORDER BY day DESC
            LIMIT 1
            """)
                        ],
                        Field(
                            unit="none",
                            min=0,
                            max=100,
                            steps=SCORE_STEPS,
                        ),
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Readiness contributors",
                        "Each readiness contributor (0-100) per day; click a legend entry to isolate it.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("day")} AS "time",
                   (contributors->>'activity_balance')::integer AS "Activity balance",
                   (contributors->>'body_temperature')::integer AS "Body temperature",
                   (contributors->>'hrv_balance')::integer AS "HRV balance",
                   (contributors->>'previous_day_activity')::integer AS "Previous day activity",
                   (contributors->>'previous_night')::integer AS "Previous night",
                   (contributors->>'recovery_index')::integer AS "Recovery index",
                   (contributors->>'resting_heart_rate')::integer AS "Resting heart rate",
                   (contributors->>'sleep_balance')::integer AS "Sleep balance"
            FROM latest_daily_readiness
            WHERE $__timeFilter(day)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="none", min=0, max=100),
                    ),
                    24,
                    9,
                ),
            ],
        ),
        Section(
            "Recovery signals",
            [
                Place(
                    timeseries_panel(
                        "Temperature deviation",
                        "Nightly skin temperature against your baseline, and its trend.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("day")} AS "time", temperature_deviation AS "Deviation",
                   temperature_trend_deviation AS "Trend deviation"
            FROM latest_daily_readiness
            WHERE $__timeFilter(day)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="celsius", decimals=2),
                        points=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "HRV and HRV balance",
                        "Nightly HRV (ms, left) and Oura's HRV balance contributor (0-100, right), which compares the last two weeks with your longer-term average.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("r.date")} AS "time", r.hrv AS "HRV",
                   (d.contributors->>'hrv_balance')::integer AS "HRV balance"
            FROM readiness_metrics r
            JOIN latest_daily_readiness d ON d.day = r.date
            WHERE $__timeFilter(r.date)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(
                            unit="ms",
                            overrides=(
                                Override(
                                    "HRV balance", unit="none", axis_right=True, min=0, max=100
                                ),
                            ),
                        ),
                        points=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Resting heart rate",
                        "Lowest heart rate of each main sleep period.",
                        [
                            Sql(
                                f"""SELECT {local_midnight("date")} AS "time", resting_hr AS "Resting HR" FROM readiness_metrics WHERE $__timeFilter(date) ORDER BY 1""",
                                time_series=True,
                            )
                        ],
                        Field(unit="suffix: bpm"),
                        points=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Blood oxygen (SpO2)",
                        "Average nightly SpO2 (%, left) and breathing disturbance index (right). Empty without a ring and plan that measure SpO2.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("day")} AS "time", (spo2_percentage->>'average')::numeric AS "SpO2 average",
                   breathing_disturbance_index AS "Breathing disturbance index"
            FROM daily_spo2
            WHERE $__timeFilter(day)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(
                            unit="percent",
                            decimals=1,
                            overrides=(
                                Override(
                                    "Breathing disturbance index",
                                    unit="none",
                                    axis_right=True,
                                    bars=True,
                                    fill_opacity=40,
                                ),
                            ),
                        ),
                        points=True,
                    ),
                    12,
                    8,
                ),
            ],
        ),
        Section(
            "Stress and resilience",
            [
                Place(
                    timeseries_panel(
                        "Daytime stress and recovery",
                        "Minutes of high stress and of high recovery per day (daily_stress).",
                        [
                            Sql(
                                f"""
                            SELECT {local_midnight("day")} AS "time",
                                   round(stress_high / 60.0) AS "High stress",
                                   round(recovery_high / 60.0) AS "High recovery"
                            FROM daily_stress
                            WHERE $__timeFilter(day)
                            ORDER BY 1
                            """,
                                time_series=True,
                            )
                        ],
                        Field(
                            unit="m",
                            overrides=(
                                Override("High stress", color="orange"),
                                Override("High recovery", color="green"),
                            ),
                        ),
                        bars=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    state_timeline_panel(
                        "Resilience",
                        "Oura's daily resilience level: limited, adequate, solid, strong or exceptional.",
                        [
                            Sql(
                                f"""
                            SELECT {local_midnight("day")} AS "time", level AS "Resilience"
                            FROM daily_resilience
                            WHERE $__timeFilter(day)
                            ORDER BY 1
                            """,
                                time_series=True,
                            )
                        ],
                        Field(
                            mappings=RESILIENCE_TEXTS,
                            mapping_colors=RESILIENCE_COLORS,
                        ),
                    ),
                    12,
                    8,
                ),
            ],
        ),
        Section(
            "Fitness",
            [
                Place(
                    timeseries_panel(
                        "Cardiovascular age and VO2 max",
                        "Oura's cardiovascular age (years, left axis: the age of your arteries, from pulse wave velocity) and VO2 max (ml/kg/min, right axis: the most oxygen your body can use). VO2 max is estimated only now and then, so it shows as separate points.",
                        [
                            Sql(
                                f"""
                            SELECT {local_midnight("d.day")} AS "time",
                                   c.vascular_age AS "Cardiovascular age", v.vo2_max AS "VO2 max"
                            FROM (SELECT day FROM daily_cardiovascular_age UNION SELECT day FROM vo2_max) AS d
                            LEFT JOIN daily_cardiovascular_age c ON c.day = d.day
                            LEFT JOIN vo2_max v ON v.day = d.day
                            WHERE $__timeFilter(d.day)
                            ORDER BY 1
                            """,
                                time_series=True,
                            )
                        ],
                        Field(
                            unit="suffix: years",
                            decimals=0,
                            overrides=(
                                Override("VO2 max", unit="suffix: ml/kg/min", axis_right=True),
                            ),
                        ),
                        points=True,
                        linear=True,
                    ),
                    24,
                    8,
                ),
            ],
        ),
        Section(
            "Context",
            [
                Place(
                    table_panel(
                        "Rest mode",
                        "Periods you switched the ring to rest mode (illness, recovery): scores are paused then.",
                        [
                            Sql("""
                            SELECT start_day AS "From", end_day AS "To",
                                   COALESCE(end_day, current_date) - start_day + 1 AS "Days",
                                   jsonb_array_length(COALESCE(episodes, '[]'::jsonb)) AS "Episodes"
                            FROM rest_mode_periods
                            WHERE start_day <= $__timeTo()::date
                              AND COALESCE(end_day, current_date) >= $__timeFrom()::date
                            ORDER BY start_day DESC
                            """)
                        ],
                        Field(),
                    ),
                    12,
                    7,
                ),
                Place(
                    table_panel(
                        "Tags",
                        "Tags you added in the Oura app (tags and enhanced tags), newest first.",
                        [
                            Sql("""
                            SELECT day AS "Day", array_to_string(tags, ', ') AS "Tag", text AS "Note"
                            FROM tags
                            WHERE $__timeFilter(day)
                            UNION ALL
                            SELECT start_day, COALESCE(custom_name, replace(tag_type_code, 'tag_generic_', '')),
                                   comment
                            FROM enhanced_tags
                            WHERE $__timeFilter(start_day)
                            ORDER BY 1 DESC
                            """)
                        ],
                        Field(),
                    ),
                    12,
                    7,
                ),
            ],
        ),
        baselines.section(
            [
                Band("hrv", "HRV", "ms", "Nightly average HRV (ms)."),
                Band("resting_hr", "Resting HR", "suffix: bpm", "Lowest heart rate of the night."),
                Band(
                    "temperature_deviation",
                    "Temperature deviation",
                    "celsius",
                    "Skin temperature against Oura's own reference (°C).",
                    decimals=2,
                ),
                Band(
                    "respiratory_rate",
                    "Respiratory rate",
                    "suffix: /min",
                    "Average breaths a minute during the main sleep period.",
                    decimals=1,
                ),
            ]
        ),
    ]


RESILIENCE_TEXTS = {
    "limited": "Limited",
    "adequate": "Adequate",
    "solid": "Solid",
    "strong": "Strong",
    "exceptional": "Exceptional",
}
RESILIENCE_COLORS = {
    "limited": "red",
    "adequate": "orange",
    "solid": "yellow",
    "strong": "green",
    "exceptional": "dark-green",
}


def spec() -> Spec:
    return Spec(
        uid="myhealth-readiness",
        title="Readiness & recovery",
        description="Readiness score and contributors, temperature deviation, HRV, resting heart rate, SpO2, daytime stress and resilience.",
        tags=["myhealth", "oura", "readiness"],
        time_from="now-30d",
        refresh="",
        sections=sections(),
        annotations=context.all_context(),
    )
