"""Reading a JSON envelope whose array member holds documents, one document at a time.

Both ends of the ingest path read the same shape: Oura's `{"data": [...], "next_token"}`
pages in the collector, the processor's `{"data_type", "documents": [...]}` batches. What a
single document carries must affect that document alone, so this reader:

- keeps each document's exact JSON text (`ReceivedDocument.text`), so the collector can
  forward it byte for byte and the quarantine can keep it verbatim;
- in a body over MAX_DOCUMENT_CHARACTERS, measures each document before decoding it
  (nesting depth, length) with a linear scan that keeps no per-value state, so a 5,000-deep
  or 3-million-element document costs a scan and a few bytes of memory, never a
  RecursionError or gigabytes of Python objects; a smaller body (the common case) is decoded
  first, at C speed, its memory bounded by its size, and measured where the decoder objects
  or the nesting may be too deep;
- decodes each document on its own, and turns what JSON or PostgreSQL cannot hold (a lone
  UTF-16 surrogate, a NUL, a NaN/Infinity literal, a number beyond a double such as `1e309`
  or a 5,000-digit integer) into a `Problem` with an explicit code on that document.

Only a body that is not JSON at all (bad syntax outside any document, invalid UTF-8, not an
object) raises `MalformedJson`: then there is no "rest of the batch" to save.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec

# Oura's deepest documents nest 4 levels; 64 is the product's published limit
# (docs/troubleshooting.md#quarantined-documents).
MAX_DEPTH = 64
# Oura's largest documents (a night's sleep period) are about 30 KB; the bound keeps one
# document's decoded size (and its jsonb) small whatever it holds, e.g. a 3-million-element array.
MAX_DOCUMENT_CHARACTERS = 1_000_000
# The largest magnitude a JSON number may have to be portable (RFC 8259 §6): a double.
_MAX_INTEGER_DIGITS = 308


class ProblemCode(StrEnum):
    """Why a document's content cannot be stored; stable, used in answers and the quarantine."""

    LONE_SURROGATE = "lone_surrogate"
    NUL_CHARACTER = "nul_character"
    NON_FINITE_NUMBER = "non_finite_number"
    NUMBER_OUT_OF_RANGE = "number_out_of_range"
    NESTING_TOO_DEEP = "nesting_too_deep"
    DOCUMENT_TOO_LARGE = "document_too_large"


@dataclass(frozen=True)
class Problem:
    code: ProblemCode
    message: str


class MalformedJson(ValueError):
    """The body is not JSON (or not the expected envelope) at all."""

    code = "malformed_json"


