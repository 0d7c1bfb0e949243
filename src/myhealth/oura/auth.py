"""Bearer tokens for the Oura API: a static key, or OAuth2 tokens kept in PostgreSQL.

Oura's refresh tokens are single-use and rotate: every refresh returns a new pair and burns
the old refresh token. So a refresh (1) locks the `oauth_tokens` row (`SELECT ... FOR UPDATE`),
(2) re-reads it: when another process already rotated, its fresh access token is used and no
refresh happens, (3) otherwise calls the token endpoint while holding the lock and writes the
new pair in the same transaction, which commits *before* the new access token is used. Two
collector runs can therefore never spend the same refresh token.

Tokens never appear in logs, reprs or error messages.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import psycopg

from myhealth.oura.errors import OuraError, OuraRequestError, ReauthenticationRequired
from myhealth.platform.config import OuraSettings
from myhealth.platform.errors import ErrorCode, UserFacingError
from myhealth.platform.logging import get_logger
from myhealth.platform.retry import DEFAULT_RETRY, RetryPolicy, TransientFailure
from myhealth.storage.db import CONNECT_TIMEOUT_SECONDS, DatabaseUnavailable

log = get_logger("oura.auth")

PROVIDER = "oura"
# An access token this close to its expiry is refreshed before use rather than after a 401.
EXPIRY_MARGIN = dt.timedelta(minutes=2)
# Longer than a refresh can take (DEFAULT_RETRY's 5 attempts x the 30 s request timeout, plus
# backoff), so waiting for another run's refresh is the norm.
REFRESH_LOCK_WAIT_SECONDS = 180

LOGIN_HINT = "run `myhealth auth login` to connect the Oura account again (docs/oura-setup.md)"


class TokenProvider(Protocol):
    async def access_token(self) -> str:
        """A bearer token to send now."""
        ...

    async def refresh(self, rejected: str) -> str:
        """Called once after a 401 with the token Oura rejected; returns a new one."""
        ...


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: dt.datetime | None
    scope: str | None

    def usable(self, now: dt.datetime) -> bool:
        return self.expires_at is None or self.expires_at - EXPIRY_MARGIN > now


class TokenRequestRefused(OuraError):
    """The token endpoint answered with an OAuth2 error (`invalid_grant`, `invalid_client`...)."""

    code = ErrorCode.TOKEN_REQUEST_REFUSED

    def __init__(self, error: str, description: str | None, status: int) -> None:
        message = f"Oura's token endpoint refused the request ({status} {error})"
        if description:
            message += f": {description}"
        super().__init__(message)
        self.error = error
        self.status = status


def parse_token_response(body: Any, now: dt.datetime) -> TokenSet:
    if not isinstance(body, Mapping) or not isinstance(body.get("access_token"), str):
        raise OuraRequestError("Oura's token endpoint answered without an access_token")
    expires_in = body.get("expires_in")
    expires_at = (
        now + dt.timedelta(seconds=float(expires_in))
        if isinstance(expires_in, int | float) and not isinstance(expires_in, bool)
        else None
    )
    refresh_token = body.get("refresh_token")
    scope = body.get("scope")
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        expires_at=expires_at,
        scope=scope if isinstance(scope, str) else None,
    )


class _TokenEndpointFailure(TransientFailure):
    """The token endpoint timed out, was unreachable or answered 5xx: worth a retry."""

    def __init__(self, reason: str, message: str, status: int | None = None) -> None:
        super().__init__("oura_token", reason, message)
        self.status = status


async def request_tokens(
    token_url: str,
    form: Mapping[str, str],
    *,
    request_timeout: float = 30.0,
    transport: httpx.AsyncBaseTransport | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> TokenSet:
    """POST a form to the token endpoint; 5xx, timeouts and connection failures are retried
    under the project's retry policy.

    Raises TokenRequestRefused for an OAuth2 error answer (4xx), OuraRequestError when the
    endpoint stays unreachable or failing."""
    async with httpx.AsyncClient(timeout=request_timeout, transport=transport) as http:
        try:
            async for attempt in retry.retrying():
                with attempt:
                    return await _post_form(http, token_url, form)
        except _TokenEndpointFailure as failure:
            raise OuraRequestError(str(failure), status=failure.status) from None
    raise AssertionError("unreachable")  # pragma: no cover - the policy makes >= 1 attempt


async def _post_form(http: httpx.AsyncClient, token_url: str, form: Mapping[str, str]) -> TokenSet:
    try:
        response = await http.post(
            token_url, data=dict(form), headers={"Accept": "application/json"}
        )
    except httpx.TimeoutException:
        raise _TokenEndpointFailure(
            "timeout", f"Oura's token endpoint {token_url} timed out"
        ) from None
    except httpx.TransportError as exc:
        raise _TokenEndpointFailure(
            "server_error", f"cannot reach Oura's token endpoint {token_url}: {type(exc).__name__}"
        ) from None
    if response.status_code >= 500:
        raise _TokenEndpointFailure(
            "server_error",
            f"Oura's token endpoint failed with {response.status_code}",
            response.status_code,
        )
    now = dt.datetime.now(dt.UTC)
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200:
        return parse_token_response(body, now)
    if 400 <= response.status_code < 500:
        error, description = _oauth_error(body)
        raise TokenRequestRefused(error, description, response.status_code)
    raise OuraRequestError(
        f"Oura's token endpoint answered {response.status_code}", status=response.status_code
    )


def _oauth_error(body: Any) -> tuple[str, str | None]:
    if isinstance(body, Mapping):
        error = body.get("error")
        description = body.get("error_description")
        if isinstance(error, str):
            return error, description if isinstance(description, str) else None
        detail = body.get("detail")
        if isinstance(detail, str):
            return "error", detail
    return "error", None


def explain_refresh_refusal(exc: TokenRequestRefused) -> OuraError:
    if exc.error == "invalid_client":
        return OuraError(
            "Oura rejected the application credentials (invalid_client): "
            "check OURA_CLIENT_ID and OURA_CLIENT_SECRET"
        )
    return ReauthenticationRequired(
        f"Oura refused the stored refresh token ({exc.error}): it was already used, revoked "
        f"or has expired; {LOGIN_HINT}"
    )


class StaticToken:
    """OURA_API_KEY: a fixed bearer token (legacy personal access token); no refresh."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken([redacted])"

    async def access_token(self) -> str:
        return self._token

    async def refresh(self, rejected: str) -> str:
        raise ReauthenticationRequired(
            "Oura rejected OURA_API_KEY (401): the token is invalid, expired or revoked "
            "(personal access tokens are deprecated); connect with OAuth2 instead: unset "
            "OURA_API_KEY and run `myhealth auth login` (docs/oura-setup.md)"
        )


