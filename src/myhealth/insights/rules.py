"""What the insights compute, as pure functions over daily series (no database).

The rules are stated in docs/architecture.md#insights; in short:

- **Baseline** of a metric on day d: the median and the MAD (median absolute deviation from
  that median) of the metric's values on the 60 calendar days before d (d-60 … d-1; d itself
  excluded). Days without a value are skipped, not filled. With fewer than
  `MIN_HISTORY_DAYS` values in that window there is no baseline and no judgement.
- **Robust z-score**: (x - median) / (1.4826 · MAD). With MAD = 0 (more than half of the
  history holds one value) the spread is unknown: the z-score is 0 when x equals the median
  and `None` otherwise, and no deviation-based condition holds.
- **Conditions** hold or not on one day, from that day's value and baseline; a **flag** is
  raised on day d when its condition held on `required_days` consecutive *calendar* days
  ending on d (a day without a value breaks the run).
"""

from __future__ import annotations

import bisect
import datetime as dt
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass

BASELINE_DAYS = 60
MIN_HISTORY_DAYS = 14
MAD_TO_SIGMA = 1.4826  # makes the MAD of normally distributed values estimate their sigma
# Bump when a rule below changes: the processor then recomputes every stored day once.
RULES_VERSION = 1


@dataclass(frozen=True)
class Metric:
    """One daily series: where it is read and how it is written for people."""

    name: str
    relation: str
    column: str
    label: str
    unit: str
    date_column: str = "date"


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("hrv", "readiness_metrics", "hrv", "HRV", "ms"),
        Metric("resting_hr", "readiness_metrics", "resting_hr", "Resting heart rate", "bpm"),
        Metric(
            "temperature_deviation",
            "readiness_metrics",
            "temperature_deviation",
            "Temperature deviation",
            "°C",
        ),
        Metric(
            "respiratory_rate",
            "main_sleep_periods",
            "average_breath",
            "Respiratory rate",
            "breaths/min",
            date_column="day",
        ),
        Metric("sleep_duration", "sleep_metrics", "duration_seconds", "Sleep", "s"),
        Metric("sleep_efficiency", "sleep_metrics", "efficiency", "Sleep efficiency", "%"),
        Metric("steps", "activity_metrics", "steps", "Steps", "steps"),
    )
}


@dataclass(frozen=True)
class DayInsight:
    """One metric on one day: its value and its baseline over the days before."""

    date: dt.date
    metric: str
    value: float
    history_days: int
    median: float | None
    mad: float | None
    z_score: float | None

    @property
    def judged(self) -> bool:
        """There is a baseline with a known spread to judge the value against."""
        return self.median is not None and self.mad is not None and self.mad > 0


def robust_z(value: float, median: float, mad: float) -> float | None:
    if mad > 0:
        return (value - median) / (MAD_TO_SIGMA * mad)
    return 0.0 if value == median else None


def baselines(
    series: Mapping[dt.date, float], metric: str, first: dt.date, last: dt.date
) -> list[DayInsight]:
    """The insight of every day in [first, last] that has a value, in date order.

    `series` must hold the values from `first - BASELINE_DAYS` on (earlier ones are ignored).
    """
    days = sorted(series)
    found = []
    for index in range(bisect.bisect_left(days, first), bisect.bisect_right(days, last)):
        day = days[index]
        start = bisect.bisect_left(days, day - dt.timedelta(days=BASELINE_DAYS))
        history = [series[d] for d in days[start:index]]
        value = series[day]
        median = mad = z_score = None
        if len(history) >= MIN_HISTORY_DAYS:
            median = statistics.median(history)
            mad = statistics.median(abs(v - median) for v in history)
            z_score = robust_z(value, median, mad)
        found.append(DayInsight(day, metric, value, len(history), median, mad, z_score))
    return found


@dataclass(frozen=True)
class Flag:
    """A condition on one metric's day, and how many consecutive days raise the flag."""

    name: str
    metric: str
    required_days: int
    condition: Callable[[DayInsight], bool]
    rule: str  # the rule in words, for docs and explanations


def _below_baseline(insight: DayInsight, mads: float) -> bool:
    median, mad = insight.median, insight.mad
    if median is None or mad is None or mad == 0:  # no judgement without a known spread
        return False
    return insight.value < median - mads * mad


def _above_baseline(insight: DayInsight, mads: float) -> bool:
    median, mad = insight.median, insight.mad
    if median is None or mad is None or mad == 0:
        return False
    return insight.value > median + mads * mad


SHORT_SLEEP_SECONDS = 6 * 3600
HIGH_TEMPERATURE_DEVIATION = 0.5

FLAGS: dict[str, Flag] = {
    flag.name: flag
    for flag in (
        Flag(
            "hrv_low",
            "hrv",
            3,
            lambda i: _below_baseline(i, 2),
            "HRV below the baseline median by more than 2 MAD on 3 consecutive days",
        ),
        Flag(
            "temperature_high",
            "temperature_deviation",
            2,
            lambda i: i.value >= HIGH_TEMPERATURE_DEVIATION,
            "temperature deviation of +0.5 °C or more on 2 consecutive days",
        ),
        Flag(
            "resting_hr_high",
            "resting_hr",
            1,
            lambda i: _above_baseline(i, 2),
            "resting heart rate above the baseline median by more than 2 MAD",
        ),
        Flag(
            "sleep_short",
            "sleep_duration",
            3,
            lambda i: i.value < SHORT_SLEEP_SECONDS,
            "under 6 hours of sleep on 3 consecutive nights",
        ),
        Flag(
            "respiratory_rate_high",
            "respiratory_rate",
            2,
            lambda i: _above_baseline(i, 2),
            "respiratory rate above the baseline median by more than 2 MAD on 2 consecutive nights",
        ),
    )
}


def streaks(
    held: Mapping[dt.date, bool], first: dt.date, last: dt.date, before: int
) -> dict[dt.date, int]:
    """Consecutive calendar days the condition has held, ending on each day of [first, last]
    where it held. `before` is the streak ending on `first - 1` (0 if it did not hold)."""
    found: dict[dt.date, int] = {}
    streak = before
    day = first
    while day <= last:
        streak = streak + 1 if held.get(day, False) else 0
        if streak:
            found[day] = streak
        day += dt.timedelta(days=1)
    return found


def format_value(metric: str, value: float) -> str:
    """A value as people read it: hours and minutes for sleep, a sign on temperature."""
    if metric == "sleep_duration":
        minutes = round(value / 60)
        return f"{minutes // 60} h {minutes % 60:02d} min"
    if metric == "temperature_deviation":
        return f"{value:+.2f} °C"
    if metric == "respiratory_rate":
        return f"{value:.1f} breaths/min"
    unit = METRICS[metric].unit
    separator = "" if unit == "%" else " "
    return f"{value:.0f}{separator}{unit}"


def explain(flag: Flag, insight: DayInsight, streak: int) -> str:
    """The raised flag in plain words, with the numbers."""
    label = METRICS[flag.metric].label
    value = format_value(flag.metric, insight.value)
    days = "1 day" if streak == 1 else f"{streak} days in a row"
    if flag.name == "temperature_high":
        return f"{label} {value}: +0.5 °C or more for {days}."
    if flag.name == "sleep_short":
        nights = "1 night" if streak == 1 else f"{streak} nights in a row"
        return f"{value} of sleep: under 6 hours for {nights}."
    assert insight.median is not None
    usual = format_value(flag.metric, insight.median)
    direction = "below" if flag.name == "hrv_low" else "above"
    return f"{label} {value}, {direction} your usual {usual} for {days}."
