"""The sandbox's `hostile_documents` fault: one hostile document per type and first page.

Each is a copy of a real document of the page, marked with a `hostile_kind` member and carrying
one thing a JSON decoder, Python or PostgreSQL may choke on — written as raw JSON text, because
most of these (a lone surrogate escape, `1e309`, a 5,000-digit integer, `NaN`) cannot be
produced by encoding a Python value. The page is otherwise Oura's exact v2 wire format. The
product must quarantine each of these and store everything else
(docs/troubleshooting.md#quarantined-documents); the one exception
is `naive_timestamp` (heart rate only, served in addition), which is read as UTC and stored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from myhealth.oura.catalog import DataType

MARKER = "hostile_kind"

# kind -> raw JSON member added to the copy (None: the kind changes a field instead)
_EXTRA_MEMBER: dict[str, str | None] = {
    "lone_surrogate": '"hostile_note":"\\ud83d"',
    "nul_character": '"hostile_note":"a\\u0000b"',
    "huge_number": '"hostile_value":1e309',
    "long_integer": '"hostile_value":' + "9" * 5000,
    "nan_literal": '"hostile_value":NaN',
    "deep_nesting": '"hostile_value":' + "[" * 100 + "]" * 100,
    "far_date": None,
}
KINDS: tuple[str, ...] = tuple(_EXTRA_MEMBER)
# What the processor answers for each kind (the rejection `code`).
EXPECTED_CODE = {
    "lone_surrogate": "lone_surrogate",
    "nul_character": "nul_character",
    "huge_number": "non_finite_number",
    "long_integer": "number_out_of_range",
    "nan_literal": "non_finite_number",
    "deep_nesting": "nesting_too_deep",
    "far_date": "date_out_of_range",
}


# Which kind each type gets: every kind on several types. Types keyed by something else
# than an id get a kind that leaves no readable key (else the client's de-duplication by key
# would, rightly, keep only the first of two documents with the same key).
KIND_BY_TYPE = {
    "daily_activity": "lone_surrogate",
    "daily_cardiovascular_age": "huge_number",
    "daily_readiness": "nul_character",
    "daily_resilience": "long_integer",
    "daily_sleep": "nan_literal",
    "daily_spo2": "deep_nesting",
    "daily_stress": "far_date",
    "enhanced_tag": "lone_surrogate",
    "heartrate": "far_date",
    "rest_mode_period": "nul_character",
    "ring_configuration": "nan_literal",
    "session": "deep_nesting",
    "sleep": "far_date",
    "sleep_time": "long_integer",
    "tag": "nul_character",
    "vo2_max": "huge_number",
    "workout": "lone_surrogate",
}


def kind_for(data_type: DataType) -> str:
    return KIND_BY_TYPE[data_type.name]


def model_document(documents: Sequence[Any]) -> Any:
    """The document a hostile copy is made of: one from the middle of the page, so inside
    the window the client asked for (pages reach a little beyond it on both sides)."""
    return documents[len(documents) // 2]


def _encode(document: dict[str, Any]) -> str:
    # As the rest of the page is encoded (Starlette's JSONResponse settings).
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def hostile_texts(data_type: DataType, kind: str, model: dict[str, Any]) -> list[str]:
    """The raw JSON text of the hostile copies of `model` to add to a page."""
    copy = dict(model)
    copy[MARKER] = kind
    if "id" in copy:
        copy["id"] = f"hostile-{kind}-{copy['id']}"
    texts = []
    extra = _EXTRA_MEMBER[kind]
    if extra is None:  # far_date: a year Python cannot even represent
        if data_type.day_field is not None:
            copy[data_type.day_field] = "10000-01-01"
        elif "timestamp" in copy:
            copy["timestamp"] = "10000-01-01T00:00:00+00:00"
        else:
            copy["hostile_date"] = "10000-01-01"
            copy["day"] = "10000-01-01"
        texts.append(_encode(copy))
    else:
        texts.append(_encode(copy)[:-1] + "," + extra + "}")
    if data_type.window == "datetime" and isinstance(model.get("timestamp"), str):
        # A sample one second later, without an offset: stored, read as UTC.
        instant = dt.datetime.fromisoformat(model["timestamp"]).astimezone(dt.UTC)
        naive = {**model, MARKER: "naive_timestamp"}
        naive["timestamp"] = (instant + dt.timedelta(seconds=1)).replace(tzinfo=None).isoformat()
        texts.append(_encode(naive))
    return texts


def page_text(documents: Sequence[Any], extra_texts: Sequence[str], next_token: str | None) -> str:
    """A `{data, next_token}` page with raw document texts appended to `data`."""
    parts = [_encode(document) for document in documents] + list(extra_texts)
    return f'{{"data":[{",".join(parts)}],"next_token":{json.dumps(next_token)}}}'