_SELECT = (
    "SELECT access_token, refresh_token, expires_at, scope FROM oauth_tokens WHERE provider = %s"
)


def _row_tokens(row: tuple[Any, ...] | None) -> TokenSet | None:
    if row is None or row[0] is None:
        return None
    return TokenSet(access_token=row[0], refresh_token=row[1], expires_at=row[2], scope=row[3])


class OAuthTokens:
    """OAuth2 tokens stored in `oauth_tokens`, refreshed with rotation under a row lock."""

    def __init__(
        self,
        database_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        bootstrap_refresh_token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        lock_wait: float = REFRESH_LOCK_WAIT_SECONDS,
    ) -> None:
        self._database_url = database_url
        self._lock_wait = lock_wait
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._bootstrap = bootstrap_refresh_token
        self._timeout = timeout
        self._transport = transport
        self._cached: TokenSet | None = None
        self._lock = asyncio.Lock()  # one refresh at a time inside this process
        self.refresh_calls = 0  # token-endpoint refreshes made by this instance

    def __repr__(self) -> str:
        return f"OAuthTokens(token_url={self._token_url!r})"

    async def access_token(self) -> str:
        now = dt.datetime.now(dt.UTC)
        if self._cached is not None and self._cached.usable(now):
            return self._cached.access_token
        async with self._lock:
            if self._cached is None or not self._cached.usable(now):
                stored = await self._read()
                if stored is not None and stored.usable(now):
                    self._cached = stored
                else:
                    self._cached = await self._rotate(rejected=None)
            return self._cached.access_token

    async def refresh(self, rejected: str) -> str:
        async with self._lock:
            if self._cached is not None and self._cached.access_token != rejected:
                return self._cached.access_token  # another task here already refreshed
            self._cached = await self._rotate(rejected=rejected)
            return self._cached.access_token

    async def _connect(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        try:
            return await psycopg.AsyncConnection.connect(
                self._database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(self._database_url, exc) from None

    async def _read(self) -> TokenSet | None:
        async with await self._connect() as conn:
            cursor = await conn.execute(_SELECT, (PROVIDER,))
            return _row_tokens(await cursor.fetchone())

    async def _rotate(self, rejected: str | None) -> TokenSet:
        """Under the row lock: reuse a token another process stored, or refresh and store."""
        async with await self._connect() as conn, conn.transaction():
            # Bounded wait for a refresh running elsewhere (it holds the row lock).
            await conn.execute(f"SET LOCAL lock_timeout = '{int(self._lock_wait * 1000)}ms'")
            try:
                if self._bootstrap:
                    # OURA_REFRESH_TOKEN only seeds an empty store: once rotated it is stale.
                    await conn.execute(
                        "INSERT INTO oauth_tokens (provider, refresh_token) VALUES (%s, %s) "
                        "ON CONFLICT (provider) DO UPDATE "
                        "SET refresh_token = EXCLUDED.refresh_token "
                        "WHERE oauth_tokens.refresh_token IS NULL",
                        (PROVIDER, self._bootstrap),
                    )
                cursor = await conn.execute(_SELECT + " FOR UPDATE", (PROVIDER,))
            except psycopg.errors.LockNotAvailable:
                raise OuraError(
                    "another run has been refreshing the Oura token for over "
                    f"{self._lock_wait:g} s; try again later"
                ) from None
            row = await cursor.fetchone()
            if row is None:
                raise ReauthenticationRequired(
                    "no Oura tokens are stored yet: run `myhealth auth login` "
                    "(or set OURA_REFRESH_TOKEN); see docs/oura-setup.md"
                )
            stored = _row_tokens(row)
            now = dt.datetime.now(dt.UTC)
            if stored is not None and stored.access_token != rejected and stored.usable(now):
                log.info("oura_token_reused", reason="already rotated by another run")
                return stored
            refresh_token: str | None = row[1]
            if not refresh_token:
                raise ReauthenticationRequired(f"no Oura refresh token is stored; {LOGIN_HINT}")
            form = {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            }
            self.refresh_calls += 1
            try:
                fresh = await request_tokens(
                    self._token_url, form, request_timeout=self._timeout, transport=self._transport
                )
            except TokenRequestRefused as exc:
                raise explain_refresh_refusal(exc) from None
            await conn.execute(
                "UPDATE oauth_tokens SET access_token = %s, refresh_token = %s, "
                "expires_at = %s, scope = COALESCE(%s, scope), updated_at = now() "
                "WHERE provider = %s",
                (
                    fresh.access_token,
                    fresh.refresh_token or refresh_token,
                    fresh.expires_at,
                    fresh.scope,
                    PROVIDER,
                ),
            )
        # The transaction has committed: the new pair is durable before anyone uses it.
        log.info("oura_token_refreshed", expires_at=fresh.expires_at, scope=fresh.scope)
        return fresh


async def store_tokens(database_url: str, tokens: TokenSet) -> None:
    """Replace the stored pair (after `auth login`), in one statement."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(database_url, exc) from None
    async with conn:
        await conn.execute(
            "INSERT INTO oauth_tokens (provider, access_token, refresh_token, expires_at, scope) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (provider) DO UPDATE SET "
            "access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token, "
            "expires_at = EXCLUDED.expires_at, scope = EXCLUDED.scope, updated_at = now()",
            (PROVIDER, tokens.access_token, tokens.refresh_token, tokens.expires_at, tokens.scope),
        )
        await conn.commit()


def token_provider(
    settings: OuraSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> TokenProvider:
    """OURA_API_KEY -> a static token; otherwise OAuth2 tokens from the database."""
    if settings.OURA_API_KEY is not None:
        return StaticToken(settings.OURA_API_KEY.get_secret_value())
    if not settings.OURA_CLIENT_ID or settings.OURA_CLIENT_SECRET is None:
        raise UserFacingError(
            "Oura is not connected: set OURA_CLIENT_ID and OURA_CLIENT_SECRET and run "
            "`myhealth auth login` (or set OURA_REFRESH_TOKEN), or set OURA_API_KEY; "
            "see docs/oura-setup.md",
            exit_code=2,
        )
    bootstrap = settings.OURA_REFRESH_TOKEN
    return OAuthTokens(
        settings.database_url,
        str(settings.OURA_TOKEN_URL),
        settings.OURA_CLIENT_ID,
        settings.OURA_CLIENT_SECRET.get_secret_value(),
        bootstrap.get_secret_value() if bootstrap is not None else None,
        transport=transport,
    )
