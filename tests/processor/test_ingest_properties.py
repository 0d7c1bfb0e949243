"""Property: whatever a batch mixes, valid documents are stored exactly and the rest quarantined.

Batches are generated as raw JSON text (most hostile values cannot be produced by encoding a
Python value): valid documents (a real document with a fresh id, optional keys dropped, new
keys of any JSON value added) mixed with hostile ones (lone surrogates, NUL, 1e309, NaN,
Infinity, integers of hundreds to thousands of digits, dates outside 2000-2100 or unreadable,
nesting deeper than 64, a missing key, a value of the wrong type, a non-object). For every
batch, against a real processor and PostgreSQL: 200; inserted + updated + unchanged +
len(rejected) == received; exactly the hostile documents rejected and quarantined with their
exact text; every valid document archived exactly; a second send changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import psycopg
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from myhealth.oura.models import MODELS
from tests import fuzzing  # noqa: F401  (registers the profiles)

from .support import example_documents

TYPES = ("daily_sleep", "tag", "workout")
BASES = {name: example_documents(name)[0] for name in TYPES}
TABLES = "oura_documents, quarantined_documents, daily_sleep, tags, workouts"


@dataclass(frozen=True)
class Doc:
    text: str
    valid: bool


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# JSON values PostgreSQL and every decoder can hold: finite doubles, bounded integers, text
# without NUL or lone surrogates, nesting well under the limit.
_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


def _field_names(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    names |= {f.alias for f in model.model_fields.values() if f.alias}
    return names


@st.composite
def valid_documents(draw: st.DrawFn, data_type: str, number: int) -> Doc:
    document = dict(BASES[data_type])
    document["id"] = f"valid-{number}"
    optional = sorted(set(document) - {"id", "day", "start_day"})
    for key in (
        draw(st.lists(st.sampled_from(optional), unique=True, max_size=3)) if optional else []
    ):
        del document[key]
    # New keys only: a field the model knows (or one just dropped), given a random value,
    # would make the document invalid while it is counted as valid.
    known = set(BASES[data_type]) | _field_names(MODELS[data_type])
    extras = draw(st.dictionaries(_text.filter(lambda k: k not in known), _json, max_size=3))
    document.update(extras)
    if draw(st.booleans()) and "day" in document:
        document["day"] = draw(st.dates(min_value=_date(2000), max_value=_date(2100))).isoformat()
    return Doc(_dumps(document), True)


def _date(year: int) -> Any:
    import datetime as dt

    return dt.date(year, 1 if year == 2000 else 12, 1 if year == 2000 else 31)


_HOSTILE_VALUES = st.one_of(
    st.sampled_from(
        [
            '"\\ud83d"',
            '"tail \\udc00"',
            '"a\\u0000b"',
            "1e309",
            "-1e400",
            "NaN",
            "Infinity",
            "-Infinity",
        ]
    ),
    st.integers(309, 6000).map(lambda digits: "9" * digits),
    st.integers(65, 400).map(lambda depth: "[" * depth + "]" * depth),
)


@st.composite
def hostile_documents(draw: st.DrawFn, data_type: str, number: int) -> Doc:
    base = dict(BASES[data_type])
    base["id"] = f"hostile-{number}"
    day_field = "start_day" if "start_day" in base else "day"
    kind = draw(st.sampled_from(["value", "key", "date", "missing", "wrong_type", "non_object"]))
    if kind == "value":  # a hostile value anywhere: a new key, or an existing one
        key = draw(st.sampled_from([*sorted(base), "extra"]))
        body = _dumps({k: v for k, v in base.items() if k != key})
        return Doc(body[:-1] + f',"{key}":{draw(_HOSTILE_VALUES)}}}', False)
    if kind == "key":  # a hostile member name
        name = draw(st.sampled_from(['"\\ud800"', '"\\u0000"']))
        return Doc(_dumps(base)[:-1] + f",{name}:1}}", False)
    if kind == "date":
        year = draw(st.integers(0, 1999) | st.integers(2101, 99999))
        day = draw(st.sampled_from([f"{year:04d}-06-01", "2024-13-01", "yesterday", ""]))
        return Doc(_dumps({**base, day_field: day}), False)
    if kind == "missing":
        missing = draw(st.sampled_from(["id", day_field]))
        return Doc(_dumps({k: v for k, v in base.items() if k != missing}), False)
    if kind == "wrong_type":
        value = draw(st.sampled_from(["85", True, [], {}, 1.5]))
        field = "id" if value != "85" else day_field
        return Doc(_dumps({**base, field: value}), False)
    return Doc(draw(st.sampled_from(["1", '"text"', "null", "[]", "[{}]"])), False)


@st.composite
def batches(draw: st.DrawFn) -> tuple[str, list[Doc]]:
    data_type = draw(st.sampled_from(TYPES))
    kinds = draw(st.lists(st.booleans(), min_size=1, max_size=12))
    documents = [
        draw(valid_documents(data_type, i) if valid else hostile_documents(data_type, i))
        for i, valid in enumerate(kinds)
    ]
    return data_type, documents


def _exact(text: str) -> Any:
    """Numbers as decimals: jsonb keeps `-7.842221916858017e+17` as that exact decimal, which
    is not the binary double Python would read."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def _send(client: httpx.Client, data_type: str, documents: list[Doc]) -> dict[str, Any]:
    texts = ",".join(doc.text for doc in documents)
    body = f'{{"data_type":"{data_type}","documents":[{texts}]}}'.encode()
    response = client.post("/api/v1/ingest", content=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    counted = answer["inserted"] + answer["updated"] + answer["unchanged"]
    assert counted + len(answer["rejected"]) == answer["received"] == len(documents)
    return answer


@given(batch=batches())
def test_any_batch_stores_the_valid_and_quarantines_the_rest(
    client: httpx.Client, db: psycopg.Connection, batch: tuple[str, list[Doc]]
) -> None:
    data_type, documents = batch
    db.execute(f"TRUNCATE {TABLES}".encode())

    answer = _send(client, data_type, documents)

    hostile = [i for i, doc in enumerate(documents) if not doc.valid]
    assert [item["index"] for item in answer["rejected"]] == hostile, answer["rejected"]
    assert all(isinstance(item["code"], str) and item["code"] for item in answer["rejected"])
    quarantined = db.execute("SELECT raw_document FROM quarantined_documents").fetchall()
    assert sorted(raw for (raw,) in quarantined) == sorted({documents[i].text for i in hostile})
    rows = db.execute(
        "SELECT id, document::text FROM oura_documents WHERE data_type = %s", (data_type,)
    )
    archived = {key: _exact(text) for key, text in rows}
    expected = {f"valid-{i}": _exact(doc.text) for i, doc in enumerate(documents) if doc.valid}
    assert archived == expected
    assert answer["inserted"] == len(expected)

    again = _send(client, data_type, documents)
    assert (again["inserted"], again["updated"]) == (0, 0)
    assert db.execute("SELECT count(*) FROM quarantined_documents").fetchone() == (
        len(quarantined),
    )
