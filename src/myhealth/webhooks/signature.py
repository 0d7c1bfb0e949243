"""Oura's webhook signature: upper-case hex HMAC-SHA256, keyed with the application's client
secret, over the `x-oura-timestamp` header followed by the raw request body
(docs/oura-api.md#webhooks)."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `x-oura-signature` Oura sends with `body` at `timestamp` (unix seconds, as text)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    return mac.hexdigest().upper()


def valid(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether `signature` is right, compared in constant time (case-insensitively: the hex
    digits are the secret, not their case)."""
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), signature.strip().upper().encode())


def constant_time_equal(given: str, expected: str) -> bool:
    """`given == expected` in time that does not depend on where they differ."""
    return hmac.compare_digest(given.encode(), expected.encode())
