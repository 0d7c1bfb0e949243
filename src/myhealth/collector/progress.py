"""Progress of a run: one bar per data type on a terminal, periodic log lines otherwise.

A bar measures days of the type's window that the processor has acknowledged (documents
arrive roughly in day order); types without a date window show a bar that fills at the end.
"""

from __future__ import annotations

import datetime as dt
import time
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from myhealth.collector.planning import Window
from myhealth.platform.logging import get_logger

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

log = get_logger("myhealth.collector")


class Progress(Protocol):
    def __enter__(self) -> Progress: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def add(self, name: str, window: Window) -> None: ...

    def update(self, name: str, documents: int, through: dt.date | None) -> None: ...

    def finish(self, name: str, *, documents: int, error: str | None) -> None: ...


def _days_done(window: Window, through: dt.date | None) -> int:
    if through is None:
        return 0
    return max(0, min(window.days, (through - window.start).days + 1))


class BarProgress:
    def __init__(self, console: Console | None = None) -> None:
        # rich only where bars are drawn (a terminal): a scheduled run never pays its import.
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichBars

        self._bars = RichBars(
            TextColumn("{task.description:<26}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("days  {task.fields[documents]:>8} docs  {task.fields[state]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._tasks: dict[str, tuple[TaskID, Window]] = {}

    def __enter__(self) -> BarProgress:
        self._bars.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bars.stop()

    def add(self, name: str, window: Window) -> None:
        task = self._bars.add_task(name, total=window.days, documents=0, state="waiting")
        self._tasks[name] = (task, window)

    def update(self, name: str, documents: int, through: dt.date | None) -> None:
        task, window = self._tasks[name]
        self._bars.update(
            task, completed=_days_done(window, through), documents=documents, state=""
        )

    def finish(self, name: str, *, documents: int, error: str | None) -> None:
        task, window = self._tasks[name]
        state = "[red]failed[/red]" if error else "[green]done[/green]"
        completed = self._bars.tasks[task].completed if error else window.days
        self._bars.update(task, completed=completed, documents=documents, state=state)


class LogProgress:
    """For CronJobs and pipes: a line per type at start and end, and one every `interval`."""

    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._windows: dict[str, Window] = {}

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def add(self, name: str, window: Window) -> None:
        self._windows[name] = window
        self._last[name] = time.monotonic()
        log.info(
            "collect_type_planned",
            data_type=name,
            start_date=window.start.isoformat(),
            end_date=window.end.isoformat(),
        )

    def update(self, name: str, documents: int, through: dt.date | None) -> None:
        now = time.monotonic()
        if now - self._last[name] < self._interval:
            return
        self._last[name] = now
        window = self._windows[name]
        log.info(
            "collect_progress",
            data_type=name,
            documents=documents,
            through=through.isoformat() if through else None,
            days_done=_days_done(window, through),
            days_total=window.days,
        )

    def finish(self, name: str, *, documents: int, error: str | None) -> None:
        if error:
            log.error("collect_type_failed", data_type=name, documents=documents, error=error)
        else:
            log.info("collect_type_succeeded", data_type=name, documents=documents)
