"""API Gateway (HTTP API) Lambda authorizer: lets a request through only with a valid access token.

It verifies tokens with `myhealth.security.tokens.verify`, the code the API service itself uses,
so the gateway and the service can never disagree about what a valid token is. A long-lived
token (`mhp_…`, from `myhealth token create`) is checked for its form only: revocation and
expiry live in the database, which the API consults on every request.

Response format: the HTTP API "simple response" (payload format 2.0, `enable_simple_responses`):
`{"isAuthorized": true|false, "context": {...}}`. API Gateway answers 403 for a denial and 401
when the `Authorization` header is missing altogether (the identity source is absent).

The signing key comes from the `JWT_SECRET` environment variable (tests, local runs) or, in AWS,
from the Secrets Manager secret named by `JWT_SECRET_ARN` (its `SecretString` is the key itself).
The key is cached for `JWT_SECRET_CACHE_SECONDS` (default 300) so a warm Lambda does not call
Secrets Manager on every request, yet picks up a rotated key within minutes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from myhealth.security import api_tokens, tokens

SecretFetcher = Callable[[str], str]

DEFAULT_CACHE_SECONDS = 300.0
_log = logging.getLogger(__name__)
_BEARER_PREFIX = "bearer "


def fetch_from_secrets_manager(secret_id: str) -> str:
    """Read a secret's `SecretString` with boto3, which the Lambda Python runtime provides."""
    import boto3  # type: ignore[import-not-found,unused-ignore]  # only in the Lambda runtime

    client = boto3.client("secretsmanager")
    value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    return str(value)


class SigningKeySource:
    """The JWT signing key: from the environment, or from Secrets Manager with a TTL cache."""

    def __init__(
        self,
        environ: Mapping[str, str],
        fetch: SecretFetcher = fetch_from_secrets_manager,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._static = environ.get("JWT_SECRET") or None
        self._secret_id = environ.get("JWT_SECRET_ARN") or None
        if self._static is None and self._secret_id is None:
            raise RuntimeError("set JWT_SECRET_ARN (or JWT_SECRET) for the authorizer")
        self._ttl = float(environ.get("JWT_SECRET_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))
        self._fetch = fetch
        self._clock = clock
        self._cached: str | None = None
        self._fetched_at = 0.0

    def get(self) -> str:
        if self._static is not None:
            return self._static
        assert self._secret_id is not None
        now = self._clock()
        if self._cached is None or now - self._fetched_at >= self._ttl:
            self._cached = self._fetch(self._secret_id)
            self._fetched_at = now
        return self._cached


def bearer_token(event: Mapping[str, Any]) -> str | None:
    """The token from `Authorization: Bearer <token>` (HTTP API lower-cases header names)."""
    headers = event.get("headers") or {}
    value = headers.get("authorization")
    if value is None:
        sources = event.get("identitySource") or []
        value = sources[0] if sources else None
    if not isinstance(value, str) or not value.lower().startswith(_BEARER_PREFIX):
        return None
    token = value[len(_BEARER_PREFIX) :].strip()
    return token or None


def authorize(event: Mapping[str, Any], signing_key: str) -> dict[str, Any]:
    """The simple-response decision for one request."""
    token = bearer_token(event)
    if token is None:
        _log.info("denied: no bearer token")
        return {"isAuthorized": False}
    if api_tokens.is_api_token(token):
        return _authorize_api_token(token)
    try:
        claims = tokens.verify(signing_key, token)
    except tokens.InvalidToken as exc:
        # The reason only ("token expired", ...); never the token itself.
        _log.info("denied: %s", exc)
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": {"sub": claims.subject}}


def _authorize_api_token(token: str) -> dict[str, Any]:
    """A long-lived token passes the gateway on its format alone; the API decides.

    The authorizer has no database, so it cannot know whether the token was revoked or has
    expired; the API looks each one up on every request and refuses a revoked, expired or
    non-GET use at once (docs/api.md#long-lived-tokens). The decision here deliberately ignores
    the method and path: API Gateway caches it per `Authorization` header, so a denial of one
    POST would otherwise also refuse that token's next GET for the cache's lifetime.
    """
    if not api_tokens.well_formed(token):
        _log.info("denied: malformed long-lived token")
        return {"isAuthorized": False}
    return {"isAuthorized": True, "context": {"sub": "api-token"}}


_key_source: SigningKeySource | None = None


def handler(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: `myhealth.security.lambda_authorizer.handler`."""
    global _key_source
    if _key_source is None:
        _key_source = SigningKeySource(os.environ)
    return authorize(event, _key_source.get())
