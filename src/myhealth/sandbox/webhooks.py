"""Oura's webhooks, as the sandbox plays them (docs/oura-api.md#webhooks):

  GET/POST        /v2/webhook/subscription             list (bare array) / create (201)
  GET/PUT/DELETE  /v2/webhook/subscription/{id}        one; 403 when the id does not exist
  PUT             /v2/webhook/subscription/renew/{id}  a new expiration_time
  POST            /_sandbox/webhooks/events            make documents change and tell the
                                                       subscribers (create/update/delete)
  GET             /_sandbox/webhooks/deliveries        every delivery attempt, for tests

The subscription routes take the application's `x-client-id`/`x-client-secret`. Creating one
first calls `GET <callback>?verification_token=…&challenge=…` and refuses the subscription
unless the callback echoes the challenge. Events are POSTed to each live (unexpired)
subscription of their (event_type, data_type), signed with the secret the subscription was
made with; a non-2xx answer is retried (`webhook_attempts`, `webhook_retry_seconds` apart),
410 cancels the subscription. Fault switches add duplicates and reverse a batch's order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from myhealth.platform.logging import get_logger
from myhealth.sandbox.documents import Sandbox
from myhealth.sandbox.responses import error_response
from myhealth.webhooks.catalog import WEBHOOK_DATA_TYPES
from myhealth.webhooks.signature import sign

SUBSCRIPTIONS = "/v2/webhook/subscription"
NO_SUCH_WEBHOOK = "Webhook with specified id does not exist."
CALLBACK_TIMEOUT_SECONDS = 10.0  # Oura's limit for an answer

log = get_logger("sandbox.webhooks")

Operation = Literal["create", "update", "delete"]


class _CreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    callback_url: str = Field(min_length=1)
    verification_token: str = Field(min_length=1)
    event_type: Operation
    data_type: str


class _UpdateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verification_token: str = Field(min_length=1)
    callback_url: str | None = None
    event_type: Operation | None = None
    data_type: str | None = None


class _EventRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: Operation
    data_type: str
    object_id: str = Field(min_length=1)
    event_time: dt.datetime | None = None  # default: the sandbox clock


@dataclass
class Subscription:
    id: str
    callback_url: str
    verification_token: str
    event_type: str
    data_type: str
    expiration_time: dt.datetime
    secret: str = field(repr=False)

    def model(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "callback_url": self.callback_url,
            "event_type": self.event_type,
            "data_type": self.data_type,
            "expiration_time": self.expiration_time.isoformat(),
        }


@dataclass
class Delivery:
    subscription_id: str
    event: dict[str, Any]
    attempt: int
    status: int | None  # None: no answer (connection refused, timeout)


class WebhookHub:
    """Subscriptions and deliveries of one sandbox app."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.state = sandbox.state
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    def http(self) -> httpx.AsyncClient:
        """One client for every callback (made on the server's event loop, on first use)."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_SECONDS)
        return self._http

    def expiry(self) -> dt.datetime:
        return self.state.now() + dt.timedelta(days=self.state.faults.webhook_ttl_days)

    async def verify(self, callback_url: str, verification_token: str) -> str | None:
        """None when the callback echoed the challenge, else why not."""
        challenge = secrets.token_urlsafe(16)
        try:
            response = await self.http().get(
                callback_url,
                params={"verification_token": verification_token, "challenge": challenge},
            )
        except httpx.HTTPError as exc:
            return f"the callback did not answer ({type(exc).__name__})"
        try:
            echoed = response.json().get("challenge") if response.status_code == 200 else None
        except (ValueError, AttributeError):
            echoed = None
        if echoed != challenge:
            return f"the callback did not echo the challenge (HTTP {response.status_code})"
        return None

    def emit(self, events: list[_EventRequest]) -> int:
        """Apply the events to the documents, schedule their delivery; the deliveries made."""
        faults = self.state.faults
        user_id = str(self.sandbox.person.personal_info()["id"])
        payloads = []
        for event in events:
            if event.event_type == "delete":
                with self.state.lock:
                    self.state.deleted.add((event.data_type, event.object_id))
            moment = event.event_time or self.state.now()
            payloads.append(
                {
                    "event_type": event.event_type,
                    "data_type": event.data_type,
                    "object_id": event.object_id,
                    "event_time": moment.isoformat(),
                    "user_id": user_id,
                }
            )
        if faults.webhook_reverse_order:
            payloads.reverse()
        planned = [
            (subscription, payload)
            for payload in payloads
            for _ in range(1 + faults.webhook_duplicates)
            for subscription in self._live(payload["event_type"], payload["data_type"])
        ]
        task = asyncio.get_running_loop().create_task(self._deliver_in_order(planned))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return len(planned)

    def _live(self, event_type: str, data_type: str) -> list[Subscription]:
        now = self.state.now()
        return [
            sub
            for sub in list(self.subscriptions.values())
            if sub.event_type == event_type
            and sub.data_type == data_type
            and sub.expiration_time > now
        ]

    async def _deliver_in_order(self, planned: list[tuple[Subscription, dict[str, Any]]]) -> None:
        for subscription, payload in planned:
            await self._deliver(self.http(), subscription, payload)

    async def _deliver(
        self, http: httpx.AsyncClient, subscription: Subscription, payload: dict[str, Any]
    ) -> None:
        body = json.dumps(payload).encode()
        faults = self.state.faults
        for attempt in range(1, faults.webhook_attempts + 1):
            if subscription.id not in self.subscriptions:
                return  # cancelled (410) or deleted meanwhile
            timestamp = str(int(time.time()))  # real time: the receiver checks its own clock
            headers = {
                "content-type": "application/json",
                "x-oura-timestamp": timestamp,
                "x-oura-signature": sign(subscription.secret, timestamp, body),
            }
            status: int | None
            try:
                status = (
                    await http.post(subscription.callback_url, content=body, headers=headers)
                ).status_code
            except httpx.HTTPError:
                status = None
            self.deliveries.append(Delivery(subscription.id, payload, attempt, status))
            if status == 410:
                self.subscriptions.pop(subscription.id, None)
                return
            if status is not None and 200 <= status < 400:
                return
            await asyncio.sleep(faults.webhook_retry_seconds)
        log.warning("webhook delivery gave up", subscription=subscription.id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def idle(self) -> None:
        """Wait for the deliveries in flight (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _credentials(request: Request, hub: WebhookHub) -> tuple[str, Response | None]:
    client_id = request.headers.get("x-client-id", "")
    client_secret = request.headers.get("x-client-secret", "")
    if not client_id or not client_secret:
        return "", error_response(401, "x-client-id and x-client-secret are required.")
    state = hub.state
    if state.client_id is not None and (
        client_id != state.client_id or client_secret != state.client_secret
    ):
        return "", error_response(401, "Invalid client credentials.")
    return client_secret, None


def _subscription(
    request: Request, hub: WebhookHub, subscription_id: str
) -> Subscription | Response:
    """The caller's subscription `subscription_id`, or the refusal Oura answers instead."""
    _, refused = _credentials(request, hub)
    if refused:
        return refused
    subscription = hub.subscriptions.get(subscription_id)
    if subscription is None:
        return error_response(403, NO_SUCH_WEBHOOK)
    return subscription


def _invalid(exc: ValidationError) -> Response:
    return error_response(422, json.loads(exc.json(include_url=False)))


def _check_data_type(name: str | None) -> Response | None:
    if name is not None and name not in WEBHOOK_DATA_TYPES:
        return error_response(422, f"Input should be one of {', '.join(WEBHOOK_DATA_TYPES)}")
    return None


def add_webhook_routes(app: FastAPI, hub: WebhookHub) -> None:
    @app.get(SUBSCRIPTIONS)
    async def list_subscriptions(request: Request) -> Response:
        _, refused = _credentials(request, hub)
        if refused:
            return refused
        return JSONResponse([sub.model() for sub in hub.subscriptions.values()])

    @app.post(SUBSCRIPTIONS)
    async def create_subscription(request: Request) -> Response:
        secret, refused = _credentials(request, hub)
        if refused:
            return refused
        try:
            body = _CreateRequest.model_validate(await request.json())
        except ValidationError as exc:
            return _invalid(exc)
        except ValueError:
            return error_response(400, "Body is not JSON.")
        if bad := _check_data_type(body.data_type):
            return bad
        problem = await hub.verify(body.callback_url, body.verification_token)
        if problem:
            return error_response(400, f"Verification failed: {problem}.")
        subscription = Subscription(
            id=str(uuid.uuid4()),
            callback_url=body.callback_url,
            verification_token=body.verification_token,
            event_type=body.event_type,
            data_type=body.data_type,
            expiration_time=hub.expiry(),
            secret=secret,
        )
        hub.subscriptions[subscription.id] = subscription
        return JSONResponse(subscription.model(), status_code=201)

    @app.get(SUBSCRIPTIONS + "/{subscription_id}")
    async def get_subscription(subscription_id: str, request: Request) -> Response:
        subscription = _subscription(request, hub, subscription_id)
        if isinstance(subscription, Response):
            return subscription
        return JSONResponse(subscription.model())

    @app.put(SUBSCRIPTIONS + "/renew/{subscription_id}")
    async def renew_subscription(subscription_id: str, request: Request) -> Response:
        subscription = _subscription(request, hub, subscription_id)
        if isinstance(subscription, Response):
            return subscription
        subscription.expiration_time = hub.expiry()
        return JSONResponse(subscription.model())

    @app.put(SUBSCRIPTIONS + "/{subscription_id}")
    async def update_subscription(subscription_id: str, request: Request) -> Response:
        subscription = _subscription(request, hub, subscription_id)
        if isinstance(subscription, Response):
            return subscription
        try:
            body = _UpdateRequest.model_validate(await request.json())
        except ValidationError as exc:
            return _invalid(exc)
        except ValueError:
            return error_response(400, "Body is not JSON.")
        if bad := _check_data_type(body.data_type):
            return bad
        callback = body.callback_url or subscription.callback_url
        problem = await hub.verify(callback, body.verification_token)
        if problem:
            return error_response(400, f"Verification failed: {problem}.")
        subscription.callback_url = callback
        subscription.verification_token = body.verification_token
        subscription.event_type = body.event_type or subscription.event_type
        subscription.data_type = body.data_type or subscription.data_type
        return JSONResponse(subscription.model())

    @app.delete(SUBSCRIPTIONS + "/{subscription_id}")
    async def delete_subscription(subscription_id: str, request: Request) -> Response:
        _, refused = _credentials(request, hub)
        if refused:
            return refused
        if hub.subscriptions.pop(subscription_id, None) is None:
            return error_response(403, NO_SUCH_WEBHOOK)
        return Response(status_code=204)

    @app.post("/_sandbox/webhooks/events")
    async def emit_events(request: Request) -> Response:
        """Body: {"events": [{event_type, data_type, object_id, event_time?}, ...]}. A delete
        removes the document from the data routes first; create/update describe a change
        made through the faults (`revise_days`/`revision`) or the clock."""
        body = await request.json()
        raw = body.get("events") if isinstance(body, dict) else None
        if not isinstance(raw, list):
            return error_response(422, 'expected {"events": [...]}')
        try:
            events = [_EventRequest.model_validate(item) for item in raw]
        except ValidationError as exc:
            return _invalid(exc)
        for event in events:
            if bad := _check_data_type(event.data_type):
                return bad
        return JSONResponse({"deliveries": hub.emit(events)})

    @app.get("/_sandbox/webhooks/deliveries")
    async def deliveries() -> dict[str, Any]:
        return {
            "deliveries": [
                {
                    "subscription_id": d.subscription_id,
                    "event": d.event,
                    "attempt": d.attempt,
                    "status": d.status,
                }
                for d in hub.deliveries
            ],
            "in_flight": len(hub._tasks),
        }
