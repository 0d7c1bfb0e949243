"""Property: whatever the windows, paging and types, hostile documents never fail a type.

Against the sandbox serving one hostile document per type and first page (its
`hostile_documents` switch), for a generated window, page size and set of types: `myhealth
collect` exits 0, every quarantined document is a hostile one (none of them stored), and a
second run changes nothing. Each example is a whole collect run, so `make test` runs a few
and `make fuzz` a few dozen.
"""

from __future__ import annotations

import datetime as dt

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

from myhealth.oura.catalog import ALL_NAMES
from myhealth.sandbox import hostile
from tests import fuzzing

from .support import Stack
from .test_collect_end_to_end import query, snapshot


def _reset(stack: Stack) -> None:
    """A clean database for the next example (the stack is built once per test)."""
    tables = {"heart_rate", "oura_documents", "quarantined_documents"}
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        typed = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename NOT IN ('schema_migrations', 'oauth_tokens')"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(sorted(set(typed) | tables))} CASCADE".encode())


@settings(max_examples=fuzzing.examples(default=3, fuzz=40))
@given(
    days=st.integers(0, 10),
    page_size=st.integers(1, 50),
    names=st.lists(st.sampled_from(ALL_NAMES), min_size=1, max_size=5, unique=True),
)
def test_hostile_documents_never_fail_a_type(
    stack: Stack, days: int, page_size: int, names: list[str]
) -> None:
    _reset(stack)
    stack.sandbox_control(
        "faults", {"hostile_documents": True, "page_size": page_size, "heartrate_page_size": 500}
    )
    start = (stack.today - dt.timedelta(days=days)).isoformat()
    argv = ("--data-types", ",".join(names), "--start-date", start)

    assert stack.collect(*argv) == 0

    quarantined = query(stack, "SELECT raw_document FROM quarantined_documents")
    assert all(f'"{hostile.MARKER}":"' in raw for (raw,) in quarantined)
    stored = query(
        stack, "SELECT count(*) FROM oura_documents WHERE document ? %s", (hostile.MARKER,)
    )
    assert stored == [(0,)]
    before = snapshot(stack), query(stack, "SELECT count(*) FROM quarantined_documents")
    assert stack.collect(*argv) == 0
    assert (snapshot(stack), query(stack, "SELECT count(*) FROM quarantined_documents")) == before