class _ContentError(Exception):
    """Raised from inside the decoder's hooks: carries the document's problem out."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class ReceivedDocument:
    """One document as it arrived: its exact JSON text, its decoded value when it could be
    decoded within the limits (also when `problem` is a NUL or a lone surrogate in one of its
    strings; None otherwise), and the problem that makes it unstorable, if any."""

    text: str
    value: Any
    problem: Problem | None = None


# A run without brackets: anything but brackets and quotes, and whole strings (escapes
# skipped as pairs). Possessive, so a long run keeps no backtracking state.
_RUN = re.compile(r'(?:[^\[\]{}"]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+', re.DOTALL)
_OPENERS = re.compile(r"[\[{]+")
_CLOSERS = re.compile(r"[\]}]+")
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|NaN|-?Infinity")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Where a NUL or a surrogate could come from: an escape, or (in a str body) the character.
_SUSPECT = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])|[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class _Shape:
    end: int
    problem: Problem | None


def _measure(text: str, start: int) -> _Shape:
    """Find where the JSON value at `start` ends, and whether it is within the limits.

    Linear in the text, and the Python loop runs once per run of brackets: everything else
    (scalars, whole strings, runs of `[[[[` or `]]]]`) is consumed by regular expressions at
    C speed. Brackets need not match here; for documents within the limits the decoder
    checks the syntax, and an over-limit document is rejected whatever its syntax.
    """
    first = text[start : start + 1]
    if first in ("[", "{"):
        end, deepest = _container_end(text, start)
    else:
        match = (_STRING if first == '"' else _SCALAR).match(text, start)
        if match is None or match.end() == start:
            raise MalformedJson(f"expected a JSON value at character {start}")
        end, deepest = match.end(), 0
    if deepest > MAX_DEPTH:
        problem = Problem(
            ProblemCode.NESTING_TOO_DEEP,
            f"nested {deepest} levels deep; at most {MAX_DEPTH} are accepted",
        )
        return _Shape(end, problem)
    if end - start > MAX_DOCUMENT_CHARACTERS:
        problem = Problem(
            ProblemCode.DOCUMENT_TOO_LARGE,
            f"is {end - start} characters long; at most {MAX_DOCUMENT_CHARACTERS} are accepted",
        )
        return _Shape(end, problem)
    return _Shape(end, None)


def _container_end(text: str, start: int) -> tuple[int, int]:
    depth = 0
    deepest = 0
    position = start
    length = len(text)
    while True:
        run = _RUN.match(text, position)
        assert run is not None  # the pattern matches the empty string
        position = run.end()
        if position >= length:
            break
        char = text[position]
        if char in "[{":
            opened = _OPENERS.match(text, position)
            assert opened is not None
            depth += opened.end() - position
            deepest = max(deepest, depth)
            position = opened.end()
        elif char in "]}":
            closed = _CLOSERS.match(text, position)
            assert closed is not None
            count = closed.end() - position
            if count >= depth:
                return position + depth, deepest
            depth -= count
            position = closed.end()
        else:  # a quote the run could not consume: a string that never ends
            raise MalformedJson(f"unterminated string at character {position}")
    raise MalformedJson(f"unterminated value starting at character {start}")


def _parse_constant(name: str) -> Any:
    raise _ContentError(
        Problem(ProblemCode.NON_FINITE_NUMBER, f"holds {name}, which is not a JSON number")
    )


def _parse_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _ContentError(
            Problem(
                ProblemCode.NON_FINITE_NUMBER,
                f"holds the number {literal[:40]}, beyond the range of a double",
            )
        )
    return value


def _parse_int(literal: str) -> int:
    digits = len(literal) - literal.startswith("-")
    if digits > _MAX_INTEGER_DIGITS:
        raise _ContentError(
            Problem(
                ProblemCode.NUMBER_OUT_OF_RANGE,
                f"holds a {digits}-digit integer, beyond the range of a double",
            )
        )
    return int(literal)


# Checks every number, in Python: used only where a number might not fit (below).
_DECODER = json.JSONDecoder(
    parse_float=_parse_float, parse_int=_parse_int, parse_constant=_parse_constant
)
# Numbers in C: only NaN/Infinity literals call back. Used when no number can overflow.
_FAST_DECODER = json.JSONDecoder(parse_constant=_parse_constant)
# What a number beyond a double needs: an exponent of 100 or more, or 309 digits in a row.
_LARGE_EXPONENT = re.compile(r"[eE]\+?0*[1-9]\d\d")
_DIGITS_AS_ZERO = str.maketrans("123456789", "000000000")
_LONG_DIGIT_RUN = "0" * (_MAX_INTEGER_DIGITS + 1)


def _maybe_huge(raw: str) -> bool:
    """Whether a number in `raw` might not fit a double. A quick look at the whole text
    first; when it finds something, a second look with the strings blanked out, since ids
    hold lookalikes (a UUID's `e500`, a 288-digit activity class string) that would
    otherwise send every such document through the slow, per-number decoder."""
    if not _looks_huge(raw):
        return False
    return _looks_huge(_STRING.sub('""', raw))


def _looks_huge(raw: str) -> bool:
    # Translating digits to one character makes "309 digits in a row" a substring search
    # (C speed; a regular expression would retry at every digit of a long run).
    if _LARGE_EXPONENT.search(raw):
        return True
    return len(raw) > _MAX_INTEGER_DIGITS and _LONG_DIGIT_RUN in raw.translate(_DIGITS_AS_ZERO)


def printable(value: str) -> str:
    """`value` with NUL and lone surrogates written as JSON escapes: safe for PostgreSQL text
    and for UTF-8 logs (used for ids of quarantined documents)."""
    if _SUSPECT.search(value) is None:
        return value
    return "".join(json.dumps(char)[1:-1] if _SUSPECT.match(char) else char for char in value)


def _string_problem(value: str) -> Problem | None:
    if "\x00" in value:
        return Problem(
            ProblemCode.NUL_CHARACTER,
            "contains a NUL character (\\u0000), which PostgreSQL cannot store",
        )
    if _SURROGATE.search(value):
        return Problem(
            ProblemCode.LONE_SURROGATE,
            "contains a lone UTF-16 surrogate, which is not a Unicode character",
        )
    return None


def _strings_problem(value: Any) -> Problem | None:
    """The first NUL or lone surrogate in any key or string of `value` (depth is bounded)."""
    if isinstance(value, str):
        return _string_problem(value)
    if isinstance(value, dict):
        for key, item in value.items():
            if (problem := _string_problem(key)) or (problem := _strings_problem(item)):
                return problem
    elif isinstance(value, list):
        for item in value:
            if problem := _strings_problem(item):
                return problem
    return None


def _decode(text: str, start: int) -> tuple[ReceivedDocument, int]:
    """The value at `start` (after whitespace) as a ReceivedDocument, and where it ends."""
    if len(text) <= MAX_DOCUMENT_CHARACTERS:
        return _decode_small(text, start)
    shape = _measure(text, start)
    raw = text[start : shape.end]
    if shape.problem is not None:
        return ReceivedDocument(raw, None, shape.problem), shape.end
    try:
        value = (_DECODER if _maybe_huge(raw) else _FAST_DECODER).decode(raw)
    except _ContentError as exc:
        return ReceivedDocument(raw, None, exc.problem), shape.end
    except ValueError as exc:  # JSONDecodeError: bad syntax inside the value
        raise MalformedJson(f"invalid JSON at character {start}: {exc}") from None
    return _checked(raw, value), shape.end


def _decode_small(text: str, start: int) -> tuple[ReceivedDocument, int]:
    """The fast path, for a text no document of which can exceed the size limit: decode
    first (in C), measure only when the decoder objects or the value may nest too deep. The
    decoder's own recursion limit stops it on very deep nesting; memory is bounded by the
    text's size."""
    try:
        try:
            value, end = _FAST_DECODER.raw_decode(text, start)
        except ValueError:  # perhaps an integer over Python's 4,300-digit limit: look closer
            value, end = _DECODER.raw_decode(text, start)
        if _maybe_huge(text[start:end]):
            value, end = _DECODER.raw_decode(text, start)
    except (_ContentError, RecursionError) as exc:
        shape = _measure(text, start)
        raw = text[start : shape.end]
        if shape.problem is None and isinstance(exc, _ContentError):
            return ReceivedDocument(raw, None, exc.problem), shape.end
        if shape.problem is None:  # the interpreter's limit is below MAX_DEPTH: say so
            raise
        return ReceivedDocument(raw, None, shape.problem), shape.end
    except ValueError as exc:  # JSONDecodeError: bad syntax
        raise MalformedJson(f"invalid JSON at character {start}: {exc}") from None
    raw = text[start:end]
    if raw.count("[") + raw.count("{") > MAX_DEPTH:  # deep nesting possible: measure
        shape = _measure(text, start)
        if shape.problem is not None:
            return ReceivedDocument(raw, None, shape.problem), end
    return _checked(raw, value), end


def _may_hold_nul_or_surrogate(raw: str) -> bool:
    # C-speed tests first: from UTF-8 bytes, a NUL or surrogate can only arrive as an escape.
    if "\\u" not in raw and "\x00" not in raw and raw.isascii():
        return False
    return _SUSPECT.search(raw) is not None


def _checked(raw: str, value: Any) -> ReceivedDocument:
    if _may_hold_nul_or_surrogate(raw) and (problem := _strings_problem(value)):
        return ReceivedDocument(raw, value, problem)
    return ReceivedDocument(raw, value)


def _skip_whitespace(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    assert match is not None
    return match.end()


def _expect(text: str, position: int, char: str) -> int:
    position = _skip_whitespace(text, position)
    if text[position : position + 1] != char:
        found = text[position : position + 1] or "the end"
        raise MalformedJson(f"expected {char!r} at character {position}, found {found!r}")
    return position + 1


def _as_text(body: bytes | str) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"body is not UTF-8: {exc}") from None


def read_document(body: bytes | str) -> ReceivedDocument:
    """A body that is one document (Oura's personal_info, a single-document route)."""
    text = _as_text(body)
    start = _skip_whitespace(text, 0)
    document, end = _decode(text, start)
    if _skip_whitespace(text, end) != len(text):
        raise MalformedJson(f"extra data after the document at character {end}")
    return document


@dataclass(frozen=True)
class Envelope:
    """A JSON object's members, with the documents of its array member kept apart."""

    members: dict[str, Any]
    documents: list[ReceivedDocument] | None  # None: the array member is absent (or not one)
    count: int  # documents in the array member, read or not (see `max_documents`)


def read_envelope(body: bytes | str, array_member: str, *, max_documents: int) -> Envelope:
    """Read a JSON object whose `array_member` is an array of documents.

    Other members are decoded whole and must be free of content problems (they are the
    envelope: a type name, a paging token). When the array holds more than `max_documents`,
    reading stops there and `count` says so (the caller refuses the body as too large).
    """
    if isinstance(body, bytes) and (fast := _fast_envelope(body, array_member, max_documents)):
        return fast
    return _read_envelope(_as_text(body), array_member, max_documents)


# The fast path (docs/performance.md#ingest): msgspec splits the body into its members and the
# array into its documents' exact texts (`Raw`) and decodes each document, all in C, where the
# reader above runs a Python loop per document and Python's json parses numbers one by one.
# It only takes bodies it can read exactly as the reader above would; anything unusual (a
# NaN literal, a lone surrogate, bad syntax, a repeated member name, too many documents) goes
# to the reader above, so answers, problems and error messages stay the same.
_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_DOCUMENTS = msgspec.json.Decoder(list[msgspec.Raw])
_VALUE = msgspec.json.Decoder()


def _fast_envelope(body: bytes, array_member: str, max_documents: int) -> Envelope | None:
    try:
        raw_members = _MEMBERS.decode(body)
        array = raw_members.get(array_member)
        if array is None or body.count(json.dumps(array_member).encode()) != 1:
            return None
        raw_documents = _DOCUMENTS.decode(array)
        if len(raw_documents) > max_documents:
            return None
        members: dict[str, Any] = {}
        for key, raw in raw_members.items():
            if key != array_member:
                member_text = bytes(raw).decode("utf-8")
                member, end = _decode(member_text, 0)
                if member.problem is not None or end != len(member_text):
                    return None
                members[key] = member.value
        documents = [_fast_document(bytes(raw)) for raw in raw_documents]
    except (msgspec.MsgspecError, ValueError, MalformedJson, RecursionError):
        return None
    return Envelope(members, documents, len(documents))


_DIGIT_BYTES_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_ZERO_RUN = _LONG_DIGIT_RUN.encode()
_STRING_BYTES = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)


