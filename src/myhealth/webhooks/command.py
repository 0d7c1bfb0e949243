"""`myhealth webhooks subscribe|list|renew|delete` (docs/webhooks.md#subscriptions).

`subscribe` makes sure one subscription exists per (event type, data type) — 3 × 17 — for the
callback URL, creating only the missing ones, so running it again changes nothing. `renew`
extends those expiring within N days (a CronJob runs it daily). `list` prints each with its
state; `delete` removes them (all, or those of one callback URL).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from myhealth.platform.config import WebhookSettings, load
from myhealth.platform.errors import UserFacingError
from myhealth.webhooks.catalog import EVENT_TYPES, WEBHOOK_DATA_TYPES
from myhealth.webhooks.subscriptions import Subscription, SubscriptionClient

CONCURRENCY = 6
T = TypeVar("T")


def command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = load(WebhookSettings, environ)
    action = args.webhooks_command
    try:
        return _run(action, args, settings)
    except ExceptionGroup as group:  # from _each: report the first failure, as one line
        first = group.exceptions[0]
        raise first if isinstance(first, UserFacingError) else group from None


def _run(action: str, args: argparse.Namespace, settings: WebhookSettings) -> int:
    if action == "subscribe":
        return asyncio.run(subscribe(settings, args.callback_url))
    if action == "list":
        return asyncio.run(list_subscriptions(settings))
    if action == "renew":
        within = args.within_days or settings.WEBHOOK_RENEW_WITHIN_DAYS
        return asyncio.run(renew(settings, dt.timedelta(days=within)))
    if action == "delete":
        return asyncio.run(delete(settings, args.callback_url))
    raise UserFacingError(f"unknown action {action!r}", exit_code=2)


async def _each(items: Sequence[T], call: Callable[[T], Awaitable[object]]) -> None:
    """`call` for every item, a few at a time (each create waits for Oura's verification
    call to our API); the first failure stops the rest and is raised."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: T) -> None:
        async with gate:
            await call(item)

    async with asyncio.TaskGroup() as group:
        for item in items:
            group.create_task(one(item))


def _client(settings: WebhookSettings) -> SubscriptionClient:
    return SubscriptionClient(
        str(settings.OURA_API_BASE_URL),
        settings.OURA_CLIENT_ID,
        settings.OURA_CLIENT_SECRET.get_secret_value(),
    )


def state_of(subscription: Subscription, now: dt.datetime, soon: dt.timedelta) -> str:
    left = subscription.expires_in(now)
    if left <= dt.timedelta():
        return "expired"
    return "expiring" if left <= soon else "active"


async def subscribe(settings: WebhookSettings, callback_url: str | None) -> int:
    url = callback_url or (
        str(settings.WEBHOOK_CALLBACK_URL) if settings.WEBHOOK_CALLBACK_URL else None
    )
    if not url:
        raise UserFacingError(
            "no callback URL: pass --callback-url or set WEBHOOK_CALLBACK_URL", exit_code=2
        )
    if settings.OURA_WEBHOOK_VERIFICATION_TOKEN is None:
        raise UserFacingError(
            "OURA_WEBHOOK_VERIFICATION_TOKEN is required (the API echoes Oura's challenge "
            "only for it)",
            exit_code=2,
        )
    token = settings.OURA_WEBHOOK_VERIFICATION_TOKEN.get_secret_value()
    async with _client(settings) as oura:
        existing = {
            (sub.event_type, sub.data_type) for sub in await oura.list() if sub.callback_url == url
        }
        missing = [
            (event_type, data_type)
            for event_type in EVENT_TYPES
            for data_type in WEBHOOK_DATA_TYPES
            if (event_type, data_type) not in existing
        ]
        await _each(missing, lambda pair: oura.create(url, token, *pair))
        created = len(missing)
    wanted = len(EVENT_TYPES) * len(WEBHOOK_DATA_TYPES)
    print(f"{created} created, {wanted - created} already there ({wanted} wanted) for {url}")
    return 0


async def list_subscriptions(settings: WebhookSettings) -> int:
    now = dt.datetime.now(dt.UTC)
    soon = dt.timedelta(days=settings.WEBHOOK_RENEW_WITHIN_DAYS)
    async with _client(settings) as oura:
        subscriptions = await oura.list()
    subscriptions.sort(key=lambda s: (s.callback_url, s.data_type, s.event_type))
    print(f"{'state':<9} {'expires (UTC)':<20} {'event':<7} {'data type':<25} callback / id")
    for sub in subscriptions:
        expires = sub.expiration_time.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
        print(
            f"{state_of(sub, now, soon):<9} {expires:<20} {sub.event_type:<7} "
            f"{sub.data_type:<25} {sub.callback_url} {sub.id}"
        )
    print(f"{len(subscriptions)} subscription(s)")
    return 0


async def renew(settings: WebhookSettings, within: dt.timedelta) -> int:
    now = dt.datetime.now(dt.UTC)
    async with _client(settings) as oura:
        subscriptions = await oura.list()
        due = [sub for sub in subscriptions if sub.expires_in(now) <= within]
        await _each(due, lambda sub: oura.renew(sub.id))
        renewed = len(due)
    print(f"{renewed} renewed, {len(subscriptions) - renewed} not due")
    return 0


async def delete(settings: WebhookSettings, callback_url: str | None) -> int:
    async with _client(settings) as oura:
        doomed = [
            sub
            for sub in await oura.list()
            if callback_url is None or sub.callback_url == callback_url
        ]
        await _each(doomed, lambda sub: oura.delete(sub.id))
    print(f"{len(doomed)} deleted")
    return 0
