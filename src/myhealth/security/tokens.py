"""HS256 access tokens: issued by the API's `/auth/login`, verified by the API and by the
API Gateway Lambda authorizer (the same code, so the two can never disagree).

The algorithm is pinned: a token signed with anything but HS256 (including `alg: none`) is
rejected, and `exp`, `iat` and `sub` are required.
"""

from __future__ import annotations

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


def issue(secret: str, ttl_seconds: int, *, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    payload = {"sub": SUBJECT, "iss": ISSUER, "iat": issued, "exp": issued + ttl_seconds}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> Claims:
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
    return Claims(subject=str(payload["sub"]), issued_at=payload["iat"], expires_at=payload["exp"])


def api_key_matches(expected: str, presented: str) -> bool:
    """Constant-time comparison of API keys."""
    return hmac.compare_digest(expected.encode(), presented.encode())