def _may_hold_huge_integer(raw: bytes) -> bool:
    """Whether `raw` may hold an integer of more than 308 digits, which msgspec would decode
    where the reader above reports a problem (a float beyond a double is an error to msgspec:
    that document goes to the reader above anyway). Digits inside strings (an activity
    class or sleep phase string) do not count."""
    if len(raw) <= _MAX_INTEGER_DIGITS or _LONG_ZERO_RUN not in raw.translate(_DIGIT_BYTES_AS_ZERO):
        return False
    return _LONG_ZERO_RUN in _STRING_BYTES.sub(b'""', raw).translate(_DIGIT_BYTES_AS_ZERO)


def _fast_document(raw: bytes) -> ReceivedDocument:
    """One document of a body msgspec could read; whatever the fast checks cannot vouch for
    (size, nesting, numbers beyond a double) is read by `_decode`, as in the reader above."""
    text = raw.decode("utf-8")
    if (
        len(raw) > MAX_DOCUMENT_CHARACTERS
        or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH
        or _may_hold_huge_integer(raw)
    ):
        return _decode(text, 0)[0]
    try:
        value = _VALUE.decode(raw)
    except msgspec.MsgspecError:
        return _decode(text, 0)[0]
    # msgspec refuses lone surrogates and raw control characters (the body then goes to the
    # reader above), so the one problem left to look for is a NUL, which only `\u0000` spells.
    if b"\\u0000" in raw:
        return _checked(text, value)
    return ReceivedDocument(text, value)


