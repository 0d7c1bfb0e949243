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
- Errors: the project's retry policy (`myhealth.platform.retry`): 429 waits `Retry-After`
  (capped); 5xx, timeouts and connection failures back off exponentially with jitter. A 401
  refreshes the token once and sends the request again; 403, 426 and other 4xx fail fast with
  Oura's `detail` (#errors-and-rate-limits).
- Every request is counted by route template and status (`stats`, and Prometheus counters
  when a registry is given).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import quote

import httpx

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
from myhealth.platform.retry import DEFAULT_RETRY, RetryPolicy, TransientFailure

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client import Counter as PromCounter

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


COLLECTION_PATH = "/v2/usercollection"
# Padding of date windows: the end is inclusive or exclusive by collection, and some filter by
# UTC date (docs/oura-api.md#date-windows).
DATE_PADDING = dt.timedelta(days=2)
HEARTRATE_CHUNK = dt.timedelta(days=30)
# A long heart-rate window is fetched in lanes, concurrently (docs/oura-api.md#heart-rate):
# at most this many, each of at least this many chunks (half a year).
HEARTRATE_LANES = 4
HEARTRATE_CHUNKS_PER_LANE = 6
# Heart-rate requests reach a little past the chunk; the client filters to the exact interval.
HEARTRATE_PADDING = dt.timedelta(minutes=1)
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


