"""The runner against in-process fakes of Oura and the processor, with the real bookkeeping
tables: batching, per-type failure isolation, and checkpoints that move only forward and only
after the processor acknowledged everything."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from myhealth.collector import state
from myhealth.collector.ingest import IngestResult, ProcessorUnavailable
from myhealth.collector.planning import Window
from myhealth.collector.progress import BarProgress, LogProgress
from myhealth.collector.runner import Runner, TypeOutcome, TypePlan, run_counts
from myhealth.oura.catalog import DATA_TYPES, DataType
from myhealth.oura.errors import RateLimitExhausted

TODAY = dt.date(2026, 11, 25)
WINDOW = Window(dt.date(2026, 11, 1), dt.date(2026, 11, 20))


@dataclass
class Stats:
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)


class FakeOura:
    """Serves one document per day of the window, `page_size` documents a page."""

    def __init__(self, *, failing: dict[str, Exception] | None = None, page_size: int = 3):
        self.stats = Stats()
        self.calls: list[str] = []
        self._failing = failing or {}
        self._page_size = page_size

    async def fetch(
        self, data_type: DataType, start: dt.date | None, end: dt.date | None, *, tz: dt.tzinfo
    ) -> AsyncIterator[list[dict[str, Any]]]:
        assert start is not None
        assert end is not None
        self.calls.append(data_type.name)
        days = [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]
        documents = [{"id": f"{data_type.name}-{day}", "day": day.isoformat()} for day in days]
        for offset in range(0, len(documents), self._page_size):
            if offset and data_type.name in self._failing:
                raise self._failing[data_type.name]
            self.stats.requests[(f"/v2/usercollection/{data_type.route}", "200")] += 1
            yield documents[offset : offset + self._page_size]
            await asyncio.sleep(0)


class FakeProcessor:
    def __init__(self, *, down: bool = False, failing_type: str | None = None) -> None:
        self.batches: list[tuple[str, list[dict[str, Any]]]] = []
        self._down = down
        self._failing_type = failing_type

    async def check(self) -> None:
        if self._down:
            raise ProcessorUnavailable("processor at http://127.0.0.1:1 unavailable")

    async def ingest(self, data_type: str, documents: list[dict[str, Any]]) -> IngestResult:
        if data_type == self._failing_type and self.batches:
            raise ProcessorUnavailable("processor at http://127.0.0.1:1 unavailable: refused")
        self.batches.append((data_type, documents))
        rejected = (
            [{"index": 0, "id": documents[0]["id"], "error": "bad"}] if len(documents) > 4 else []
        )
        return IngestResult(received=len(documents), inserted=len(documents), rejected=rejected)


def run(
    database_url: str,
    names: list[str],
    oura: FakeOura,
    processor: FakeProcessor,
    *,
    window: Window = WINDOW,
    checkpoints: dict[str, dt.date] | None = None,
) -> tuple[list[TypeOutcome], dict[str, dt.date], list[tuple[str, str, int, str | None]]]:
    async def main() -> Any:
        async with state.connect(database_url) as conn:
            for name, day in (checkpoints or {}).items():
                await conn.execute(
                    "INSERT INTO sync_checkpoints (data_type, last_day) VALUES (%s, %s)",
                    (name, day),
                )
            run_id = await state.start_run(conn, names, window.start, window.end)
            runner = Runner(
                book=state.Bookkeeping(database_url, conn),
                run_id=run_id,
                fetcher=oura,
                ingestor=processor,
                progress=LogProgress(),
                tz=dt.UTC,
                today=TODAY,
                batch_size=5,
                concurrency=2,
            )
            outcomes = await runner.run([TypePlan(DATA_TYPES[name], window) for name in names])
            cur = await conn.execute(
                "SELECT data_type, status, documents, error FROM sync_run_types"
                " WHERE run_id = %s ORDER BY data_type",
                (run_id,),
            )
            types = await cur.fetchall()
            return outcomes, await state.read_checkpoints(conn, names), types

    outcomes, checkpoints, types = asyncio.run(main())
    return outcomes, checkpoints, types


def test_every_type_completes_in_bounded_batches(database_url: str) -> None:
    names = ["daily_sleep", "sleep", "workout"]
    oura, processor = FakeOura(), FakeProcessor()

    outcomes, checkpoints, types = run(database_url, names, oura, processor)

    assert all(outcome.succeeded for outcome in outcomes)
    assert [outcome.documents for outcome in outcomes] == [20, 20, 20]
    assert all(len(batch) <= 5 for _, batch in processor.batches)
    for name in names:
        sent = [
            doc["id"]
            for data_type, batch in processor.batches
            if data_type == name
            for doc in batch
        ]
        assert len(sent) == len(set(sent)) == WINDOW.days
    assert checkpoints == dict.fromkeys(names, WINDOW.end)
    assert types == [(name, "succeeded", 20, None) for name in sorted(names)]
    counts = run_counts(outcomes, oura.stats)
    assert counts["documents"] == dict.fromkeys(names, 20)
    assert counts["oura_requests"]["/v2/usercollection/sleep 200"] == 7
    assert counts["oura_retries"] == {}
    assert sum(len(outcome.totals.rejected) for outcome in outcomes) == 12  # 4 full batches x 3


def test_a_type_the_processor_refuses_keeps_its_checkpoint(database_url: str) -> None:
    names = ["daily_sleep", "daily_activity"]
    before = {"daily_sleep": dt.date(2026, 10, 1), "daily_activity": dt.date(2026, 10, 1)}
    processor = FakeProcessor(failing_type="daily_activity")

    outcomes, checkpoints, types = run(
        database_url, names, FakeOura(), processor, checkpoints=before
    )

    by_name = {outcome.name: outcome for outcome in outcomes}
    assert by_name["daily_sleep"].succeeded
    assert (by_name["daily_activity"].error or "").startswith("processor_unavailable: ")
    assert "PROCESSOR_URL" in (by_name["daily_activity"].error or "")
    assert checkpoints == {"daily_sleep": WINDOW.end, "daily_activity": dt.date(2026, 10, 1)}
    assert [(name, status) for name, status, _, _ in types] == [
        ("daily_activity", "failed"),
        ("daily_sleep", "succeeded"),
    ]


def test_an_oura_failure_fails_only_that_type(database_url: str) -> None:
    oura = FakeOura(failing={"heartrate": RateLimitExhausted("still rate limited (429)")})

    outcomes, checkpoints, _ = run(database_url, ["heartrate", "tag"], oura, FakeProcessor())

    assert [outcome.succeeded for outcome in outcomes] == [False, True]
    assert (outcomes[0].error or "").startswith("rate_limit_exhausted: still rate limited")
    assert checkpoints == {"tag": WINDOW.end}


def test_checkpoint_never_moves_back(database_url: str) -> None:
    later = dt.date(2026, 11, 24)
    old = Window(dt.date(2024, 1, 1), dt.date(2024, 1, 10))

    outcomes, checkpoints, _ = run(
        database_url, ["tag"], FakeOura(), FakeProcessor(), window=old, checkpoints={"tag": later}
    )

    assert outcomes[0].succeeded
    assert checkpoints == {"tag": later}


def test_processor_down_fails_every_type_without_asking_oura(database_url: str) -> None:
    oura = FakeOura()

    outcomes, checkpoints, types = run(
        database_url, ["tag", "sleep"], oura, FakeProcessor(down=True)
    )

    assert oura.calls == []
    assert all((o.error or "").startswith("processor_unavailable") for o in outcomes)
    assert checkpoints == {}
    assert {status for _, status, _, _ in types} == {"failed"}


def test_progress_bars_on_a_terminal(database_url: str) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, color_system=None)
    names = ["daily_sleep", "tag"]

    async def main() -> None:
        async with state.connect(database_url) as conn:
            run_id = await state.start_run(conn, names, WINDOW.start, WINDOW.end)
            with BarProgress(console) as bars:
                runner = Runner(
                    book=state.Bookkeeping(database_url, conn),
                    run_id=run_id,
                    fetcher=FakeOura(),
                    ingestor=FakeProcessor(failing_type="tag"),
                    progress=bars,
                    tz=dt.UTC,
                    today=TODAY,
                    batch_size=5,
                    concurrency=2,
                )
                await runner.run([TypePlan(DATA_TYPES[name], WINDOW) for name in names])

    asyncio.run(main())

    # The final repaint shows both bars: one complete and done, one failed.
    last = screen.getvalue().split("\r")[-1]
    assert re.search(r"daily_sleep .* 20/20 days .* 20 docs +done", last)
    assert re.search(r"tag .* \d+/20 days .* \d+ docs +failed", last)
