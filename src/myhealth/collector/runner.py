"""One sync run: every planned data type fetched from Oura and acknowledged by the processor.

Types run concurrently up to `COLLECT_CONCURRENCY` (heart rate, the slowest, starts first).
Within a type, fetching and sending overlap: the Oura client's pages go into batches of
`COLLECT_BATCH_SIZE` documents (or about a megabyte of JSON) on a short queue that two
senders drain, so a multi-year backfill streams instead of piling up in memory. A type
succeeds only when the processor acknowledged every batch; only then does its checkpoint move
(forward only). A failing type never stops the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from myhealth.collector import state
from myhealth.collector.ingest import IngestResult, ProcessorError
from myhealth.collector.planning import Window, checkpoint_after
from myhealth.collector.progress import Progress
from myhealth.oura.catalog import DataType
from myhealth.oura.days import document_day
from myhealth.oura.errors import OuraError
from myhealth.platform.bounded_json import RawJsonObject as Raw
from myhealth.platform.errors import CodedError, ErrorCode
from myhealth.platform.logging import get_logger

log = get_logger("myhealth.collector")

QUEUED_BATCHES = 2  # batches fetched ahead of the processor: enough to overlap, little memory
# Batches of one type in flight to the processor at once: one is being written while the next
# is on the wire (the processor's upserts are safe against overlapping concurrent batches).
SENDERS_PER_TYPE = 2
# Heart-rate samples are ~90 bytes against kilobytes for a daily document, so their batches
# hold this many times COLLECT_BATCH_SIZE (500 → 5,000 samples, about 450 KB a request).
HEARTRATE_BATCH_FACTOR = 10
# A batch also ends at about this many characters of JSON: 500 daily activity documents are
# 3.4 MB, and ten times that once decoded in the processor; smaller requests keep the memory
# of both processes flat however large the documents (docs/performance.md#memory).
BATCH_MAX_CHARACTERS = 1_000_000
# Documents shorter than this are kept as fetched (`lean`): too small to be worth a copy.
LEAN_FROM_CHARACTERS = 2_000

# What a user should do about failures whose message does not already say it (the Oura
# client's 401/403/426 messages do); docs/troubleshooting.md has the detail.
HINTS: dict[ErrorCode, str] = {
    ErrorCode.RATE_LIMIT_EXHAUSTED: "Oura's rate limit; the next run picks up from the checkpoint",
    ErrorCode.PAGINATION_ERROR: "Oura's paging looped; the next run tries again",
    ErrorCode.PROCESSOR_UNAVAILABLE: "is `myhealth processor` running at PROCESSOR_URL?",
    ErrorCode.PROCESSOR_REFUSED: (
        "check INGEST_TOKEN and that collector and processor versions match"
    ),
}


class RequestStats(Protocol):
    requests: Counter[tuple[str, str]]
    retries: Counter[str]


class Fetcher(Protocol):
    """What the runner needs of `myhealth.oura.client.OuraClient`."""

    @property
    def stats(self) -> RequestStats: ...

    def fetch(
        self, data_type: DataType, start: dt.date | None, end: dt.date | None, *, tz: dt.tzinfo
    ) -> AsyncIterator[list[dict[str, Any]]]: ...


class Ingestor(Protocol):
    async def check(self) -> None: ...

    async def ingest(self, data_type: str, documents: list[dict[str, Any]]) -> IngestResult: ...


@dataclass
class TypePlan:
    data_type: DataType
    window: Window


@dataclass
class TypeOutcome:
    name: str
    window: Window
    documents: int = 0
    totals: IngestResult = field(default_factory=IngestResult)
    error: str | None = None
    error_code: ErrorCode | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None


def error_code(exc: BaseException) -> ErrorCode:
    """The failure's explicit code (`ErrorCode.ERROR` for an error that has none: a bug)."""
    return exc.code if isinstance(exc, CodedError) else ErrorCode.ERROR


def is_expected(exc: BaseException) -> bool:
    """Failures the product expects (Oura or processor trouble); anything else is a bug and
    is logged with its traceback."""
    return isinstance(exc, OuraError | ProcessorError)


