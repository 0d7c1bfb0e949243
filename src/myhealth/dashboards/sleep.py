"""Sleep dashboard (uid myhealth-sleep)."""

from __future__ import annotations

from . import baselines, context
from .baselines import Band
from .kit import (
    CLOCK_UNIT,
    SCORE_STEPS,
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
    local_clock,
    local_midnight,
    sql_variable,
    stat_panel,
    table_panel,
    timeseries_panel,
    trend_panel,
)


def sections() -> list[Section]:
    return [
        Section(
            "Averages over the time range",
            [
                Place(
                    stat_panel(
                        "Total sleep",
                        "Mean total sleep of the main sleep periods.",
                        [
                            Sql(
                                'SELECT round(avg(duration_seconds) / 3600.0, 2) AS "Total sleep" FROM sleep_metrics WHERE $__timeFilter(date)'
                            )
                        ],
                        Field(unit="h", decimals=1),
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Efficiency",
                        "Mean share of time in bed spent asleep.",
                        [
                            Sql(
                                'SELECT round(avg(efficiency), 1) AS "Efficiency" FROM sleep_metrics WHERE $__timeFilter(date)'
                            )
                        ],
                        Field(unit="percent", decimals=0),
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Latency",
                        "Mean time to fall asleep.",
                        [
                            Sql(
                                'SELECT round(avg(latency_minutes), 1) AS "Latency" FROM sleep_metrics WHERE $__timeFilter(date)'
                            )
                        ],
                        Field(unit="m", decimals=0),
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Deep sleep",
                        "Mean deep sleep per night.",
                        [
                            Sql(
                                'SELECT round(avg(deep_sleep_seconds) / 3600.0, 2) AS "Deep sleep" FROM sleep_metrics WHERE $__timeFilter(date)'
                            )
                        ],
                        Field(unit="h", decimals=1),
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Bedtime regularity",
                        "Standard deviation of bedtime across nights: lower is more regular (under 30 min is very regular).",
                        [
                            Sql(f"""\
            SELECT round((stddev_samp(extract(epoch FROM (bedtime_start AT TIME ZONE {TIME_ZONE}) - day::timestamp)) / 60)::numeric, 0) AS "Bedtime SD"
            FROM main_sleep_periods WHERE $__timeFilter(day)
            """)
                        ],
                        Field(unit="m", decimals=0),
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Wake-up regularity",
                        "Standard deviation of the wake-up time across nights.",
                        [
                            Sql(f"""\
            SELECT round((stddev_samp(extract(epoch FROM (bedtime_end AT TIME ZONE {TIME_ZONE}) - day::timestamp)) / 60)::numeric, 0) AS "Wake-up SD"
            FROM main_sleep_periods WHERE $__timeFilter(day)
            """)
                        ],
                        Field(unit="m", decimals=0),
                    ),
                    4,
                    4,
                ),
            ],
        ),
        Section(
            "Nights",
            [
                Place(
                    timeseries_panel(
                        "Sleep stages per night",
                        "Deep, light and REM sleep of each day's main sleep period, stacked.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("date")} AS "time",
                   round(deep_sleep_seconds / 3600.0, 2) AS "Deep",
                   round(light_sleep_seconds / 3600.0, 2) AS "Light",
                   round(rem_sleep_seconds / 3600.0, 2) AS "REM"
            FROM sleep_metrics
            WHERE $__timeFilter(date)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(
                            unit="h",
                            decimals=1,
                            overrides=(
                                Override("Deep", color="dark-blue"),
                                Override("Light", color="blue"),
                                Override("REM", color="purple"),
                            ),
                        ),
                        bars=True,
                        stacked=True,
                    ),
                    12,
                    9,
                ),
                Place(
                    timeseries_panel(
                        "Total sleep and time in bed",
                        "Time asleep against time in bed; the gap is time awake in bed.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("day")} AS "time",
                   round(total_sleep_duration / 3600.0, 2) AS "Total sleep",
                   round(time_in_bed / 3600.0, 2) AS "Time in bed",
                   round(awake_time / 3600.0, 2) AS "Awake"
            FROM main_sleep_periods
            WHERE $__timeFilter(day)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit="h", decimals=1),
                        points=True,
                    ),
                    12,
                    9,
                ),
                Place(
                    timeseries_panel(
                        "Efficiency and latency",
                        "Sleep efficiency (left, %) and the minutes it took to fall asleep (right).",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("date")} AS "time", efficiency AS "Efficiency", latency_minutes AS "Latency"
            FROM sleep_metrics
            WHERE $__timeFilter(date)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(
                            unit="percent",
                            overrides=(
                                Override(
                                    "Latency", unit="m", axis_right=True, bars=True, fill_opacity=40
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
                        "Bedtime and wake-up",
                        "Clock time of going to bed and of waking up, in the dashboard time zone. Flat lines mean a regular schedule.",
                        [
                            Sql(
                                f"""\
            SELECT {local_midnight("day")} AS "time",
                   {local_clock("bedtime_start")} AS "Bedtime",
                   {local_clock("bedtime_end")} AS "Wake-up"
            FROM main_sleep_periods
            WHERE $__timeFilter(day)
            ORDER BY 1
            """,
                                time_series=True,
                            )
                        ],
                        Field(unit=CLOCK_UNIT),
                        points=True,
                    ),
                    12,
                    8,
                ),
                Place(
                    table_panel(
                        "Nights",
                        "Every main sleep period in the range, newest first.",
                        [
                            Sql(f"""\
            SELECT day AS "Night of",
                   to_char(bedtime_start AT TIME ZONE {TIME_ZONE}, 'HH24:MI') AS "Bedtime",
                   to_char(bedtime_end AT TIME ZONE {TIME_ZONE}, 'HH24:MI') AS "Wake-up",
                   round(total_sleep_duration / 3600.0, 2) AS "Total sleep (h)",
                   efficiency AS "Efficiency (%)",
                   round(latency / 60.0) AS "Latency (min)",
                   lowest_heart_rate AS "Lowest HR (bpm)",
                   average_hrv AS "Avg HRV (ms)"
            FROM main_sleep_periods
            WHERE $__timeFilter(day)
            ORDER BY day DESC
            """)
                        ],
                        Field(),
                    ),
                    24,
                    8,
                ),
                Place(
                    table_panel(
                        "Recommended bedtime",
                        "Oura's bedtime guidance (sleep_time): the window to go to bed in, in local clock time, and why.",
                        [
                            Sql("""
                            SELECT day AS "Day",
                                   to_char(time '00:00' + make_interval(secs => (optimal_bedtime->>'start_offset')::integer), 'HH24:MI')
                                   || '–' ||
                                   to_char(time '00:00' + make_interval(secs => (optimal_bedtime->>'end_offset')::integer), 'HH24:MI')
                                     AS "Bedtime window",
                                   replace(recommendation, '_', ' ') AS "Recommendation",
                                   replace(status, '_', ' ') AS "Status"
                            FROM sleep_time
                            WHERE $__timeFilter(day)
                            ORDER BY day DESC
                            """)
                        ],
                        Field(),
                    ),
                    24,
                    6,
                ),
            ],
        ),
        Section(
            "Night of ${night}",
            [
                Place(
                    hypnogram_panel(
                        "Hypnogram",
                        "Sleep stages of the selected night in 5-minute steps (Oura's sleep_phase_5_min): 1 deep, 2 light, 3 REM, 4 awake; higher bars are lighter sleep.",
                        [
                            Sql(f"""\
            SELECT to_char((p.bedtime_start AT TIME ZONE {TIME_ZONE}) + (i - 1) * interval '5 minutes', 'HH24:MI') AS "Clock",
                   substr(p.sleep_phase_5_min, i, 1)::integer AS "Stage"
            FROM main_sleep_periods p
            CROSS JOIN LATERAL generate_series(1, length(p.sleep_phase_5_min)) AS i
            WHERE p.day = NULLIF('$night', '')::date AND substr(p.sleep_phase_5_min, i, 1) BETWEEN '1' AND '4'
            ORDER BY i
            """)
                        ],
                        Field(
                            min=0,
                            max=4,
                            steps=(
                                Step("dark-blue"),
                                Step("blue", 2),
                                Step("purple", 3),
                                Step("orange", 4),
                            ),
                            mappings={"1": "Deep", "2": "Light", "3": "REM", "4": "Awake"},
                        ),
                        x_field="Clock",
                    ),
                    24,
                    8,
                ),
                Place(
                    trend_panel(
                        "Heart rate and HRV through the night",
                        "5-minute heart rate (bpm) and HRV (ms) samples Oura recorded during the selected night, by hours since bedtime.",
                        [
                            Sql("""\
            SELECT round(((hr.ord - 1) * (p.heart_rate->>'interval')::numeric / 3600), 3) AS "Hours since bedtime",
                   hr.value::numeric AS "Heart rate",
                   hrv.value::numeric AS "HRV"
            FROM main_sleep_periods p
            CROSS JOIN LATERAL jsonb_array_elements_text(p.heart_rate->'items') WITH ORDINALITY AS hr(value, ord)
            LEFT JOIN LATERAL (
              SELECT v.value FROM jsonb_array_elements_text(p.hrv->'items') WITH ORDINALITY AS v(value, ord)
              WHERE v.ord = hr.ord
            ) AS hrv ON true
            WHERE p.day = NULLIF('$night', '')::date
            ORDER BY hr.ord
            """)
                        ],
                        Field(
                            unit="suffix: bpm",
                            overrides=(
                                Override("HRV", unit="ms", axis_right=True),
                                Override("Hours since bedtime", unit="h", decimals=1),
                            ),
                        ),
                        x_field="Hours since bedtime",
                    ),
                    16,
                    9,
                ),
                Place(
                    bargauge_panel(
                        "Sleep score contributors",
                        "Oura's sleep score contributors (0-100) for the selected night.",
                        [
                            Sql("""\
            SELECT (contributors->>'total_sleep')::integer AS "Total sleep",
                   (contributors->>'efficiency')::integer AS "Efficiency",
                   (contributors->>'restfulness')::integer AS "Restfulness",
                   (contributors->>'rem_sleep')::integer AS "REM sleep",
                   (contributors->>'deep_sleep')::integer AS "Deep sleep",
                   (contributors->>'latency')::integer AS "Latency",
                   (contributors->>'timing')::integer AS "Timing"
            FROM daily_sleep
            WHERE day = NULLIF('$night', '')::date
            ORDER BY updated_at DESC
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
                    8,
                    9,
                ),
            ],
        ),
        baselines.section(
            [
                Band("sleep_duration", "Sleep", "s", "Total sleep of the main period."),
                Band("sleep_efficiency", "Efficiency", "percent", "Time asleep in bed (%)."),
            ]
        ),
    ]


def spec() -> Spec:
    return Spec(
        uid="myhealth-sleep",
        title="Sleep",
        description="Sleep duration, efficiency and latency, stages per night, bedtime regularity, and the hypnogram, heart rate and HRV of one night.",
        tags=["myhealth", "oura", "sleep"],
        time_from="now-30d",
        refresh="",
        sections=sections(),
        annotations=context.all_context(),
        variables=[
            sql_variable(
                "night",
                "Night",
                "SELECT day::text FROM main_sleep_periods WHERE $__timeFilter(day) ORDER BY day DESC",
            )
        ],
    )
