"""Opaque `next_token` values: a cursor plus a digest of the query, so a token replayed with
different parameters is refused as Oura refuses it (docs/oura-api.md#pagination)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from collections.abc import Mapping


class PageTokens:
    """Encodes and checks the sandbox's `next_token`s with a per-app secret."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(16)

    def _digest(self, route: str, params: Mapping[str, str]) -> str:
        canonical = "&".join(
            f"{key}={params[key]}" for key in sorted(params) if key != "next_token"
        )
        raw = self._secret + f"{route}?{canonical}".encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    def encode_token(self, route: str, params: Mapping[str, str], cursor: dict[str, int]) -> str:
        payload = {**cursor, "q": self._digest(route, params)}
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")

    def decode_token(
        self, route: str, params: Mapping[str, str], token: str
    ) -> dict[str, int] | None:
        """The cursor in `token`, or None when it is not ours or was made for other params."""
        try:
            padded = token + "=" * (-len(token) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (ValueError, binascii.Error):
            return None
        if not isinstance(payload, dict) or payload.pop("q", None) != self._digest(route, params):
            return None
        if not all(isinstance(v, int) for v in payload.values()):
            return None
        return payload
