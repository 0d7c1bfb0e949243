"""A client for Oura's webhook subscription API (`/v2/webhook/subscription`), which takes the
application's `x-client-id`/`x-client-secret` rather than a user's token
(docs/oura-api.md#webhooks).

Transient failures (network, 429, 5xx) are retried with the product's retry policy; any other
refusal is a `SubscriptionRefused` naming the status and Oura's detail.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import httpx

from myhealth.oura.client import describe_detail
from myhealth.platform.errors import ErrorCode, UserFacingError
from myhealth.platform.retry import DEFAULT_RETRY, RetryPolicy, TransientFailure

PATH = "/v2/webhook/subscription"


class SubscriptionRefused(UserFacingError):
    code = ErrorCode.WEBHOOK_SUBSCRIPTION_REFUSED


class SubscriptionUnavailable(UserFacingError):
    code = ErrorCode.WEBHOOK_SUBSCRIPTION_UNAVAILABLE


@dataclass(frozen=True)
class Subscription:
    id: str
    callback_url: str
    event_type: str
    data_type: str
    expiration_time: dt.datetime

    @classmethod
    def parse(cls, body: Any) -> Subscription:
        if not isinstance(body, Mapping):
            raise SubscriptionRefused(f"expected a subscription object, got {type(body).__name__}")
        try:
            return cls(
                id=str(body["id"]),
                callback_url=str(body["callback_url"]),
                event_type=str(body["event_type"]),
                data_type=str(body["data_type"]),
                expiration_time=dt.datetime.fromisoformat(
                    str(body["expiration_time"]).replace("Z", "+00:00")
                ),
            )
        except (KeyError, ValueError) as exc:
            raise SubscriptionRefused(f"unreadable subscription from Oura: {exc}") from None

    def expires_in(self, now: dt.datetime) -> dt.timedelta:
        moment = self.expiration_time
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment - now


class SubscriptionClient:
    """`async with SubscriptionClient(base_url, client_id, client_secret) as oura: ...`"""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = 30.0,
    ) -> None:
        self._retry = retry
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            headers={
                "x-client-id": client_id,
                "x-client-secret": client_secret,
                "Accept": "application/json",
                "User-Agent": "myhealth",
            },
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._http.aclose()

    async def list(self) -> list[Subscription]:
        body = await self._call("GET", PATH)
        if not isinstance(body, list):
            raise SubscriptionRefused("expected a JSON array of subscriptions")
        return [Subscription.parse(item) for item in body]

    async def create(
        self, callback_url: str, verification_token: str, event_type: str, data_type: str
    ) -> Subscription:
        body = await self._call(
            "POST",
            PATH,
            {
                "callback_url": callback_url,
                "verification_token": verification_token,
                "event_type": event_type,
                "data_type": data_type,
            },
        )
        return Subscription.parse(body)

    async def renew(self, subscription_id: str) -> Subscription:
        return Subscription.parse(await self._call("PUT", f"{PATH}/renew/{subscription_id}"))

    async def delete(self, subscription_id: str) -> None:
        await self._call("DELETE", f"{PATH}/{subscription_id}")

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            async for attempt in self._retry.retrying():
                with attempt:
                    return await self._attempt(method, path, body)
        except TransientFailure as exc:
            raise SubscriptionUnavailable(f"Oura's subscription API: {exc}") from None
        raise AssertionError("unreachable: the retry loop returns or raises")

    async def _attempt(self, method: str, path: str, body: Any) -> Any:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise TransientFailure(
                "oura_webhooks", "network", f"{method} {path}: {type(exc).__name__}"
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("retry-after", "")
            raise TransientFailure(
                "oura_webhooks",
                "rate_limited" if response.status_code == 429 else "server_error",
                f"{method} {path}: HTTP {response.status_code}",
                retry_after=float(retry_after) if retry_after.isdigit() else None,
            )
        if response.status_code >= 400:
            try:
                detail = describe_detail(response.json())
            except ValueError:
                detail = response.text[:200]
            raise SubscriptionRefused(f"{method} {path}: HTTP {response.status_code}: {detail}")
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise SubscriptionRefused(f"{method} {path}: the answer is not JSON") from None
