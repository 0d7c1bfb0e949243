"""Window planning: explicit dates, checkpoint minus refetch days, first-run backfill."""

from __future__ import annotations

import datetime as dt

import pytest

from myhealth.collector.planning import PlanningError, Window, checkpoint_after, plan_window

D = dt.date
TODAY = D(2026, 11, 25)
BACKFILL = D(2018, 1, 1)


@pytest.mark.parametrize(
    ("checkpoint", "start", "end", "expected"),
    [
        pytest.param(None, None, None, Window(BACKFILL, TODAY), id="first-run-backfills"),
        pytest.param(D(2026, 11, 20), None, None, Window(D(2026, 11, 13), TODAY), id="refetch"),
        pytest.param(
            D(2026, 11, 20), D(2025, 1, 1), None, Window(D(2025, 1, 1), TODAY), id="explicit-start"
        ),
        pytest.param(
            None, None, D(2020, 5, 1), Window(BACKFILL, D(2020, 5, 1)), id="explicit-end-first-run"
        ),
        pytest.param(
            D(2026, 11, 20),
            None,
            D(2020, 5, 1),
            Window(D(2020, 5, 1), D(2020, 5, 1)),
            id="old-end-collapses-to-one-day",
        ),
        pytest.param(
            D(2026, 11, 20),
            D(2024, 2, 1),
            D(2024, 2, 29),
            Window(D(2024, 2, 1), D(2024, 2, 29)),
            id="explicit-both",
        ),
    ],
)
def test_plan_window(
    checkpoint: dt.date | None, start: dt.date | None, end: dt.date | None, expected: Window
) -> None:
    window = plan_window(
        checkpoint=checkpoint,
        start=start,
        end=end,
        today=TODAY,
        backfill_start=BACKFILL,
        refetch_days=7,
    )
    assert window == expected


def test_start_after_end_is_refused() -> None:
    with pytest.raises(PlanningError, match="after --end-date"):
        plan_window(
            checkpoint=None,
            start=D(2026, 2, 2),
            end=D(2026, 2, 1),
            today=TODAY,
            backfill_start=BACKFILL,
            refetch_days=7,
        )


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        pytest.param(D(2026, 11, 1), D(2026, 11, 1), id="past-end"),
        pytest.param(D(2027, 1, 1), TODAY, id="future-end-clamped-to-today"),
    ],
)
def test_checkpoint_never_in_the_future(end: dt.date, expected: dt.date) -> None:
    assert checkpoint_after(Window(D(2026, 1, 1), end), TODAY) == expected
