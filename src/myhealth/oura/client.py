"""Async client for the Oura API v2 `usercollection` routes.

What it takes care of, so callers do not have to (the evidence is in docs/oura-api.md):
- Date windows: collections disagree on whether `start_date`/`end_date` are inclusive and some
  filter by UTC date, so the request is padded by two days on each side and the documents are
  filtered on their `day` (or `start_day`) and de-duplicated by key (#date-windows).
- Heart rate: datetime windows in the owner's time zone, in chunks of at most 30 days, each
  chunk filtered to its half-open interval, so chunk edges never duplicate or drop a sample;
  `+` in offsets goes out as `%2B` (httpx encodes query values).
- Pagination: `next_token` is followed to the end; a repeated token or more than `max_pages`
  pages is a PaginationError, never an endless loop (#pagination).
- Errors: 429 waits `Retry-After` (capped); 5xx, timeouts and connection failures back off
  exponentially with jitter; 401 refreshes the token once; 403, 426 and other 4xx fail fast
  with Oura's `detail` (#errors-and-rate-limits).
- Every request is counted by route template and status (`stats`, and Prometheus counters
  when a registry is given).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter

from myhealth.oura.auth import TokenProvider, token_provider
from myhealth.oura.catalog import DataType
from myhealth.oura.days import as_utc, document_day
from myhealth.oura.errors import (
    AccessForbidden,
    AppUpdateRequired,
    DocumentNotFound,
    OuraError,
    OuraRequestError,
    PaginationError,
    RateLimitExhausted,
    ReauthenticationRequired,
)
from myhealth.platform.bounded_json import (
    Envelope,
    RawJsonObject,
    read_document,
    read_envelope,
)
from myhealth.platform.config import OuraSettings
from myhealth.platform.logging import get_logger

__all__ = [
    "AccessForbidden",
    "AppUpdateRequired",
    "DocumentNotFound",
    "OuraClient",
    "OuraError",
    "OuraRequestError",
    "PaginationError",
    "RateLimitExhausted",
    "ReauthenticationRequired",
    "RequestStats",
    "client_from_settings",
]

log = get_logger("oura.client")

COLLECTION_PATH = "/v2/usercollection"
# Padding of date windows: the end is inclusive or exclusive by collection, and some filter by
# UTC date (docs/oura-api.md#date-windows).
DATE_PADDING = dt.timedelta(days=2)
HEARTRATE_CHUNK = dt.timedelta(days=30)
# Heart-rate requests reach a little past the chunk; the client filters to the exact interval.
HEARTRATE_PADDING = dt.timedelta(minutes=1)
BACKOFF_CAP_SECONDS = 30.0
# Documents one page may hold before it is treated as a broken answer (Oura's are <= 1,000s).
MAX_PAGE_DOCUMENTS = 1_000_000

_Body = TypeVar("_Body")


def _read_page(content: bytes) -> Envelope:
    # Each document keeps its exact text; one document's content never fails the page.
    return read_envelope(content, "data", max_documents=MAX_PAGE_DOCUMENTS)


def _read_object(content: bytes) -> RawJsonObject:
    return RawJsonObject.from_received(read_document(content))


@dataclass
class RequestStats:
    """What this client did: requests by (route template, status) and retries by reason."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)


