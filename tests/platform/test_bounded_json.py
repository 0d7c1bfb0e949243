"""The bounded reader of ingest bodies and Oura pages: exact texts, per-document problems,
and a refusal only for bodies that are not JSON at all."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from myhealth.platform.bounded_json import (
    MAX_DEPTH,
    Envelope,
    MalformedJson,
    ProblemCode,
    RawJsonObject,
    document_text,
    printable,
    read_document,
    read_envelope,
)
from tests import fuzzing  # noqa: F401  (registers the profiles)


def docs(body: str) -> list[Any]:
    """The documents of `body`, read from text (the reader) and from UTF-8 bytes (the
    msgspec fast path, or the reader where the fast path declines): always the same."""
    envelope = read_envelope(body, "documents", max_documents=100)
    assert envelope.documents is not None
    read = [(d.text, d.value, d.problem.code if d.problem else None) for d in envelope.documents]
    assert same(read_envelope(body.encode(), "documents", max_documents=100), envelope)
    return read


def same(one: Envelope, other: Envelope) -> bool:
    """Equal, down to the Python types of the values (1 == 1.0, but not for jsonb)."""
    return repr(one) == repr(other)


def test_members_in_any_order_and_the_texts_exact() -> None:
    body = ' { "documents" : [ {"a": "]}\\"["} , 1.50 ,"x"] , "data_type" : "tag" , "n": null } '
    envelope = read_envelope(body, "documents", max_documents=10)
    assert envelope.members == {"data_type": "tag", "n": None}
    assert docs(body) == [
        ('{"a": "]}\\"["}', {"a": ']}"['}, None),
        ("1.50", 1.5, None),
        ('"x"', "x", None),
    ]


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ('{"s":"\\ud83d"}', ProblemCode.LONE_SURROGATE),
        ('{"\\udfff":1}', ProblemCode.LONE_SURROGATE),
        ('{"s":"\\u0000"}', ProblemCode.NUL_CHARACTER),
        ('{"n":1e309}', ProblemCode.NON_FINITE_NUMBER),
        ('{"n":-1E400}', ProblemCode.NON_FINITE_NUMBER),
        ('{"n":NaN}', ProblemCode.NON_FINITE_NUMBER),
        ('{"n":Infinity}', ProblemCode.NON_FINITE_NUMBER),
        ('{"n":' + "1" * 309 + "}", ProblemCode.NUMBER_OUT_OF_RANGE),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), ProblemCode.NESTING_TOO_DEEP),
        ('{"n":[' + ",".join(["0"] * 600_000) + "]}", ProblemCode.DOCUMENT_TOO_LARGE),
    ],
    ids=lambda value: value[:20] if isinstance(value, str) else str(value),
)
def test_content_problems_belong_to_their_document(document: str, code: ProblemCode) -> None:
    body = '{"documents":[{"ok":1},' + document + ',{"ok":2}]}'
    assert docs(body) == [
        ('{"ok":1}', {"ok": 1}, None),
        (document, docs(body)[1][1], code),
        ('{"ok":2}', {"ok": 2}, None),
    ]


@pytest.mark.parametrize(
    "body",
    [
        "",
        "[]",
        '{"documents":[1,]}',
        '{"documents":[{"a":1}}',
        '{"documents":["unterminated]}',
        '{"documents":[{"a":1,}]}',
        '{"documents":[]} extra',
        b'{"documents":["\xff"]}',
        '{"documents":[tru]}',
        '{"n":NaN,"documents":[]}',
    ],
)
def test_a_body_that_is_not_json_is_malformed(body: str | bytes) -> None:
    with pytest.raises(MalformedJson) as from_text:
        read_envelope(body, "documents", max_documents=100)
    as_bytes = body if isinstance(body, bytes) else body.encode()
    with pytest.raises(MalformedJson) as from_bytes:
        read_envelope(as_bytes, "documents", max_documents=100)
    assert str(from_bytes.value) == str(from_text.value)


@pytest.mark.parametrize("body", ['{"documents":[1,2,3,4]}', b'{"documents":[1,2,3,4]}'])
def test_reading_stops_after_max_documents(body: str | bytes) -> None:
    envelope = read_envelope(body, "documents", max_documents=2)
    assert envelope.count == 3
    assert envelope.documents is not None
    assert len(envelope.documents) == 2


@pytest.mark.parametrize(
    "body",
    [
        '{"documents":[1],"documents":5}',
        '{"documents":[1,2,3,4],"documents":[1]}',
        '{"documents":5,"documents":[1]}',
        '{"documents":[],"next_token":"\\u0000"}',
        '{"documents":[{"id":"é","\\ud83d\\ude00":"\\\\u0000"}],"next_token":"é"}',
        # Lookalikes of big numbers inside strings: read fast, and the same.
        '{"documents":[{"id":"3a5f-e500","c":"' + "1" * 400 + '","n":1e99}]}',
        '{"documents":[{"n":' + "9" * 200 + "}]}",
    ],
)
def test_bytes_and_text_read_the_same(body: str) -> None:
    assert outcome(body.encode(), 2) == outcome(body, 2)


def outcome(body: str | bytes, max_documents: int) -> str:
    """What reading `body` gives: the envelope, or the error, as text."""
    try:
        return repr(read_envelope(body, "documents", max_documents=max_documents))
    except MalformedJson as exc:
        return f"MalformedJson: {exc}"


def test_a_missing_or_non_array_member_has_no_documents() -> None:
    assert read_envelope('{"data_type":"x"}', "documents", max_documents=1).documents is None
    envelope = read_envelope('{"documents":{}}', "documents", max_documents=1)
    assert (envelope.documents, envelope.members) == (None, {"documents": {}})


def test_document_text_forwards_what_was_received() -> None:
    received = RawJsonObject.from_received(read_document('{"n": 1e309, "s": "\\ud83d"}'))
    assert document_text(received) == '{"n": 1e309, "s": "\\ud83d"}'
    assert document_text({"s": "\ud83d", "f": float("nan")}) == '{"s":"\\ud83d","f":NaN}'
    assert printable("a\x00b\ud800") == "a\\u0000b\\ud800"


_characters = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_safe = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_characters),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(_characters, max_size=5), inner, max_size=5)
    ),
    max_leaves=30,
)


_hostile = st.sampled_from([
    '{"s":"\\ud83d"}', '{"s":"\\u0000"}', '{"n":1e309}', '{"n":NaN}', "-Infinity",
    '{"n":' + "1" * 309 + "}", "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    '{"a":1,"a":2.0}', "1E400", '"\\\\u0000"',
])  # fmt: skip


@given(
    texts=st.lists(_safe.map(json.dumps) | _hostile, max_size=6),
    spacing=st.sampled_from(["", " ", "\n "]),
)
def test_the_fast_path_reads_what_the_reader_reads(texts: list[str], spacing: str) -> None:
    body = "{" + spacing + '"documents":[' + f",{spacing}".join(texts) + '],"x":"]"}'
    assert outcome(body.encode(), 100) == outcome(body, 100)


@given(values=st.lists(_safe, max_size=6), ensure_ascii=st.booleans())
def test_any_json_round_trips_with_its_exact_text(values: list[Any], ensure_ascii: bool) -> None:
    texts = [json.dumps(value, ensure_ascii=ensure_ascii) for value in values]
    body = '{"documents":[' + ", ".join(texts) + '],"x":"]"}'
    assert docs(body) == [(text, json.loads(text), None) for text in texts]
