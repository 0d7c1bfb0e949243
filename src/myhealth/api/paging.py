"""Opaque keyset cursors for the paged routes (`/api/v1/data/{type}`, `/api/v1/heart_rate`).

A cursor is base64url JSON holding the request's parameters as the client sent them, the range
they resolved to on the first page, and the key of the last row served. Pages after the first
read the range from the cursor, so a default range ("the last 24 h") stays the same while a
client pages through it, and the next page starts strictly after the key (`WHERE key > last
ORDER BY key`), never at an OFFSET: rows are served once each even under concurrent writes
before the key. A cursor whose parameters differ from the request's, or that cannot be read,
is rejected with `InvalidCursor` (422). Cursors are not secret or signed: a client can only
move its own position through data it may read anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

VERSION = 1


class InvalidCursor(ValueError):
    """The cursor is malformed or belongs to other parameters; `str()` says which."""


@dataclass(frozen=True)
class Cursor:
    """`params`: the request's parameters as sent (None when omitted); `scope`: the range they
    resolved to; `after`: the key of the last row served."""

    params: dict[str, str | None]
    scope: list[str]
    after: list[str]

    def encode(self) -> str:
        payload = {"v": VERSION, "p": self.params, "s": self.scope, "a": self.after}
        text = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _strings(value: Any, length: int, what: str) -> list[str]:
    if (
        not isinstance(value, list)
        or len(value) != length
        or not all(isinstance(item, str) for item in value)
    ):
        raise InvalidCursor(f"malformed cursor ({what})")
    return value


def decode(token: str, params: dict[str, str | None], scope_size: int, key_size: int) -> Cursor:
    """The cursor in `token`, checked against this request's `params`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("malformed cursor (not a cursor this API issued)") from None
    if not isinstance(payload, dict) or payload.get("v") != VERSION:
        raise InvalidCursor("malformed cursor (unknown version)")
    sent = payload.get("p")
    if not isinstance(sent, dict):
        raise InvalidCursor("malformed cursor (parameters)")
    if sent != params:
        raise InvalidCursor(
            "cursor belongs to other parameters; send the same parameters as the first page"
        )
    scope = _strings(payload.get("s"), scope_size, "range")
    after = _strings(payload.get("a"), key_size, "position")
    return Cursor(params=params, scope=scope, after=after)
