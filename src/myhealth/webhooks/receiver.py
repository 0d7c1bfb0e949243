"""`GET`/`POST /webhooks/oura` on the public API: Oura's verification call and its events
(docs/webhooks.md#receiver).

No JWT here: the signature is the authentication. A `POST` is accepted only when, in this
order, it is within its own rate limit, its body is within `WEBHOOK_MAX_BODY_BYTES`, it
carries `x-oura-timestamp` and `x-oura-signature`, the timestamp is within the replay window,
the signature over the raw bytes is right (constant-time), the body is a well-formed event,
its `user_id` is the owner's `personal_info.id`, and the (timestamp, signature) pair was never
recorded before. Then the event is written to `webhook_events` (the processor's worker fetches
the document) and the answer is 202 — no call to Oura on this path, so it stays fast.

Every answer counts once in `myhealth_webhook_requests_total{outcome}`, `outcome` one of
`Outcome`'s values.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter
from psycopg_pool import AsyncConnectionPool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from myhealth.api.guards import RateLimiter
from myhealth.platform.config import ApiSettings
from myhealth.platform.logging import get_logger
from myhealth.webhooks import signature
from myhealth.webhooks.catalog import WEBHOOK_DATA_TYPES, EventType

PATH = "/webhooks/oura"
OWNER_CACHE_SECONDS = 60.0

log = get_logger("webhooks.receiver")


class Outcome(StrEnum):
    """What the receiver made of one request (the metric's `outcome` label; stable)."""

    ACCEPTED = "accepted"
    VERIFIED = "verified"
    VERIFICATION_REFUSED = "verification_refused"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    MISSING_HEADERS = "missing_headers"
    STALE_TIMESTAMP = "stale_timestamp"
    BAD_SIGNATURE = "bad_signature"
    MALFORMED = "malformed"
    INVALID_EVENT = "invalid_event"
    WRONG_USER = "wrong_user"
    REPLAYED = "replayed"
    UNAVAILABLE = "unavailable"


STATUS: dict[Outcome, int] = {
    Outcome.ACCEPTED: 202,
    Outcome.VERIFIED: 200,
    Outcome.VERIFICATION_REFUSED: 401,
    Outcome.RATE_LIMITED: 429,
    Outcome.TOO_LARGE: 413,
    Outcome.MISSING_HEADERS: 401,
    Outcome.STALE_TIMESTAMP: 401,
    Outcome.BAD_SIGNATURE: 401,
    Outcome.MALFORMED: 400,
    Outcome.INVALID_EVENT: 422,
    Outcome.WRONG_USER: 403,
    Outcome.REPLAYED: 409,
    Outcome.UNAVAILABLE: 503,
}


class WebhookEvent(BaseModel):
    """One event as Oura posts it: ids only, never the document."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: EventType
    data_type: str
    object_id: Annotated[str, Field(min_length=1, max_length=256)]
    event_time: AwareDatetime
    user_id: Annotated[str, Field(min_length=1, max_length=256)]

    @field_validator("data_type")
    @classmethod
    def _subscribable(cls, value: str) -> str:
        if value not in WEBHOOK_DATA_TYPES:
            raise ValueError(f"unknown webhook data_type {value!r}")
        return value


class OwnerId:
    """The owner's `personal_info.id` (what `user_id` must be), read at most once a minute."""

    def __init__(self, pool: AsyncConnectionPool[Any], clock: Callable[[], float]) -> None:
        self._pool = pool
        self._clock = clock
        self._value: str | None = None
        self._read_at = 0.0

    async def get(self) -> str | None:
        now = self._clock()
        if self._value is None or now - self._read_at > OWNER_CACHE_SECONDS:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(
                    "SELECT id FROM personal_info ORDER BY updated_at DESC, id LIMIT 1"
                )
                row = await cursor.fetchone()
            self._value = str(row[0]) if row else None
            self._read_at = now
        return self._value


class Receiver:
    """The checks and the recording, without FastAPI (the router below is thin)."""

    def __init__(
        self,
        settings: ApiSettings,
        pool: AsyncConnectionPool[Any],
        registry: CollectorRegistry,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        token, secret = settings.OURA_WEBHOOK_VERIFICATION_TOKEN, settings.OURA_CLIENT_SECRET
        if token is None or secret is None:
            raise ValueError(
                "the receiver needs OURA_WEBHOOK_VERIFICATION_TOKEN and OURA_CLIENT_SECRET"
            )
        self._verification_token = token.get_secret_value()
        self._secret = secret.get_secret_value()
        self._max_bytes = settings.WEBHOOK_MAX_BODY_BYTES
        self._window = settings.WEBHOOK_REPLAY_WINDOW_SECONDS
        self._limiter = RateLimiter(settings.WEBHOOK_RATE_LIMIT_PER_MINUTE)
        self._pool = pool
        self._clock = clock
        self._owner = OwnerId(pool, time.monotonic)
        self.requests = Counter(
            "myhealth_webhook_requests_total",
            "Requests to /webhooks/oura, by outcome (accepted, bad_signature, replayed, ...).",
            ["outcome"],
            registry=registry,
        )
        for outcome in Outcome:
            self.requests.labels(outcome.value)

    def answer(self, outcome: Outcome, detail: str, **extra: str) -> Response:
        self.requests.labels(outcome.value).inc()
        status = STATUS[outcome]
        if status >= 400:
            log.warning("webhook refused", outcome=outcome.value, status=status)
        body: dict[str, Any] = {"detail": detail, "outcome": outcome.value}
        return JSONResponse(body, status_code=status, headers=extra or None)

    def verify(self, verification_token: str | None, challenge: str | None) -> Response:
        """Oura's verification call: echo the challenge only for the right token."""
        token_ok = verification_token is not None and signature.constant_time_equal(
            verification_token, self._verification_token
        )
        if not token_ok or not challenge:
            return self.answer(Outcome.VERIFICATION_REFUSED, "verification token refused")
        self.requests.labels(Outcome.VERIFIED.value).inc()
        return JSONResponse({"challenge": challenge})

    async def receive(self, request: Request) -> Response:
        wait = self._limiter.acquire("oura")
        if wait > 0:
            return self.answer(
                Outcome.RATE_LIMITED, "too many webhook requests", **{"Retry-After": f"{wait:.0f}"}
            )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            return self.answer(Outcome.TOO_LARGE, f"body exceeds {self._max_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._max_bytes:
                return self.answer(Outcome.TOO_LARGE, f"body exceeds {self._max_bytes} bytes")
        timestamp = request.headers.get("x-oura-timestamp", "").strip()
        sent_signature = request.headers.get("x-oura-signature", "").strip()
        if not timestamp or not sent_signature:
            return self.answer(
                Outcome.MISSING_HEADERS, "x-oura-timestamp and x-oura-signature are required"
            )
        if not timestamp.isdigit() or len(timestamp) > 12:
            return self.answer(Outcome.STALE_TIMESTAMP, "x-oura-timestamp is not unix seconds")
        if abs(self._clock() - int(timestamp)) > self._window:
            return self.answer(Outcome.STALE_TIMESTAMP, "x-oura-timestamp is outside the window")
        if not signature.valid(self._secret, timestamp, bytes(body), sent_signature):
            return self.answer(Outcome.BAD_SIGNATURE, "signature does not match")
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self.answer(Outcome.MALFORMED, "body is not JSON")
        try:
            event = WebhookEvent.model_validate(parsed)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            return self.answer(Outcome.INVALID_EVENT, problems)
        try:
            owner = await self._owner.get()
            if owner is None or not signature.constant_time_equal(event.user_id, owner):
                return self.answer(Outcome.WRONG_USER, "user_id is not this deployment's owner")
            recorded = await self._record(event, int(timestamp), sent_signature.upper())
        except (psycopg.Error, OSError) as exc:
            log.warning("webhook not recorded", error=type(exc).__name__)
            return self.answer(Outcome.UNAVAILABLE, "database unavailable")
        if not recorded:
            return self.answer(Outcome.REPLAYED, "this timestamp and signature were seen before")
        return self.answer(Outcome.ACCEPTED, "recorded")

    async def _record(self, event: WebhookEvent, timestamp: int, sent_signature: str) -> bool:
        """Append the event; False when its (timestamp, signature) pair is already there."""
        async with self._pool.connection() as conn, conn.transaction():
            # The reader role's sessions default to read-only; this one insert is the
            # exception it is granted (storage/reader_access.py).
            await conn.execute("SET TRANSACTION READ WRITE")
            cursor = await conn.execute(
                "INSERT INTO webhook_events (signature_timestamp, signature, event_type,"
                " data_type, object_id, event_time, user_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    timestamp,
                    sent_signature,
                    event.event_type,
                    event.data_type,
                    event.object_id,
                    event.event_time,
                    event.user_id,
                ),
            )
            return bool(cursor.rowcount == 1)


def webhook_router(receiver: Receiver) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    @router.get(PATH, summary="Oura's verification call", include_in_schema=True)
    async def verification(
        verification_token: Annotated[str | None, Query()] = None,
        challenge: Annotated[str | None, Query(max_length=512)] = None,
    ) -> Response:
        return receiver.verify(verification_token, challenge)

    @router.post(PATH, summary="Oura's webhook events (signature-checked)", status_code=202)
    async def event(request: Request) -> Response:
        return await receiver.receive(request)

    return router
