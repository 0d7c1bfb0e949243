"""HS256 access tokens: issued by the API's `/auth/login`, verified by the API and by the
API Gateway Lambda authorizer (the same code, so the two can never disagree).

The algorithm is pinned: a token signed with anything but HS256 (including `alg: none`) is
rejected, and `exp`, `iat` and `sub` are required.

Key id: tokens carry `kid`, derived from the API key they were issued for (an HMAC under the
signing secret, so the key cannot be recovered from it). A verifier that is given the current
key id (`JWT_REQUIRE_CURRENT_API_KEY`) refuses tokens issued for an earlier `API_KEY`, so
rotating the API key then logs everyone out; changing `JWT_SECRET` always does.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
ISSUER = "myhealth"
SUBJECT = "owner"  # single-user product: the ring's owner
LEEWAY_SECONDS = 10


class InvalidToken(Exception):
    """The token is missing, malformed, expired or wrongly signed (message says which)."""


@dataclass(frozen=True)
class Claims:
    subject: str
    issued_at: int
    expires_at: int


def key_id(secret: str, api_key: str) -> str:
    """The `kid` of tokens issued for `api_key`: 16 hex digits of HMAC-SHA256(secret, key)."""
    return hmac.new(secret.encode(), api_key.encode(), hashlib.sha256).hexdigest()[:16]


def issue(
    secret: str, ttl_seconds: int, *, now: float | None = None, kid: str | None = None
) -> str:
    issued = int(now if now is not None else time.time())
    payload = {"sub": SUBJECT, "iss": ISSUER, "iat": issued, "exp": issued + ttl_seconds}
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload, secret, algorithm=ALGORITHM, headers=headers)


def verify(secret: str, token: str, *, kid: str | None = None) -> Claims:
    """The token's claims; with `kid`, the token must also carry that key id."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("token signature is invalid") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidToken("token algorithm is not allowed") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"token is invalid: {exc}") from None
    if kid is not None:
        presented = jwt.get_unverified_header(token).get("kid")  # the signature was checked
        if not isinstance(presented, str) or not hmac.compare_digest(presented, kid):
            raise InvalidToken("token was issued for a previous API_KEY; log in again")
    return Claims(subject=str(payload["sub"]), issued_at=payload["iat"], expires_at=payload["exp"])


def api_key_matches(expected: str, presented: str) -> bool:
    """Constant-time comparison of API keys."""
    return hmac.compare_digest(expected.encode(), presented.encode())
