"""Long-lived API tokens: their format, and the hash the database keeps instead of them.

A token is `mhp_` followed by 43 base64url characters (256 random bits). The prefix lets the
API tell one from a login JWT (which starts with `eyJ`) without trying both, and lets secret
scanners recognise a leaked one. Only SHA-256 of the whole token is stored: with 256 random
bits there is nothing to guess, so a salt or a slow password hash would add nothing but cost
to every request (docs/api.md#long-lived-tokens).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

PREFIX = "mhp_"
SECRET_BYTES = 32
_FORMAT = re.compile(r"mhp_[A-Za-z0-9_-]{43}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # as the table's CHECK

DEFAULT_TTL_DAYS = 365
MAX_TTL_DAYS = 1825  # five years: long enough for a home-automation box, never "forever"


def generate() -> str:
    """A new token (print it once; store only `digest(token)`)."""
    secret = secrets.token_bytes(SECRET_BYTES)
    return PREFIX + base64.urlsafe_b64encode(secret).decode().rstrip("=")


def is_api_token(presented: str) -> bool:
    """Whether `presented` is meant as a long-lived token (the API then never tries JWT)."""
    return presented.startswith(PREFIX)


def well_formed(token: str) -> bool:
    return _FORMAT.fullmatch(token) is not None


def digest(token: str) -> bytes:
    """What the database stores and looks up: SHA-256 of the whole token."""
    return hashlib.sha256(token.encode()).digest()
