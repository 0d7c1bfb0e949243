"""Context shared by the health dashboards: annotations for workouts, tags and rest mode.

An annotation query returns `time` (and `timeend` for a region), `text` and `tags`. Events
without a clock time (a tag or a workout known only by its day) are placed at the start of
that day in the dashboard's time zone, like every daily value (docs/monitoring.md#time-zones).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from .kit import local_midnight, sql_annotation


def workouts() -> dashboard_builders.AnnotationQuery:
    start = f"COALESCE(start_datetime, {local_midnight('day')})"
    return sql_annotation(
        "Workouts",
        "orange",
        f"""
        SELECT {start} AS "time",
               COALESCE(end_datetime, {start}) AS "timeend",
               concat_ws(' · ', initcap(replace(COALESCE(activity, 'workout'), '_', ' ')), label,
                         intensity, round(calories)::text || ' kcal') AS "text",
               'workout' AS "tags"
        FROM workouts
        WHERE {start} BETWEEN $__timeFrom() AND $__timeTo()
        ORDER BY 1
        """,
    )


def tags() -> dashboard_builders.AnnotationQuery:
    tag_time = f'COALESCE("timestamp", {local_midnight("day")})'
    enhanced_start = f"COALESCE(start_time, {local_midnight('start_day')})"
    return sql_annotation(
        "Tags",
        "purple",
        f"""
        SELECT "time", "timeend", "text", "tags" FROM (
          SELECT {tag_time} AS "time", {tag_time} AS "timeend",
                 concat_ws(': ', array_to_string(tags, ', '), NULLIF(text, '')) AS "text",
                 'tag' AS "tags"
          FROM tags
          UNION ALL
          SELECT {enhanced_start}, COALESCE(end_time, {enhanced_start}),
                 concat_ws(': ', COALESCE(custom_name, replace(tag_type_code, 'tag_generic_', '')),
                           NULLIF(comment, '')),
                 'tag'
          FROM enhanced_tags
        ) AS all_tags
        WHERE "time" BETWEEN $__timeFrom() AND $__timeTo()
        ORDER BY 1
        """,
    )


def rest_mode() -> dashboard_builders.AnnotationQuery:
    start = f"COALESCE(start_time, {local_midnight('start_day')})"
    end = f"COALESCE(end_time, {local_midnight('end_day + 1')}, now())"
    return sql_annotation(
        "Rest mode",
        "blue",
        f"""
        SELECT {start} AS "time", {end} AS "timeend", 'Rest mode' AS "text", 'rest mode' AS "tags"
        FROM rest_mode_periods
        WHERE {start} <= $__timeTo() AND {end} >= $__timeFrom()
        ORDER BY 1
        """,
    )


def all_context() -> list[dashboard_builders.AnnotationQuery]:
    """Workouts, tags and rest mode: what explains an odd night or a low readiness."""
    return [workouts(), tags(), rest_mode()]
