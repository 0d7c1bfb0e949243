"""The baseline rules on hand-worked numbers (no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from myhealth.insights import rules

DAY0 = dt.date(2026, 3, 1)


def days(values: list[float | None]) -> dict[dt.date, float]:
    return {
        DAY0 + dt.timedelta(days=i): value for i, value in enumerate(values) if value is not None
    }


def test_hand_worked_baseline() -> None:
    # History 1..14: median 7.5; deviations 0.5, 0.5, 1.5, 1.5, ..., 6.5, 6.5: MAD 3.5.
    series = days([*range(1, 15), 0])
    (today,) = rules.baselines(
        series, "hrv", DAY0 + dt.timedelta(days=14), DAY0 + dt.timedelta(days=14)
    )
    assert (today.value, today.history_days, today.median, today.mad) == (0, 14, 7.5, 3.5)
    assert today.z_score == pytest.approx(-7.5 / (1.4826 * 3.5))


def test_the_window_is_the_60_calendar_days_before() -> None:
    series = days([100.0] + [None] * 10 + [1.0] * 50 + [5.0])  # day 0 is 61 days back
    last = DAY0 + dt.timedelta(days=61)
    (today,) = rules.baselines(series, "hrv", last, last)
    assert today.history_days == 50
    assert today.median == 1.0
    earlier = DAY0 + dt.timedelta(days=60)
    (before,) = rules.baselines(series, "hrv", earlier, earlier)
    assert before.history_days == 50  # day 0 (100) is in, day 60 itself is not


def test_thirteen_days_of_history_are_not_enough() -> None:
    series = days([float(v) for v in range(14)])
    found = rules.baselines(series, "hrv", DAY0, DAY0 + dt.timedelta(days=13))
    assert [row.history_days for row in found] == list(range(14))
    assert all(row.median is None and row.z_score is None for row in found)


@pytest.mark.parametrize(
    ("value", "median", "mad", "z"),
    [(5.0, 5.0, 0.0, 0.0), (6.0, 5.0, 0.0, None), (8.0, 5.0, 2.0, 3.0 / (1.4826 * 2.0))],
    ids=["mad0-at-median", "mad0-elsewhere", "mad2"],
)
def test_robust_z(value: float, median: float, mad: float, z: float | None) -> None:
    assert rules.robust_z(value, median, mad) == (pytest.approx(z) if z is not None else None)


def test_streaks_count_calendar_days_and_carry_in() -> None:
    held = {DAY0: True, DAY0 + dt.timedelta(days=1): True, DAY0 + dt.timedelta(days=3): True}
    found = rules.streaks(held, DAY0, DAY0 + dt.timedelta(days=4), before=2)
    assert found == {DAY0: 3, DAY0 + dt.timedelta(days=1): 4, DAY0 + dt.timedelta(days=3): 1}


@pytest.mark.parametrize(
    ("flag", "value", "median", "streak", "text"),
    [
        ("hrv_low", 31, 42, 3, "HRV 31 ms, below your usual 42 ms for 3 days in a row."),
        (
            "resting_hr_high",
            58,
            51,
            1,
            "Resting heart rate 58 bpm, above your usual 51 bpm for 1 day.",
        ),
        (
            "sleep_short",
            5 * 3600 + 125,
            None,
            3,
            "5 h 02 min of sleep: under 6 hours for 3 nights in a row.",
        ),
        (
            "temperature_high",
            0.62,
            None,
            2,
            "Temperature deviation +0.62 °C: +0.5 °C or more for 2 days in a row.",
        ),
    ],
)
def test_explanations_are_plain_words_with_the_numbers(
    flag: str, value: float, median: float | None, streak: int, text: str
) -> None:
    definition = rules.FLAGS[flag]
    insight = rules.DayInsight(DAY0, definition.metric, value, 30, median, 2.0, None)
    assert rules.explain(definition, insight, streak) == text
