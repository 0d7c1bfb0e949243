"""The stored insights of one day as people and programs read them (the API's body)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, LiteralString

from myhealth.insights import rules

# "The latest day with data": the latest day with a night's data (any metric but steps),
# since today's steps count from midnight while the night's metrics arrive after waking;
# only without any night, the latest day with steps. One index probe per metric.
NIGHTLY_METRICS = [name for name in rules.METRICS if name != "steps"]
LATEST_DAY: LiteralString = """
SELECT coalesce(
    (SELECT max(latest) FROM unnest(%(nightly)s::text[]) AS m(metric),
            LATERAL (SELECT max(date) AS latest FROM insight_metrics i
                     WHERE i.metric = m.metric) AS probe),
    (SELECT max(date) FROM insight_metrics WHERE metric = 'steps')) AS date
"""


def day_report(
    date: dt.date, metric_rows: Sequence[Mapping[str, Any]], flag_rows: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """`{"date", "metrics", "flags"}`: the metrics in a fixed order, the raised flags with
    their explanation."""
    by_metric = {row["metric"]: row for row in metric_rows}
    metrics = [
        {
            "metric": name,
            "unit": metric.unit,
            "value": by_metric[name]["value"],
            "history_days": by_metric[name]["history_days"],
            "baseline_median": by_metric[name]["baseline_median"],
            "baseline_mad": by_metric[name]["baseline_mad"],
            "z_score": by_metric[name]["z_score"],
        }
        for name, metric in rules.METRICS.items()
        if name in by_metric
    ]
    streaks = {row["flag"]: int(row["streak_days"]) for row in flag_rows}
    flags = []
    for name, flag in rules.FLAGS.items():
        streak = streaks.get(name, 0)
        row = by_metric.get(flag.metric)
        if streak < flag.required_days or row is None:
            continue
        insight = rules.DayInsight(
            date,
            flag.metric,
            row["value"],
            row["history_days"],
            row["baseline_median"],
            row["baseline_mad"],
            row["z_score"],
        )
        flags.append(
            {
                "flag": name,
                "metric": flag.metric,
                "streak_days": streak,
                "required_days": flag.required_days,
                "rule": flag.rule,
                "explanation": rules.explain(flag, insight, streak),
            }
        )
    return {"date": date, "metrics": metrics, "flags": flags}
