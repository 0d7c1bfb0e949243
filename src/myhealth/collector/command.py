"""`myhealth collect`: one sync run, Oura → processor (docs/collector.md, docs/oura-api.md).

Exit codes: 0 every requested type was fetched and acknowledged; 1 at least one type failed
(one line per failed type on stderr) or the database is unreachable; 2 bad arguments or
configuration (nothing fetched); 3 another run holds the lock (nothing fetched).

Two runs never overlap: each holds a PostgreSQL session advisory lock for its whole life and a
second run exits 3 at once instead of waiting, so a CronJob firing every 5 minutes never
piles up runs behind a long backfill; the next schedule simply tries again.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from myhealth.collector import state
from myhealth.collector.ingest import ProcessorClient
from myhealth.collector.planning import check_explicit, plan_window
from myhealth.collector.progress import BarProgress, LogProgress, Progress
from myhealth.collector.runner import Runner, TypeOutcome, TypePlan, run_counts
from myhealth.oura.catalog import DataType, parse_names
from myhealth.oura.client import OuraClient, client_from_settings
from myhealth.platform.config import CollectorSettings, load
from myhealth.platform.errors import ErrorCode, UserFacingError
from myhealth.platform.logging import configure, get_logger
from myhealth.webhooks import health as webhook_health

log = get_logger("myhealth.collector")

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3


class RunInProgress(UserFacingError):
    code = ErrorCode.RUN_IN_PROGRESS

    def __init__(self, holder: tuple[int, dt.datetime] | None) -> None:
        which = (
            f"run {holder[0]}, started {holder[1].astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
            if holder
            else "another session holds the lock"
        )
        super().__init__(
            f"another collector run is in progress ({which}); not starting", exit_code=EXIT_LOCKED
        )


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    try:
        data_types = parse_names(args.data_types)
        check_explicit(args.start_date, args.end_date)
    except ValueError as exc:
        print(f"myhealth collect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = load(CollectorSettings, environ)
    try:  # "today" needs USER_TIMEZONE, so this check comes after the settings
        check_explicit(args.start_date, args.end_date, settings.today())
    except ValueError as exc:
        print(f"myhealth collect: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure("collector", settings.LOG_LEVEL)
    bars = not getattr(args, "no_progress", False) and sys.stderr.isatty()
    progress: Progress = BarProgress() if bars else LogProgress()
    try:
        return asyncio.run(
            collect(
                settings,
                data_types,
                start=args.start_date,
                end=args.end_date,
                progress=progress,
            )
        )
    except psycopg.Error as exc:
        # The bookkeeping connection failed mid-run: one line, not a traceback. Checkpoints
        # only move in their own transactions, so nothing is half-recorded.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserFacingError(f"database error during the run: {reason}") from None


async def collect(
    settings: CollectorSettings,
    data_types: Sequence[DataType],
    *,
    start: dt.date | None,
    end: dt.date | None,
    progress: Progress,
) -> int:
    started = time.monotonic()
    names = [data_type.name for data_type in data_types]
    async with state.connect(settings.database_url) as conn:
        if not await state.try_lock(conn):
            raise RunInProgress(await state.current_run(conn))
        if abandoned := await state.close_abandoned_runs(conn):
            log.warning("collect_abandoned_runs_closed", runs=abandoned)
        checkpoints = await state.read_checkpoints(conn, names)
        today = settings.today()
        refetch = webhook_health.refetch_days(
            settings.OURA_REFETCH_DAYS,
            settings.OURA_REFETCH_DAYS_WITH_WEBHOOKS,
            await webhook_health.last_event_received(conn),
            dt.timedelta(hours=settings.WEBHOOK_HEALTHY_HOURS),
            dt.datetime.now(dt.UTC),
        )
        plans = [
            TypePlan(
                data_type,
                plan_window(
                    checkpoint=checkpoints.get(data_type.name),
                    start=start,
                    end=end,
                    today=today,
                    backfill_start=settings.OURA_BACKFILL_START,
                    refetch_days=refetch,
                ),
            )
            for data_type in data_types
        ]
        # Without Oura credentials this fails here, before a run is recorded.
        oura = client_from_settings(settings)
        run_id = await state.start_run(
            conn,
            names,
            min(plan.window.start for plan in plans),
            max(plan.window.end for plan in plans),
        )
        log.info("collect_run_started", run_id=run_id, data_types=len(names))
        book = state.Bookkeeping(settings.database_url, conn)
        try:
            return await _collect_run(settings, book, run_id, plans, oura, progress, today, started)
        finally:
            await book.close()


async def _collect_run(
    settings: CollectorSettings,
    book: state.Bookkeeping,
    run_id: int,
    plans: list[TypePlan],
    oura: OuraClient,
    progress: Progress,
    today: dt.date,
    started: float,
) -> int:
    """The run itself, once recorded: every type, then the run's row closed, whatever
    happens (a database restart on the way only reopens the bookkeeping connection)."""
    outcomes: list[TypeOutcome] = []
    counts: dict[str, Any] = {}
    try:
        ingest_token = settings.INGEST_TOKEN.get_secret_value() if settings.INGEST_TOKEN else None
        async with (
            ProcessorClient(str(settings.PROCESSOR_URL), ingest_token) as processor,
            oura,
        ):
            runner = Runner(
                book=book,
                run_id=run_id,
                fetcher=oura,
                ingestor=processor,
                progress=progress,
                tz=settings.timezone,
                today=today,
                batch_size=settings.COLLECT_BATCH_SIZE,
                concurrency=settings.COLLECT_CONCURRENCY,
            )
            with progress:
                outcomes = await runner.run(plans)
            counts = run_counts(outcomes, oura.stats)
    except BaseException as exc:
        error = state.INTERRUPTED if not isinstance(exc, Exception) else f"crashed: {exc!r}"
        counts = counts or run_counts(outcomes, oura.stats)
        await asyncio.shield(
            book.run(
                lambda conn: state.finish_run(
                    conn, run_id, succeeded=False, counts=counts, error=error
                )
            )
        )
        raise
    failed = [outcome for outcome in outcomes if not outcome.succeeded]
    summary = "\n".join(f"{outcome.name}: {outcome.error}" for outcome in failed) or None
    await book.run(
        lambda conn: state.finish_run(
            conn, run_id, succeeded=not failed, counts=counts, error=summary
        )
    )
    retention = settings.SYNC_RUN_RETENTION_DAYS
    if pruned := await book.run(lambda conn: state.prune_runs(conn, retention)):
        log.info("collect_old_runs_pruned", runs=pruned)
    return _report(run_id, outcomes, failed, time.monotonic() - started)


def _report(
    run_id: int, outcomes: list[TypeOutcome], failed: list[TypeOutcome], seconds: float
) -> int:
    documents = sum(outcome.documents for outcome in outcomes)
    inserted = sum(outcome.totals.inserted for outcome in outcomes)
    updated = sum(outcome.totals.updated for outcome in outcomes)
    unchanged = sum(outcome.totals.unchanged for outcome in outcomes)
    rejected = sum(len(outcome.totals.rejected) for outcome in outcomes)
    log.info(
        "collect_run_finished",
        run_id=run_id,
        status="failed" if failed else "succeeded",
        documents=documents,
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
        quarantined=rejected,
        failed_types=[outcome.name for outcome in failed],
        seconds=round(seconds, 2),
    )
    totals = (
        f"{documents} documents ({inserted} new, {updated} updated, {unchanged} unchanged,"
        f" {rejected} quarantined) in {seconds:.1f} s"
    )
    if not failed:
        print(f"myhealth collect: run {run_id}: {len(outcomes)} data types collected, {totals}")
        return 0
    print(
        f"myhealth collect: run {run_id}: {len(failed)} of {len(outcomes)} data types failed"
        f" ({totals}):",
        file=sys.stderr,
    )
    for outcome in failed:
        print(f"  {outcome.name}: {outcome.error}", file=sys.stderr)
    return EXIT_FAILED