def _read_envelope(text: str, array_member: str, max_documents: int) -> Envelope:
    members: dict[str, Any] = {}
    documents: list[ReceivedDocument] | None = None
    count = 0
    position = _expect(text, 0, "{")
    position = _skip_whitespace(text, position)
    if text[position : position + 1] == "}":
        position += 1
    else:
        while True:
            position = _skip_whitespace(text, position)
            if text[position : position + 1] != '"':
                raise MalformedJson(f"expected a member name at character {position}")
            name = _STRING.match(text, position)
            if name is None:
                raise MalformedJson(f"unterminated member name at character {position}")
            key = json.loads(name.group())
            position = name.end()
            position = _skip_whitespace(text, _expect(text, position, ":"))
            if key == array_member and text[position : position + 1] == "[":
                documents, count, position = _read_array(text, position + 1, max_documents)
                if count > max_documents:
                    return Envelope(members, documents, count)
                members.pop(key, None)
            else:
                member, position = _decode(text, position)
                if member.problem is not None:
                    raise MalformedJson(f"member {key!r}: {member.problem.message}")
                members[key] = member.value
                if key == array_member:
                    documents = None
            position = _skip_whitespace(text, position)
            separator = text[position : position + 1]
            position += 1
            if separator == "}":
                break
            if separator != ",":
                raise MalformedJson(f"expected ',' or '}}' at character {position - 1}")
    if _skip_whitespace(text, position) != len(text):
        raise MalformedJson(f"extra data after the object at character {position}")
    return Envelope(members, documents, count)