class _Retry(Exception):
    def __init__(self, reason: str, delay: float | None, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.delay = delay


class OuraClient:
    """`async with OuraClient(base_url, tokens) as oura: async for page in oura.fetch(...)`."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_pages: int = 10_000,
        retry_after_cap: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        registry: CollectorRegistry | None = None,
        backoff_base: float = 1.0,
    ) -> None:
        self._tokens = tokens
        self._max_retries = max_retries
        self._max_pages = max_pages
        self._retry_after_cap = retry_after_cap
        self._backoff_base = backoff_base
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "myhealth"},
        )
        self.stats = RequestStats()
        self._prom_requests: PromCounter | None = None
        self._prom_retries: PromCounter | None = None
        if registry is not None:
            self._prom_requests = PromCounter(
                "myhealth_oura_requests_total",
                "Requests made to the Oura API, by route template and status.",
                ["route", "status"],
                registry=registry,
            )
            self._prom_retries = PromCounter(
                "myhealth_oura_retries_total",
                "Oura API requests retried, by reason.",
                ["reason"],
                registry=registry,
            )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- public API ---------------------------------------------------------------------------

    async def fetch(
        self,
        data_type: DataType,
        start: dt.date | None,
        end: dt.date | None,
        *,
        tz: dt.tzinfo = dt.UTC,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of raw documents of `data_type` whose day is in [start, end].

        Documents without a readable day are passed through; duplicates (by key) are dropped.
        Heart rate: samples in [start 00:00, end+1 00:00) in `tz`. Undated types ignore the
        window; personal_info yields one page holding its one document.
        """
        if start is not None and end is not None and start > end:
            raise ValueError(f"start {start} is after end {end}")
        if data_type.window == "datetime":
            pages = self._fetch_datetime(data_type, start, end, tz)
        elif data_type.window == "date":
            pages = self._fetch_dates(data_type, start, end)
        elif not data_type.wrapped:
            pages = self._fetch_single_object(data_type)
        else:
            pages = self._paginate(data_type, {})
        async for page in pages:
            if page:
                yield page

    async def get(self, data_type: DataType, document_id: str) -> dict[str, Any]:
        """One document by id (`GET .../{route}/{document_id}`); DocumentNotFound on 404."""
        if not data_type.single_document_route:
            raise ValueError(f"{data_type.name} has no single-document route")
        route = f"{COLLECTION_PATH}/{data_type.route}/{{document_id}}"
        path = f"{COLLECTION_PATH}/{data_type.route}/{quote(document_id, safe='')}"
        body = await self._request(route, path, {}, _read_object)
        if not body and body.problem is None and not body.json_text.lstrip().startswith("{"):
            raise OuraRequestError(f"{route}: expected a JSON object")
        return body

    # -- windows -----------------------------------------------------------------------------

    async def _fetch_dates(
        self, data_type: DataType, start: dt.date | None, end: dt.date | None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        params: dict[str, str] = {}
        if start is not None:
            params["start_date"] = (start - DATE_PADDING).isoformat()
        if end is not None:
            params["end_date"] = (end + DATE_PADDING).isoformat()
        seen: set[tuple[Any, ...]] = set()
        async for page in self._paginate(data_type, params):
            kept = []
            for document in page:
                day = document_day(data_type, document)
                if day is not None and (
                    (start is not None and day < start) or (end is not None and day > end)
                ):
                    continue
                key = _key_of(document, data_type.key)
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                kept.append(document)
            yield kept

    async def _fetch_datetime(
        self, data_type: DataType, start: dt.date | None, end: dt.date | None, tz: dt.tzinfo
    ) -> AsyncIterator[list[dict[str, Any]]]:
        if start is None or end is None:
            raise ValueError(f"{data_type.name} needs both a start and an end date")
        window_start = dt.datetime.combine(start, dt.time(), tzinfo=tz)
        window_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        chunk_start = window_start
        while chunk_start < window_end:
            chunk_end = min(chunk_start + HEARTRATE_CHUNK, window_end)
            params = {
                "start_datetime": (chunk_start - HEARTRATE_PADDING).isoformat(),
                "end_datetime": (chunk_end + HEARTRATE_PADDING).isoformat(),
            }
            # Chunks are disjoint half-open intervals, so de-duplication stays per chunk
            # (bounded memory on multi-year backfills).
            seen: set[tuple[dt.datetime, Any]] = set()
            async for page in self._paginate(data_type, params):
                kept = []
                for sample in page:
                    instant = _instant_of(sample)
                    if instant is None:
                        kept.append(sample)  # unreadable timestamp: the processor decides
                        continue
                    if not chunk_start <= instant < chunk_end:
                        continue
                    key = (instant, sample.get("source"))
                    if key in seen:
                        continue
                    seen.add(key)
                    kept.append(sample)
                yield kept
            chunk_start = chunk_end

    async def _fetch_single_object(
        self, data_type: DataType
    ) -> AsyncIterator[list[dict[str, Any]]]:
        route = f"{COLLECTION_PATH}/{data_type.route}"
        body = await self._request(route, route, {}, _read_object)
        if not body and body.problem is None and not body.json_text.lstrip().startswith("{"):
            raise OuraRequestError(f"{route}: expected a JSON object")
        yield [body]

    async def _paginate(
        self, data_type: DataType, params: Mapping[str, str]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        route = f"{COLLECTION_PATH}/{data_type.route}"
        seen_tokens: set[str] = set()
        next_token: str | None = None
        pages = 0
        while True:
            query = dict(params)
            if next_token is not None:
                query["next_token"] = next_token
            body = await self._request(route, route, query, _read_page)
            pages += 1
            if body.documents is None or body.count > MAX_PAGE_DOCUMENTS:
                raise OuraRequestError(f"{route}: expected {{data, next_token}}, got another shape")
            # Every element goes on, objects or not: the processor judges and quarantines.
            yield [RawJsonObject.from_received(item) for item in body.documents]
            token = body.members.get("next_token")
            if token is None or token == "":
                return
            if not isinstance(token, str):
                raise OuraRequestError(f"{route}: next_token is not a string")
            if token in seen_tokens:
                raise PaginationError(
                    f"{route}: Oura repeated a next_token after {pages} pages; "
                    "stopped to avoid an endless listing"
                )
            if pages >= self._max_pages:
                raise PaginationError(
                    f"{route}: more than {self._max_pages} pages for one window; stopped"
                )
            seen_tokens.add(token)
            next_token = token

    # -- requests ----------------------------------------------------------------------------

    async def _request(
        self,
        route: str,
        path: str,
        params: Mapping[str, str],
        read: Callable[[bytes], _Body],
    ) -> _Body:
        """GET `path`, retrying what is worth retrying; returns the body as `read` decodes it
        (a body `read` refuses as not JSON counts as a server error)."""
        refreshed = False
        retries = 0
        token = await self._tokens.access_token()
        while True:
            try:
                response = await self._http.get(
                    path, params=params, headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TimeoutException:
                self._count(route, "timeout")
                failure = _Retry("timeout", None, f"{route}: timed out")
            except httpx.TransportError as exc:
                self._count(route, "error")
                failure = _Retry("server_error", None, f"{route}: {type(exc).__name__}")
            else:
                status = response.status_code
                self._count(route, str(status))
                if status == 200:
                    try:
                        return read(response.content)
                    except ValueError:
                        failure = _Retry("server_error", None, f"{route}: 200 with invalid JSON")
                elif status == 401:
                    if refreshed:
                        raise ReauthenticationRequired(
                            f"Oura rejected the access token for {route} even after a refresh "
                            "(401): run `myhealth auth login` to connect the Oura account again"
                        )
                    refreshed = True
                    token = await self._tokens.refresh(token)
                    continue
                elif status == 429:
                    failure = _Retry(
                        "rate_limited",
                        _retry_after(response.headers.get("Retry-After"), self._retry_after_cap),
                        f"{route}: rate limited (429)",
                    )
                elif status >= 500:
                    failure = _Retry("server_error", None, f"{route}: Oura answered {status}")
                else:
                    raise _client_error(route, response)
            if retries >= self._max_retries:
                if failure.reason == "rate_limited":
                    raise RateLimitExhausted(
                        f"{route}: still rate limited (429) after {retries} retries"
                    )
                raise OuraRequestError(f"{failure!s} (gave up after {retries} retries)")
            retries += 1
            delay = failure.delay if failure.delay is not None else self._backoff(retries)
            self.stats.retries[failure.reason] += 1
            if self._prom_retries is not None:
                self._prom_retries.labels(failure.reason).inc()
            log.warning(
                "oura_retry",
                route=route,
                reason=failure.reason,
                attempt=retries,
                delay_s=round(delay, 2),
            )
            await asyncio.sleep(delay)

    def _backoff(self, retry: int) -> float:
        ceiling = min(BACKOFF_CAP_SECONDS, self._backoff_base * 2 ** (retry - 1))
        return float(ceiling * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not crypto

    def _count(self, route: str, status: str) -> None:
        self.stats.requests[(route, status)] += 1
        if self._prom_requests is not None:
            self._prom_requests.labels(route, status).inc()


def client_from_settings(
    settings: OuraSettings, *, registry: CollectorRegistry | None = None
) -> OuraClient:
    """The client `myhealth collect` uses: OURA_API_BASE_URL with the configured tokens."""
    return OuraClient(str(settings.OURA_API_BASE_URL), token_provider(settings), registry=registry)


def _retry_after(value: str | None, cap: float) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, min(seconds, cap))


def describe_detail(body: Any) -> str:
    """Oura's `detail`: a string, or a list of pydantic errors `{loc, msg}`."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else ""
                msg = str(item.get("msg", "invalid"))
                parts.append(f"{where}: {msg}" if where else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if detail is not None:
        return str(detail)
    return ""


def _client_error(route: str, response: httpx.Response) -> OuraError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = describe_detail(body)
    suffix = f": {detail}" if detail else ""
    if status == 403:
        return AccessForbidden(
            f"Oura refused {route} (403): membership lapsed or scope not granted{suffix}; "
            "check the Oura membership, or run `myhealth auth login` and grant the scope"
        )
    if status == 426:
        return AppUpdateRequired(
            f"Oura refused {route} (426): app update required; the owner must update the "
            f"Oura app on their phone before this data can be shared{suffix}"
        )
    if status == 404:
        return DocumentNotFound(f"{route}: not found (404){suffix}", status=status)
    return OuraRequestError(f"{route}: Oura answered {status}{suffix}", status=status)


def _instant_of(sample: Mapping[str, Any]) -> dt.datetime | None:
    value = sample.get("timestamp")
    if not isinstance(value, str):
        return None
    try:
        return as_utc(dt.datetime.fromisoformat(value))
    except ValueError:
        return None


def _key_of(document: Mapping[str, Any], key_fields: Sequence[str]) -> tuple[Any, ...] | None:
    values = tuple(document.get(name) for name in key_fields)
    if any(value is None or isinstance(value, dict | list) for value in values):
        return None
    return values