def describe_failure(exc: BaseException) -> str:
    """One line for the run record and the summary: code, message and what to do."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    code = error_code(exc)
    hint = HINTS.get(code)
    line = f"{code.value}: {message}"
    return f"{line} ({hint})" if hint else line


class Runner:
    def __init__(
        self,
        *,
        book: state.Bookkeeping,
        run_id: int,
        fetcher: Fetcher,
        ingestor: Ingestor,
        progress: Progress,
        tz: dt.tzinfo,
        today: dt.date,
        batch_size: int,
        concurrency: int,
    ) -> None:
        self._book = book
        self._run_id = run_id
        self._fetcher = fetcher
        self._ingestor = ingestor
        self._progress = progress
        self._tz = tz
        self._today = today
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(concurrency)

    async def run(self, plans: Sequence[TypePlan]) -> list[TypeOutcome]:
        for plan in plans:
            await self._book.run(functools.partial(self._start_type, plan))
            self._progress.add(plan.data_type.name, plan.window)
        try:
            await self._ingestor.check()
        except Exception as exc:
            # Nothing would be acknowledged: fail every type without spending Oura requests.
            error = describe_failure(exc)
            code = error_code(exc)
            outcomes = [
                TypeOutcome(plan.data_type.name, plan.window, error=error, error_code=code)
                for plan in plans
            ]
            for plan, outcome in zip(plans, outcomes, strict=True):
                await self._record(plan, outcome)
            return outcomes
        # Heart rate has by far the most pages; starting it first shortens the whole run.
        ordered = sorted(plans, key=lambda plan: plan.data_type.window != "datetime")
        outcomes = await asyncio.gather(*(self._collect(plan) for plan in ordered))
        by_name = {outcome.name: outcome for outcome in outcomes}
        return [by_name[plan.data_type.name] for plan in plans]

    async def _start_type(self, plan: TypePlan, conn: psycopg.AsyncConnection[Any]) -> None:
        await state.start_type(
            conn, self._run_id, plan.data_type.name, plan.window.start, plan.window.end
        )

    async def _collect(self, plan: TypePlan) -> TypeOutcome:
        name = plan.data_type.name
        outcome = TypeOutcome(name, plan.window)
        async with self._slots:
            try:
                await self._stream(plan, outcome)
            except Exception as exc:
                outcome.error = describe_failure(exc)
                outcome.error_code = error_code(exc)
                if not is_expected(exc):
                    log.exception("collect_type_crashed", data_type=name)
            except asyncio.CancelledError:
                await self._record(plan, outcome, interrupted=True)
                raise
            await self._record(plan, outcome)
        return outcome

    async def _record(
        self, plan: TypePlan, outcome: TypeOutcome, *, interrupted: bool = False
    ) -> None:
        if interrupted:
            outcome.error = state.INTERRUPTED
        checkpoint = checkpoint_after(plan.window, self._today) if outcome.succeeded else None
        await self._book.run(
            lambda conn: state.finish_type(
                conn,
                self._run_id,
                outcome.name,
                documents=outcome.documents,
                error=outcome.error,
                checkpoint=checkpoint,
            )
        )
        self._progress.finish(outcome.name, documents=outcome.documents, error=outcome.error)

    async def _stream(self, plan: TypePlan, outcome: TypeOutcome) -> None:
        data_type = plan.data_type
        size = self._batch_size * (HEARTRATE_BATCH_FACTOR if data_type.window == "datetime" else 1)
        batches: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue(QUEUED_BATCHES)
        through: dt.date | None = None

        async def fetch() -> None:
            pending: list[dict[str, Any]] = []
            characters = 0
            pages = self._fetcher.fetch(data_type, plan.window.start, plan.window.end, tz=self._tz)
            async for page in pages:
                for document in page:
                    pending.append(lean(document))
                    characters += len(document.json_text) if isinstance(document, Raw) else 0
                    if len(pending) >= size or characters >= BATCH_MAX_CHARACTERS:
                        await batches.put(pending)
                        pending, characters = [], 0
            if pending:
                await batches.put(pending)
            for _ in range(SENDERS_PER_TYPE):
                await batches.put(None)

        async def send() -> None:
            nonlocal through
            while (batch := await batches.get()) is not None:
                result = await self._ingestor.ingest(data_type.name, batch)
                if result.oversize:
                    await self._book.run(
                        functools.partial(
                            state.quarantine_oversize,
                            data_type=data_type.name,
                            raw_documents=result.oversize,
                        )
                    )
                outcome.totals.add(result)
                outcome.documents += len(batch)
                if result.rejected:
                    log.warning(
                        "collect_documents_quarantined",
                        data_type=data_type.name,
                        rejected=len(result.rejected),
                        first=[
                            {"id": item.get("id"), "error": item.get("error")}
                            for item in result.rejected[:3]
                        ],
                    )
                days = [day for doc in batch if (day := document_day(data_type, doc))]
                if days:
                    through = max([*days, through] if through else days)
                self._progress.update(data_type.name, outcome.documents, through)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(fetch())
                for _ in range(SENDERS_PER_TYPE):
                    group.create_task(send())
        except ExceptionGroup as failures:
            raise failures.exceptions[0] from None


def lean(document: dict[str, Any]) -> dict[str, Any]:
    """A fetched document as the collector keeps it until the processor has it: its exact
    text (what is sent) and its top-level scalars (its key and day), without the decoded
    arrays and objects, which take ten times the memory of their text (a daily activity's
    1,440 MET values) and which the collector never reads."""
    if (
        not isinstance(document, Raw)
        or len(document.json_text) < LEAN_FROM_CHARACTERS
        or not any(isinstance(value, dict | list) for value in document.values())
    ):
        return document
    scalars = {key: value for key, value in document.items() if not isinstance(value, dict | list)}
    return Raw(document.json_text, scalars, document.problem)


def run_counts(outcomes: Sequence[TypeOutcome], stats: RequestStats | None) -> dict[str, Any]:
    """`sync_runs.counts` in the layout of docs/development.md (the processor reads it).

    `reauth_required` drives `myhealth_oauth_reauth_required`: Oura refused the credentials.
    """
    requests = stats.requests if stats else Counter()
    retries = stats.retries if stats else Counter()
    return {
        "documents": {outcome.name: outcome.documents for outcome in outcomes},
        "oura_requests": {f"{route} {status}": n for (route, status), n in requests.items()},
        "oura_retries": dict(retries),
        "reauth_required": any(
            outcome.error_code == ErrorCode.REAUTHENTICATION_REQUIRED for outcome in outcomes
        ),
    }