def _read_array(
    text: str, position: int, max_documents: int
) -> tuple[list[ReceivedDocument], int, int]:
    documents: list[ReceivedDocument] = []
    position = _skip_whitespace(text, position)
    if text[position : position + 1] == "]":
        return documents, 0, position + 1
    while True:
        if len(documents) == max_documents:
            return documents, max_documents + 1, position
        position = _skip_whitespace(text, position)
        document, position = _decode(text, position)
        documents.append(document)
        position = _skip_whitespace(text, position)
        separator = text[position : position + 1]
        position += 1
        if separator == "]":
            return documents, len(documents), position
        if separator != ",":
            raise MalformedJson(f"expected ',' or ']' at character {position - 1}")


class RawJsonObject(dict[str, Any]):
    """A document as the collector fetched it: its decoded members (empty when it is not an
    object or could not be decoded within the limits) plus the exact JSON text, which is what
    gets forwarded, so nothing is re-encoded on the way (a lone surrogate, `1e309` or a
    5,000-digit integer reaches the processor as Oura sent it, and is judged there)."""

    def __init__(self, text: str, value: Any = None, problem: Problem | None = None) -> None:
        super().__init__(value if isinstance(value, dict) else {})
        self.json_text = text
        self.problem = problem

    @classmethod
    def from_received(cls, document: ReceivedDocument) -> RawJsonObject:
        return cls(document.text, document.value, document.problem)


def document_text(document: Any) -> str:
    """The JSON text to send for `document`: its received text when it has one; otherwise
    it is encoded here, escaping what UTF-8 cannot carry (a lone surrogate becomes `\\udXXX`)
    and writing non-finite floats as NaN/Infinity, which the processor rejects per document."""
    if isinstance(document, RawJsonObject):
        return document.json_text
    return json.dumps(document, ensure_ascii=True, allow_nan=True, separators=(",", ":"))
