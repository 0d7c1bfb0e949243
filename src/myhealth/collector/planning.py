"""Which days each data type needs in this run (docs/collector.md#what-a-run-does).

- `--start-date`/`--end-date` win when given.
- The end defaults to today in `USER_TIMEZONE`.
- The start defaults to the type's checkpoint minus `OURA_REFETCH_DAYS` (Oura revises recent
  days), or `OURA_BACKFILL_START` when the type has never been collected.
- A default start that would fall after an explicit end collapses to that end, so a run with
  only an old `--end-date` still fetches one day instead of nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


class PlanningError(ValueError):
    """The requested window makes no sense (start after end)."""


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def check_explicit(
    start: dt.date | None, end: dt.date | None, today: dt.date | None = None
) -> None:
    """Refuse a window that cannot hold a day: reversed, or (with `today`, in the owner's
    time zone) starting after the default end of today."""
    if start is not None and end is not None and start > end:
        raise PlanningError(f"--start-date {start} is after --end-date {end}")
    if today is not None and end is None and start is not None and start > today:
        raise PlanningError(f"--start-date {start} is in the future (today is {today})")


def plan_window(
    *,
    checkpoint: dt.date | None,
    start: dt.date | None,
    end: dt.date | None,
    today: dt.date,
    backfill_start: dt.date,
    refetch_days: int,
) -> Window:
    check_explicit(start, end)
    last = end if end is not None else today
    if start is not None:
        first = start
    elif checkpoint is not None:
        first = min(checkpoint - dt.timedelta(days=refetch_days), last)
    else:
        first = min(backfill_start, last)
    return Window(first, last)


def checkpoint_after(window: Window, today: dt.date) -> dt.date:
    """The checkpoint a completed window earns: its end, never a day in the future.

    A future day would make the next plain run skip days Oura has not produced yet.
    """
    return min(window.end, today)