class OuraClient:
    """`async with OuraClient(base_url, tokens) as oura: async for page in oura.fetch(...)`."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenProvider,
        *,
        timeout: float = 30.0,
        max_pages: int = 10_000,
        retry: RetryPolicy = DEFAULT_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._tokens = tokens
        self._max_pages = max_pages
        self._retry = retry
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
            # Imported here: `myhealth collect` counts without Prometheus and starts faster.
            from prometheus_client import Counter as PromCounter

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
        lanes = [
            self._heart_rate_lane(data_type, low, high)
            for low, high in heart_rate_lanes(start, end, tz)
        ]
        pages = lanes[0] if len(lanes) == 1 else merged(lanes)
        async for page in pages:
            yield page

    async def _heart_rate_lane(
        self, data_type: DataType, low: dt.datetime, high: dt.datetime
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Samples in [low, high), a page per request (docs/oura-api.md#heart-rate).

        Each request asks for at most HEARTRATE_CHUNK from a cursor. A full page (one with a
        `next_token`) is kept up to, not including, its last instant, and the next request
        starts at that instant, so every page but the lane's last is a full one: following
        the token instead would end every 30-day chunk with a part-filled page. A page that
        does not allow this (no readable or no later instant, instants out of order) is
        followed by its tokens to the end of its chunk, as any other collection.
        """
        route = f"{COLLECTION_PATH}/{data_type.route}"
        cursor = low
        requests = 0
        while cursor < high:
            chunk_end = min(cursor + HEARTRATE_CHUNK, high)
            params = {
                "start_datetime": (cursor - HEARTRATE_PADDING).isoformat(),
                "end_datetime": (chunk_end + HEARTRATE_PADDING).isoformat(),
            }
            body = await self._request(route, route, params, _read_page)
            requests += 1
            if requests > self._max_pages:
                raise PaginationError(
                    f"{route}: more than {self._max_pages} pages for one window; stopped"
                )
            samples = _page_documents(route, body)
            instants = [_instant_of(sample) for sample in samples]
            resume = _resume_at(instants, cursor) if _next_token(route, body) else chunk_end
            if resume is None:
                # Chunks are disjoint half-open intervals, so de-duplication stays per chunk
                # (bounded memory on multi-year backfills).
                seen: set[tuple[dt.datetime, Any]] = set()
                async for page in self._paginate(data_type, params):
                    yield _within(page, cursor, chunk_end, seen)
                cursor = chunk_end
                continue
            yield _within(samples, cursor, resume, set(), instants)
            cursor = resume

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
            yield _page_documents(route, body)
            token = _next_token(route, body)
            if token is None:
                return
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
        """GET `path` under the retry policy; returns the body as `read` decodes it (a body
        `read` refuses as not JSON counts as a server error, worth a retry).

        A 401 is not retried blindly: the token is refreshed once and the request sent again
        at once; a second 401 means the account must be connected again."""
        token = await self._tokens.access_token()
        refreshed = False
        retries = 0
        previous: TransientFailure | None = None
        try:
            async for attempt in self._retry.retrying():
                with attempt:
                    if previous is not None:
                        retries += 1
                        self._count_retry(previous.reason)
                    try:
                        response = await self._get(route, path, params, token)
                        if response.status_code == 401 and not refreshed:
                            refreshed = True
                            token = await self._tokens.refresh(token)
                            response = await self._get(route, path, params, token)
                        return _answer(route, response, read)
                    except TransientFailure as failure:
                        previous = failure
                        raise
        except TransientFailure as failure:
            if failure.reason == "rate_limited":
                raise RateLimitExhausted(
                    f"{route}: still rate limited (429) after {retries} retries"
                ) from None
            raise OuraRequestError(f"{failure} (gave up after {retries} retries)") from None
        raise AssertionError("unreachable")  # pragma: no cover - the policy makes >= 1 attempt

    async def _get(
        self, route: str, path: str, params: Mapping[str, str], token: str
    ) -> httpx.Response:
        """One GET, counted; timeouts and connection failures are transient."""
        try:
            response = await self._http.get(
                path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TimeoutException:
            self._count(route, "timeout")
            raise TransientFailure("oura", "timeout", f"{route}: timed out") from None
        except httpx.TransportError as exc:
            self._count(route, "error")
            raise TransientFailure(
                "oura", "server_error", f"{route}: {type(exc).__name__}"
            ) from None
        self._count(route, str(response.status_code))
        return response

    def _count_retry(self, reason: str) -> None:
        self.stats.retries[reason] += 1
        if self._prom_retries is not None:
            self._prom_retries.labels(reason).inc()

    def _count(self, route: str, status: str) -> None:
        self.stats.requests[(route, status)] += 1
        if self._prom_requests is not None:
            self._prom_requests.labels(route, status).inc()


def client_from_settings(
    settings: OuraSettings, *, registry: CollectorRegistry | None = None
) -> OuraClient:
    """The client `myhealth collect` uses: OURA_API_BASE_URL with the configured tokens."""
    return OuraClient(str(settings.OURA_API_BASE_URL), token_provider(settings), registry=registry)


def _answer(route: str, response: httpx.Response, read: Callable[[bytes], _Body]) -> _Body:
    """The body of a 200; TransientFailure for what a retry could fix (429, 5xx, a 200 whose
    body is not JSON); the matching OuraError for everything else."""
    status = response.status_code
    if status == 200:
        try:
            return read(response.content)
        except ValueError:
            raise TransientFailure(
                "oura", "server_error", f"{route}: 200 with invalid JSON"
            ) from None
    if status == 401:
        raise ReauthenticationRequired(
            f"Oura rejected the access token for {route} even after a refresh "
            "(401): run `myhealth auth login` to connect the Oura account again"
        )
    if status == 429:
        raise TransientFailure(
            "oura",
            "rate_limited",
            f"{route}: rate limited (429)",
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    if status >= 500:
        raise TransientFailure("oura", "server_error", f"{route}: Oura answered {status}")
    raise _client_error(route, response)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); the retry policy
    caps it."""
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
    return max(0.0, seconds)


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


def _page_documents(route: str, body: Envelope) -> list[dict[str, Any]]:
    if body.documents is None or body.count > MAX_PAGE_DOCUMENTS:
        raise OuraRequestError(f"{route}: expected {{data, next_token}}, got another shape")
    # Every element goes on, objects or not: the processor judges and quarantines.
    return [RawJsonObject.from_received(item) for item in body.documents]


def _next_token(route: str, body: Envelope) -> str | None:
    """The page's `next_token`, None on the last page."""
    token = body.members.get("next_token")
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise OuraRequestError(f"{route}: next_token is not a string")
    return token


def heart_rate_lanes(
    start: dt.date, end: dt.date, tz: dt.tzinfo
) -> list[tuple[dt.datetime, dt.datetime]]:
    """[start 00:00, end+1 00:00) in `tz`, cut at midnights into lanes fetched concurrently:
    one lane up to HEARTRATE_CHUNKS_PER_LANE chunks, at most HEARTRATE_LANES. Each lane
    ends with one part-filled page, so more lanes cost more requests."""
    days = (end - start).days + 1
    chunks = -(-days // HEARTRATE_CHUNK.days)
    lanes = max(1, min(HEARTRATE_LANES, chunks // HEARTRATE_CHUNKS_PER_LANE))
    cuts = [start + dt.timedelta(days=days * lane // lanes) for lane in range(lanes)]
    bounds = [dt.datetime.combine(day, dt.time(), tzinfo=tz) for day in cuts]
    bounds.append(dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz))
    return list(itertools.pairwise(bounds))


def _resume_at(instants: Sequence[dt.datetime | None], cursor: dt.datetime) -> dt.datetime | None:
    """Where the request after a full page with these sample instants starts: its last
    instant (samples of it may continue on the next page, so they are left to the next
    request), or None when an instant is unreadable, out of order or not past `cursor`."""
    if not instants or None in instants:
        return None
    readable = [instant for instant in instants if instant is not None]
    last = readable[-1]
    if last <= cursor or any(a > b for a, b in itertools.pairwise(readable)):
        return None
    return last


def _within(
    page: Sequence[dict[str, Any]],
    low: dt.datetime,
    high: dt.datetime,
    seen: set[tuple[dt.datetime, Any]],
    instants: Sequence[dt.datetime | None] | None = None,
) -> list[dict[str, Any]]:
    """The samples of `page` in [low, high), each (instant, source) once; a sample whose
    timestamp cannot be read goes on, for the processor to judge. `instants`: the samples'
    instants when already read."""
    kept = []
    if instants is None:
        instants = [_instant_of(sample) for sample in page]
    for sample, instant in zip(page, instants, strict=True):
        if instant is None:
            kept.append(sample)
            continue
        if not low <= instant < high:
            continue
        key = (instant, sample.get("source"))
        if key in seen:
            continue
        seen.add(key)
        kept.append(sample)
    return kept


async def merged(
    iterators: Sequence[AsyncIterator[list[dict[str, Any]]]],
) -> AsyncIterator[list[dict[str, Any]]]:
    """The pages of several iterators as they come, each iterator run by its own task; at
    most one page per iterator waits to be taken. The first failure stops them all."""
    queue: asyncio.Queue[list[dict[str, Any]] | BaseException | None] = asyncio.Queue(
        len(iterators)
    )

    async def drain(pages: AsyncIterator[list[dict[str, Any]]]) -> None:
        try:
            async for page in pages:
                await queue.put(page)
        except Exception as exc:
            await queue.put(exc)
            return
        await queue.put(None)

    tasks = [asyncio.create_task(drain(pages)) for pages in iterators]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
