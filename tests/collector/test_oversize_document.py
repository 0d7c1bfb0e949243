"""A document too large for any ingest request (the processor answers 413 to it alone) is
quarantined by the collector itself, as received, and its type still completes: before, the
collector split the batch down to that one document, got 413 again, and failed the type on
every run (the document stayed in the re-fetch window)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from .support import Stack

# Sleep periods carry 5-minute series and are several KB each; the other daily documents of
# the sandbox are far smaller than this.
LIMIT = 4096


def test_a_document_over_the_processors_limit_is_quarantined_and_the_type_completes(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.stop_processor()
    stack.start_processor(INGEST_MAX_BYTES=str(LIMIT))
    start = (stack.today - dt.timedelta(days=3)).isoformat()
    argv = ("--start-date", start, "--data-types", "sleep,daily_sleep")

    assert stack.collect(*argv) == 0, capsys.readouterr()

    with psycopg.connect(stack.database_url) as conn:
        quarantined = conn.execute(
            "SELECT data_type, reason_code, raw_document FROM quarantined_documents"
        ).fetchall()
        stored_sleep = conn.execute(
            "SELECT count(*) FROM oura_documents WHERE data_type = 'sleep'"
        ).fetchone()
        daily_sleep = conn.execute(
            "SELECT count(*) FROM oura_documents WHERE data_type = 'daily_sleep'"
        ).fetchone()
        statuses = conn.execute("SELECT status FROM sync_run_types").fetchall()
        # What the collector received of sleep (each document once, the oversize ones too).
        received = conn.execute(
            "SELECT documents FROM sync_run_types WHERE data_type = 'sleep'"
        ).fetchone()
    too_large = [raw for kind, code, raw in quarantined if code == "document_too_large"]
    assert too_large, "no sleep period was over the limit: raise the sandbox's document size"
    assert {kind for kind, _, _ in quarantined} == {"sleep"}
    assert all(len(raw.encode()) > LIMIT - 100 for raw in too_large)
    assert stored_sleep is not None
    assert daily_sleep is not None
    assert received is not None
    assert stored_sleep[0] + len(too_large) == received[0]
    assert daily_sleep[0] > 0
    assert set(statuses) == {("succeeded",)}

    # Sent again, nothing changes: the same texts are quarantined once.
    assert stack.collect(*argv) == 0, capsys.readouterr()
    with psycopg.connect(stack.database_url) as conn:
        again = conn.execute("SELECT count(*) FROM quarantined_documents").fetchone()
    assert again == (len(quarantined),)
