"""`myhealth collect` against a sandbox serving one hostile document per type and first page.

Before the collector forwarded each document's received JSON text, httpx refused to encode a
lone surrogate or `1e309`, and the processor answered 500 for them: those types failed on every
run and never synced again. Now every type completes (exit 0), exactly the hostile documents
are quarantined, everything else is stored, and a second run changes nothing.
"""

from __future__ import annotations

import datetime as dt

import pytest

from myhealth.oura.catalog import ALL_NAMES, DATA_TYPES
from myhealth.sandbox import hostile

from .support import Stack
from .test_collect_end_to_end import assert_stored, checkpoints, query, snapshot

# personal_info is one bare object, not a page: the switch leaves it alone.
PAGED = [name for name in ALL_NAMES if name != "personal_info"]


def test_every_type_completes_and_exactly_the_hostile_documents_are_quarantined(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    start = stack.today - dt.timedelta(days=4)
    stack.sandbox_control("faults", {"hostile_documents": True, "heartrate_page_size": 100_000})
    window = ("--start-date", start.isoformat())

    assert stack.collect(*window) == 0, capsys.readouterr()

    # Every quarantined document is a hostile one, with the code its kind calls for.
    quarantined = query(
        stack,
        "SELECT data_type, reason_code, raw_document FROM quarantined_documents ORDER BY data_type",
    )
    by_type: dict[str, list[str]] = {}
    for data_type, code, raw in quarantined:
        kind = hostile.kind_for(DATA_TYPES[data_type])
        assert f'"{hostile.MARKER}":"{kind}"' in raw, (data_type, raw[:200])
        assert code == hostile.EXPECTED_CODE[kind], data_type
        by_type.setdefault(data_type, []).append(raw)
    # One per type that had documents to copy (a quiet window may leave a type empty).
    served_types = {
        name
        for name in PAGED
        if query(stack, f"SELECT count(*) FROM {DATA_TYPES[name].table}")[0][0] > 0
    }
    assert {name: len(raws) for name, raws in by_type.items()} == dict.fromkeys(served_types, 1)
    assert len(served_types) >= 12
    # Nothing hostile was stored, except the naive heart-rate sample, which is read as UTC.
    archived = query(
        stack, "SELECT count(*) FROM oura_documents WHERE document ? %s", (hostile.MARKER,)
    )
    assert archived == [(0,)]
    # And everything else was: the archive and typed tables hold exactly what Oura serves
    # (the sandbox without the switch), plus the one naive sample.
    stack.sandbox_control("faults", {"hostile_documents": False})
    assert_stored(stack, [n for n in PAGED if n != "heartrate"], start, stack.today)
    assert checkpoints(stack) == dict.fromkeys(ALL_NAMES, stack.today)

    # A second run with the switch on changes nothing.
    stack.sandbox_control("faults", {"hostile_documents": True})
    before = snapshot(stack), query(stack, "SELECT count(*) FROM quarantined_documents")
    heart_rate_before = query(stack, "SELECT count(*) FROM heart_rate")
    assert stack.collect(*window) == 0
    assert (snapshot(stack), query(stack, "SELECT count(*) FROM quarantined_documents")) == before
    assert query(stack, "SELECT count(*) FROM heart_rate") == heart_rate_before
