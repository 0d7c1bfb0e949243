"""What one document carries affects that document alone
(docs/troubleshooting.md#quarantined-documents).

Each case sends a raw JSON body — a valid document, then a hostile one, then another valid
one — and checks: 200, both valid documents stored, the hostile one rejected with its reason
code and quarantined with its exact JSON text, and a second send changes nothing. Before the
bounded reader, the surrogate, 1e309, deep-nesting and naive-timestamp cases answered 500 with
nothing stored, and the 3-million-element array took 28 s and 2.25 GB before a 503.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.processes import myhealth_environ, service

from .support import INGEST_TOKEN, example_documents

DEEP = 5_000


def _body(data_type: str, texts: list[str]) -> bytes:
    return f'{{"data_type":"{data_type}","documents":[{",".join(texts)}]}}'.encode()


def _sleep(doc_id: str, extra: str = "", day: str = '"2024-03-02"') -> str:
    return f'{{"id":"{doc_id}","day":{day},"score":80{extra}}}'


def _nested(levels: int) -> str:
    """A daily_sleep document whose total nesting is `levels` (the document is level 1)."""
    inner = "[" * (levels - 1) + "]" * (levels - 1)
    return _sleep("nested", f',"contributors_extra":{inner}')


HOSTILE = [
    pytest.param(_sleep("s", ',"note":"\\ud83d"'), "lone_surrogate", id="lone-surrogate"),
    pytest.param('{"note":"\\udc00 and no id"}', "lone_surrogate", id="surrogate-in-invalid"),
    pytest.param(_sleep("s", ',"note":"a\\u0000b"'), "nul_character", id="nul"),
    pytest.param(_sleep("s", ',"x":1e309'), "non_finite_number", id="1e309"),
    pytest.param(_sleep("s", ',"x":NaN'), "non_finite_number", id="nan-literal"),
    pytest.param(_sleep("s", ',"x":-Infinity'), "non_finite_number", id="infinity-literal"),
    pytest.param(_sleep("s", ',"x":' + "9" * 5000), "number_out_of_range", id="5000-digits"),
    pytest.param(
        '{"id":"s","day":"2024-03-02","score":2147483648}', "number_out_of_range", id="int32"
    ),
    pytest.param(_sleep("s", day='"9999-12-31"'), "date_out_of_range", id="year-9999"),
    pytest.param(_sleep("s", day='"10000-01-01"'), "date_out_of_range", id="year-10000"),
    pytest.param(_sleep("s", day='"1999-12-31"'), "date_out_of_range", id="year-1999"),
    pytest.param(
        _sleep("s", ',"timestamp":"10000-01-01T00:00:00+00:00"'),
        "date_out_of_range",
        id="timestamp-10000",
    ),
    pytest.param(_nested(65), "nesting_too_deep", id="depth-65"),
    pytest.param(_sleep("s", ',"x":' + "[" * DEEP + "]" * DEEP), "nesting_too_deep", id="deep"),
    pytest.param("[1,2,3]", "not_an_object", id="not-an-object"),
    pytest.param('{"id":"s","day":"2024-03-02","score":"85"}', "invalid_document", id="str"),
]


@pytest.mark.parametrize(("hostile", "code"), HOSTILE)
def test_a_hostile_document_is_quarantined_and_the_rest_stored(
    client: httpx.Client, db: psycopg.Connection, hostile: str, code: str
) -> None:
    body = _body("daily_sleep", [_sleep("before"), hostile, _sleep("after")])

    first = client.post("/api/v1/ingest", content=body)
    second = client.post("/api/v1/ingest", content=body)

    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["received"], answer["inserted"]) == (3, 2)
    [rejection] = answer["rejected"]
    assert (rejection["index"], rejection["code"]) == (1, code)
    assert rejection["error"]
    stored = db.execute("SELECT id FROM daily_sleep ORDER BY id").fetchall()
    assert stored == [("after",), ("before",)]
    quarantined = db.execute(
        "SELECT reason_code, raw_document FROM quarantined_documents"
    ).fetchall()
    assert quarantined == [(code, hostile)]
    # Again: nothing changes, not even the quarantine.
    assert second.status_code == 200, second.text
    again = second.json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert [item["code"] for item in again["rejected"]] == [code]
    assert db.execute("SELECT count(*) FROM quarantined_documents").fetchone() == (1,)


def test_nesting_of_64_levels_is_accepted(client: httpx.Client, db: psycopg.Connection) -> None:
    answer = client.post("/api/v1/ingest", content=_body("daily_sleep", [_nested(64)])).json()
    assert (answer["inserted"], answer["rejected"]) == (1, [])


def test_the_archive_keeps_the_received_text(client: httpx.Client, db: psycopg.Connection) -> None:
    """Verbatim: a valid surrogate pair, big-but-finite numbers and key order survive."""
    text = _sleep("exact", ',"note":"\\ud83d\\ude00","big":1E+300,"int":' + "9" * 300)
    answer = client.post("/api/v1/ingest", content=_body("daily_sleep", [text])).json()
    assert answer["inserted"] == 1
    row = db.execute("SELECT document FROM oura_documents WHERE id = 'exact'").fetchone()
    assert row is not None
    assert row[0]["note"] == "\N{GRINNING FACE}"
    assert row[0]["int"] == int("9" * 300)


def test_naive_heart_rate_timestamps_are_read_as_utc(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    """A sample without an offset beside one with an offset used to make the writer's sort
    raise (500, nothing stored)."""
    samples = [
        {"timestamp": "2024-03-02T10:00:00", "bpm": 60, "source": "awake"},
        {"timestamp": "2024-03-02T11:00:00+02:00", "bpm": 61, "source": "awake"},
    ]
    answer = client.post(
        "/api/v1/ingest", json={"data_type": "heartrate", "documents": samples}
    ).json()
    assert (answer["inserted"], answer["rejected"]) == (2, [])
    rows = db.execute(
        "SELECT to_char(timestamp AT TIME ZONE 'UTC', 'HH24:MI'), bpm FROM heart_rate ORDER BY 1"
    ).fetchall()
    assert rows == [("09:00", 61), ("10:00", 60)]


def test_a_heart_rate_sample_in_year_10000_is_rejected(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    [sample, *_] = example_documents("heartrate")
    bad = {**sample, "timestamp": "10000-01-01T00:00:00+00:00"}
    answer = client.post(
        "/api/v1/ingest", json={"data_type": "heartrate", "documents": [sample, bad]}
    ).json()
    assert answer["inserted"] == 1
    assert [item["code"] for item in answer["rejected"]] == ["date_out_of_range"]
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'myhealth_db_up{service="processor"} 1.0' in metrics.text


def test_a_value_postgresql_refuses_rejects_only_its_document(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    """The last line of defence: should PostgreSQL still refuse a value (here a CHECK that
    raises a data exception, SQLSTATE 22), the batch is stored one document at a time."""
    db.execute(
        """CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF NEW.score = 13 THEN
               RAISE EXCEPTION 'unlucky score' USING ERRCODE = '22023';
             END IF;
             RETURN NEW;
           END $$"""
    )
    db.execute(
        "CREATE TRIGGER refuse_13 BEFORE INSERT ON daily_sleep"
        " FOR EACH ROW EXECUTE FUNCTION refuse_13()"
    )
    texts = [_sleep("a"), '{"id":"b","day":"2024-03-02","score":13}', _sleep("c"), "{}"]

    answer = client.post("/api/v1/ingest", content=_body("daily_sleep", texts)).json()

    assert answer["inserted"] == 2
    assert [(item["index"], item["code"]) for item in answer["rejected"]] == [
        (1, "database_refused"),
        (3, "invalid_document"),
    ]
    assert "unlucky score" in answer["rejected"][0]["error"]
    assert db.execute("SELECT id FROM daily_sleep ORDER BY id").fetchall() == [("a",), ("c",)]
    assert db.execute(
        "SELECT reason_code FROM quarantined_documents ORDER BY reason_code"
    ).fetchall() == [("database_refused",), ("invalid_document",)]


# -- size: a 6 MB body of 3 million elements, against a real `myhealth processor` process -----


@pytest.fixture
def processor_process(database_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    environ = myhealth_environ(DATABASE_URL=database_url, INGEST_TOKEN=INGEST_TOKEN)
    with service("processor", environ, tmp_path) as processor:
        assert processor.process is not None
        yield processor.url, processor.process.pid


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def test_a_3_million_element_array_is_rejected_fast_with_bounded_memory(
    processor_process: tuple[str, int], db: psycopg.Connection
) -> None:
    url, pid = processor_process
    huge = _sleep("huge", ',"x":[' + ",".join(["0"] * 3_000_000) + "]")
    body = _body("daily_sleep", [_sleep("small"), huge])
    assert len(body) > 6_000_000
    before = _peak_rss_mb(pid)

    started = time.perf_counter()
    response = httpx.post(
        f"{url}/api/v1/ingest",
        content=body,
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/json"},
        timeout=60,
    )
    elapsed = time.perf_counter() - started
    peak = _peak_rss_mb(pid)

    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    assert answer["inserted"] == 1
    assert [item["code"] for item in answer["rejected"]] == ["document_too_large"]
    row = db.execute("SELECT length(raw_document), document FROM quarantined_documents").fetchone()
    assert row == (len(huge), None)
    print(f"\n3M-element body: {elapsed:.2f} s, processor peak RSS {before:.0f} -> {peak:.0f} MB")
    assert elapsed < 10
    assert peak - before < 300


def test_more_documents_than_a_batch_may_hold_is_413(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    """The collector meets a 413 by splitting the batch; nothing of this one is stored."""
    response = client.post("/api/v1/ingest", content=_body("tag", ["{}"] * 20_001))
    assert response.status_code == 413
    assert "20000 documents" in response.json()["detail"]
    assert db.execute("SELECT count(*) FROM quarantined_documents").fetchone() == (0,)


def test_nesting_5000_deep_in_every_document_of_a_batch(client: httpx.Client) -> None:
    """No RecursionError however many deep documents: each is measured, never recursed."""
    deep = '{"id":"d","x":' + "[" * DEEP + "]" * DEEP + "}"
    answer = client.post("/api/v1/ingest", content=_body("tag", [deep] * 50)).json()
    assert answer["received"] == 50
    assert {item["code"] for item in answer["rejected"]} == {"nesting_too_deep"}


def test_a_1970_set_up_at_placeholder_is_stored(client: httpx.Client) -> None:
    """Only the dates that place a document in time are held to 2000-2100: old rings report
    `set_up_at` as the epoch."""
    ring = {"id": "ring-1", "set_up_at": "1970-01-01T00:00:00+00:00", "color": "silver"}
    answer = client.post(
        "/api/v1/ingest", json={"data_type": "ring_configuration", "documents": [ring]}
    ).json()
    assert (answer["inserted"], answer["rejected"]) == (1, [])
