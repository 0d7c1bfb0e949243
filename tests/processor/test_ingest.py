"""POST /api/v1/ingest against a real PostgreSQL, over real HTTP."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import httpx
import psycopg
import pytest

from myhealth.oura.catalog import ALL_NAMES, DATA_TYPES

from .support import example_documents, ingest

TYPED_TABLES = sorted({data_type.table for data_type in DATA_TYPES.values()})


def count(db: psycopg.Connection, sql: str, *params: Any) -> int:
    row = db.execute(sql.encode(), params).fetchone()
    assert row is not None
    return int(row[0])


def row_versions(db: psycopg.Connection) -> dict[str, list[Any]]:
    """updated_at of every typed row and last_changed_at of every archived document."""
    versions = {
        table: db.execute(f"SELECT updated_at FROM {table} ORDER BY 1".encode()).fetchall()
        for table in TYPED_TABLES
    }
    versions["oura_documents"] = db.execute(
        "SELECT data_type, id, last_changed_at FROM oura_documents ORDER BY 1, 2"
    ).fetchall()
    return versions


@pytest.mark.parametrize("data_type", ALL_NAMES)
def test_each_data_type_is_archived_and_typed(
    client: httpx.Client, db: psycopg.Connection, data_type: str
) -> None:
    documents = example_documents(data_type)
    assert documents, f"no test documents for {data_type}"

    result = ingest(client, data_type, documents)

    assert result == {
        "received": len(documents),
        "inserted": len(documents),
        "updated": 0,
        "unchanged": 0,
        "rejected": [],
    }
    table = DATA_TYPES[data_type].table
    assert count(db, f"SELECT count(*) FROM {table}") == len(documents)
    archived = db.execute(
        "SELECT document FROM oura_documents WHERE data_type = %s ORDER BY id", (data_type,)
    ).fetchall()
    if data_type == "heartrate":
        assert archived == []  # samples live only in their typed table
    else:
        by_key = sorted(documents, key=lambda d: str(d.get("id") if "id" in d else d.get("day")))
        assert [row[0] for row in archived] == by_key  # verbatim


def test_typed_values_come_from_the_document(client: httpx.Client, db: psycopg.Connection) -> None:
    [period, *_] = example_documents("sleep")
    ingest(client, "sleep", [period])

    row = db.execute(
        """SELECT day::text, type, total_sleep_duration, average_breath::float8,
                  bedtime_end, heart_rate, low_battery_alert
           FROM sleep_periods WHERE id = %s""",
        (period["id"],),
    ).fetchone()
    assert row is not None
    day, type_, total, breath, bedtime_end, heart_rate, low_battery = row
    assert (day, type_, total, breath) == (
        period["day"],
        period["type"],
        period["total_sleep_duration"],
        period["average_breath"],
    )
    assert bedtime_end == dt.datetime.fromisoformat(period["bedtime_end"])
    assert heart_rate == period["heart_rate"]
    assert low_battery == period["low_battery_alert"]


def test_second_identical_ingest_changes_nothing(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    for data_type in ALL_NAMES:
        ingest(client, data_type, example_documents(data_type))
    before = row_versions(db)

    for data_type in ALL_NAMES:
        documents = example_documents(data_type)
        result = ingest(client, data_type, documents)
        assert result["unchanged"] == len(documents), data_type
        assert (result["inserted"], result["updated"], result["rejected"]) == (0, 0, []), data_type

    assert row_versions(db) == before


def test_revised_document_is_updated(client: httpx.Client, db: psycopg.Connection) -> None:
    [document, *_] = example_documents("daily_sleep")
    ingest(client, "daily_sleep", [document])
    first_seen, changed = db.execute(
        "SELECT first_seen_at, last_changed_at FROM oura_documents WHERE id = %s",
        (document["id"],),
    ).fetchone() or (None, None)
    typed_before = db.execute(
        "SELECT created_at, updated_at FROM daily_sleep WHERE id = %s", (document["id"],)
    ).fetchone()
    assert typed_before is not None

    revised = copy.deepcopy(document)
    revised["score"] = document["score"] + 5
    revised["contributors"]["timing"] = 99
    revised["new_field_from_oura"] = "kept in the archive"
    result = ingest(client, "daily_sleep", [revised])

    assert (result["inserted"], result["updated"], result["unchanged"]) == (0, 1, 0)
    score, contributors, created, updated = db.execute(
        "SELECT score, contributors, created_at, updated_at FROM daily_sleep WHERE id = %s",
        (document["id"],),
    ).fetchone() or (None, None, None, None)
    assert score == revised["score"]
    assert contributors == revised["contributors"]
    assert created == typed_before[0]
    assert updated > typed_before[1]
    archived, first_seen_after, changed_after = db.execute(
        "SELECT document, first_seen_at, last_changed_at FROM oura_documents WHERE id = %s",
        (document["id"],),
    ).fetchone() or (None, None, None)
    assert archived == revised
    assert first_seen_after == first_seen
    assert changed_after > changed


def test_new_unknown_field_alone_updates_the_archive(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    [document, *_] = example_documents("daily_readiness")
    ingest(client, "daily_readiness", [document])
    updated_before = count(db, "SELECT extract(epoch FROM updated_at) * 1e6 FROM daily_readiness")

    result = ingest(client, "daily_readiness", [{**document, "brand_new": 1}])

    assert result["updated"] == 1
    assert (
        count(db, "SELECT extract(epoch FROM updated_at) * 1e6 FROM daily_readiness")
        == updated_before
    )  # no typed value changed
    assert (
        count(
            db,
            "SELECT (document ->> 'brand_new')::int FROM oura_documents WHERE id = %s",
            document["id"],
        )
        == 1
    )


def test_invalid_documents_are_quarantined_and_the_rest_stored(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    [template] = example_documents("daily_activity")
    documents: list[Any] = []
    for n in range(100):
        document = copy.deepcopy(template)
        document["id"] = f"activity-{n:03d}"
        document["day"] = f"2024-{1 + n // 28:02d}-{1 + n % 28:02d}"
        documents.append(document)
    documents[7]["steps"] = "12000"  # wrong JSON type
    del documents[42]["day"]  # lacks its day
    documents[99] = ["not", "an", "object"]

    result = ingest(client, "daily_activity", documents)

    assert result["received"] == 100
    assert result["inserted"] == 97
    assert [(r["index"], r["id"]) for r in result["rejected"]] == [
        (7, "activity-007"),
        (42, "activity-042"),
        (99, None),
    ]
    errors = [r["error"] for r in result["rejected"]]
    assert "steps" in errors[0]
    assert "day is required" in errors[1]
    assert "object" in errors[2]
    assert count(db, "SELECT count(*) FROM daily_activity") == 97
    assert count(db, "SELECT count(*) FROM oura_documents") == 97
    quarantined = db.execute(
        "SELECT data_type, document_id, document, reason FROM quarantined_documents"
        " ORDER BY quarantine_id"
    ).fetchall()
    assert [(q[0], q[1]) for q in quarantined] == [
        ("daily_activity", "activity-007"),
        ("daily_activity", "activity-042"),
        ("daily_activity", None),
    ]
    assert [q[2] for q in quarantined] == [documents[7], documents[42], documents[99]]
    assert [q[3] for q in quarantined] == errors


def test_duplicates_in_one_batch_last_one_wins(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    [document, *_] = example_documents("daily_sleep")
    first = {**document, "score": 50}
    second = {**document, "score": 60}

    result = ingest(client, "daily_sleep", [first, second])

    assert (result["received"], result["inserted"], result["unchanged"]) == (2, 1, 1)
    assert count(db, "SELECT score FROM daily_sleep") == 60
    assert count(db, "SELECT (document ->> 'score')::int FROM oura_documents") == 60


def test_cardiovascular_age_is_keyed_by_day(client: httpx.Client, db: psycopg.Connection) -> None:
    without_id = {"day": "2024-11-11", "vascular_age": 34}
    assert ingest(client, "daily_cardiovascular_age", [without_id])["inserted"] == 1
    result = ingest(
        client, "daily_cardiovascular_age", [{**without_id, "id": "late-id", "vascular_age": 33}]
    )
    assert result["updated"] == 1
    assert db.execute("SELECT id, vascular_age FROM daily_cardiovascular_age").fetchall() == [
        ("late-id", 33)
    ]


def test_empty_batch(client: httpx.Client) -> None:
    assert ingest(client, "sleep", []) == {
        "received": 0,
        "inserted": 0,
        "updated": 0,
        "unchanged": 0,
        "rejected": [],
    }


def test_nul_characters_are_rejected_not_fatal(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb: such a document is quarantined (its
    JSON text kept, escape and all) instead of failing the whole batch; a literal backslash-u
    text is fine."""
    [document, *_] = example_documents("tag")
    with_nul = {**document, "id": "nul", "text": "bad\u0000text"}
    literal = {**document, "id": "literal", "text": "a literal \\u0000 is just text"}

    result = ingest(client, "tag", [document, with_nul, literal])

    assert result["inserted"] == 2
    assert [(r["index"], r["id"]) for r in result["rejected"]] == [(1, "nul")]
    assert "NUL" in result["rejected"][0]["error"]
    assert count(db, "SELECT count(*) FROM tags") == 2
    assert db.execute("SELECT text FROM tags WHERE id = 'literal'").fetchone() == (literal["text"],)
    row = db.execute(
        "SELECT reason_code, document, raw_document FROM quarantined_documents"
    ).fetchone()
    assert row is not None
    assert row[:2] == ("nul_character", None)
    assert json.loads(row[2]) == with_nul
