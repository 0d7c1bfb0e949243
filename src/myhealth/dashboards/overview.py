"""Oura overview dashboard (uid myhealth-overview)."""

from __future__ import annotations

from . import context
from .kit import (
    SCORE_STEPS,
    Field,
    Override,
    Place,
    Section,
    Spec,
    Sql,
    choice_variable,
    latest_with_averages,
    local_midnight,
    stat_panel,
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
                        "Sleep score",
                        "The latest sleep score in the time range, and the mean over the 7 and 30 days ending on that day.",
                        [Sql(latest_with_averages("sleep_metrics", "score"))],
                        Field(
                            unit="none",
                            decimals=0,
                            steps=SCORE_STEPS,
                        ),
                        show_name=True,
                    ),
                    6,
                    5,
                ),
                Place(
                    stat_panel(
                        "Readiness score",
                        "The latest readiness score in the time range, and the mean over the 7 and 30 days ending on that day.",
                        [Sql(latest_with_averages("readiness_metrics", "score"))],
                        Field(
                            unit="none",
                            decimals=0,
                            steps=SCORE_STEPS,
                        ),
                        show_name=True,
                    ),
                    6,
                    5,
                ),
                Place(
                    stat_panel(
                        "Activity score",
                        "The latest activity score in the time range, and the mean over the 7 and 30 days ending on that day.",
                        [Sql(latest_with_averages("activity_metrics", "score"))],
                        Field(
                            unit="none",
                            decimals=0,
                            steps=SCORE_STEPS,
                        ),
                        show_name=True,
                    ),
                    6,
                    5,
                ),
                Place(
                    stat_panel(
                        "Steps",
                        "Steps on the latest day in range, and the 7- and 30-day means.",
                        [Sql(latest_with_averages("activity_metrics", "steps"))],
                        Field(unit="short", decimals=0),
                        show_name=True,
                    ),
                    6,
                    5,
                ),
            ],
        ),
        Section(
            "Trends",
            [
                Place(
                    timeseries_panel(
                        "Daily scores",
                        "Oura's daily scores (0-100).",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("d.date")} AS "time", s.score AS "Sleep", r.score AS "Readiness", a.score AS "Activity"
            FROM (SELECT date FROM sleep_metrics UNION SELECT date FROM readiness_metrics
                  UNION SELECT date FROM activity_metrics) AS d
            LEFT JOIN sleep_metrics s ON s.date = d.date
            LEFT JOIN readiness_metrics r ON r.date = d.date
            LEFT JOIN activity_metrics a ON a.date = d.date
            WHERE $__timeFilter(d.date)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="none", min=30, max=100),
                        points=True,
                    ),
                    12,
                    9,
                ),
                Place(
                    timeseries_panel(
                        "Scores, ${rolling}-day rolling average",
                        "Mean of each score over the trailing window (pick 7, 30 or 90 days above); days before the time range feed the first points.",
                        [
                            Sql(
                                f"""\
            WITH d AS (
              SELECT date FROM sleep_metrics UNION SELECT date FROM readiness_metrics
              UNION SELECT date FROM activity_metrics
            ), scores AS (
              SELECT d.date, s.score AS sleep, r.score AS readiness, a.score AS activity
              FROM d
              LEFT JOIN sleep_metrics s ON s.date = d.date
              LEFT JOIN readiness_metrics r ON r.date = d.date
              LEFT JOIN activity_metrics a ON a.date = d.date
              WHERE d.date BETWEEN $__timeFrom()::date - $rolling AND $__timeTo()::date
            ), rolling AS (
              SELECT date, avg(sleep) OVER w AS sleep, avg(readiness) OVER w AS readiness,
                     avg(activity) OVER w AS activity
              FROM scores
              WINDOW w AS (ORDER BY date RANGE BETWEEN make_interval(days => $rolling - 1) PRECEDING AND CURRENT ROW)
            )
            SELECT {local_midnight("date")} AS "time", round(sleep, 1) AS "Sleep", round(readiness, 1) AS "Readiness",
                   round(activity, 1) AS "Activity"
            FROM rolling
            WHERE $__timeFilter(date)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="none", min=30, max=100),
                    ),
                    12,
                    9,
                ),
                Place(
                    timeseries_panel(
                        "Heart rate variability",
                        "Average HRV (RMSSD) of each day's main sleep period.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("date")} AS "time", hrv AS "HRV",
                   round(avg(hrv) OVER (ORDER BY date RANGE BETWEEN interval '6 days' PRECEDING AND CURRENT ROW), 1) AS "7-day avg"
            FROM readiness_metrics
            WHERE date BETWEEN $__timeFrom()::date - 7 AND $__timeTo()::date
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="ms"),
                        points=True,
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Resting heart rate",
                        "Lowest heart rate of each day's main sleep period.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("date")} AS "time", resting_hr AS "Resting HR",
                   round(avg(resting_hr) OVER (ORDER BY date RANGE BETWEEN interval '6 days' PRECEDING AND CURRENT ROW), 1) AS "7-day avg"
            FROM readiness_metrics
            WHERE date BETWEEN $__timeFrom()::date - 7 AND $__timeTo()::date
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="suffix: bpm"),
                        points=True,
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Steps",
                        "Steps per day.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("date")} AS "time", steps AS "Steps"
            FROM activity_metrics
            WHERE $__timeFilter(date)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="short"),
                        bars=True,
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Sleep duration",
                        "Total sleep of each day's main sleep period.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("date")} AS "time", round(duration_seconds / 3600.0, 2) AS "Total sleep"
            FROM sleep_metrics
            WHERE $__timeFilter(date)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="h", decimals=1),
                        bars=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Heart rate",
                        "All heart-rate samples (day and night), averaged per interval, with the lowest and highest sample; zoom in for 5-minute detail.",
                        [
                            Sql(
                                """\
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
                                Override(
                                    "Min", line_width=0, fill_below_to="Max", color="#f2495c40"
                                ),
                                Override("Max", line_width=0, color="#f2495c40"),
                                Override("Average", color="red"),
                            ),
                        ),
                    ),
                    12,
                    8,
                ),
            ],
        ),
        Section(
            "Ring and profile",
            [
                Place(
                    table_panel(
                        "Ring",
                        "The ring(s) Oura knows of (ring_configuration): model, size, firmware and set-up date.",
                        [
                            Sql("""
                            SELECT initcap(replace(hardware_type, '_', ' ')) AS "Hardware",
                                   initcap(replace(design, '_', ' ')) AS "Design",
                                   initcap(replace(color, '_', ' ')) AS "Colour",
                                   size AS "Size", firmware_version AS "Firmware",
                                   set_up_at AS "Set up"
                            FROM ring_configurations
                            ORDER BY set_up_at DESC NULLS LAST
                            """)
                        ],
                        Field(),
                    ),
                    12,
                    5,
                ),
                Place(
                    table_panel(
                        "Profile",
                        "What Oura uses for its estimates (personal_info): age, height, weight and sex. The e-mail address is not shown.",
                        [
                            Sql("""
                            SELECT age AS "Age", round(height::numeric, 2) AS "Height (m)",
                                   round(weight::numeric, 1) AS "Weight (kg)",
                                   biological_sex AS "Biological sex"
                            FROM personal_info
                            ORDER BY updated_at DESC
                            LIMIT 1
                            """)
                        ],
                        Field(),
                    ),
                    12,
                    5,
                ),
            ],
        ),
    ]


def spec() -> Spec:
    return Spec(
        uid="myhealth-overview",
        title="Oura overview",
        description="Today's sleep, readiness and activity scores with 7- and 30-day averages; score, HRV, resting heart rate and step trends.",
        tags=["myhealth", "oura"],
        time_from="now-30d",
        refresh="",
        sections=sections(),
        annotations=context.all_context(),
        variables=[choice_variable("rolling", "Rolling average (days)", ["7", "30", "90"], "7")],
    )
