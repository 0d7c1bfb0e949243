"""The processor's ingest API as the collector uses it (spec §5).

`POST {PROCESSOR_URL}/api/v1/ingest` with `{"data_type", "documents"}`; the answer's counts
are the acknowledgement a checkpoint waits for. Connection failures, timeouts and 5xx are
retried a few times with backoff (a processor rollout is short), then the batch fails with
`ProcessorUnavailable`; after that, requests of the same run get a single attempt until one
succeeds again, so the remaining types fail in moments instead of each waiting out retries.
A 413 splits the batch in halves. Other 4xx, and 500 (the database refused a value), are
`ProcessorRefused`: retrying the same bytes would not help.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from myhealth.platform.errors import CodedError, ErrorCode

INGEST_PATH = "/api/v1/ingest"


class ProcessorError(CodedError):
    """The processor did not acknowledge a batch."""

    code = ErrorCode.PROCESSOR_ERROR


class ProcessorUnavailable(ProcessorError):
    """Unreachable, timing out or answering 5xx, even after retries."""

    code = ErrorCode.PROCESSOR_UNAVAILABLE


class ProcessorRefused(ProcessorError):
    """A 4xx answer: wrong INGEST_TOKEN (401), unknown type or malformed body (422)..."""

    code = ErrorCode.PROCESSOR_REFUSED


@dataclass
class IngestResult:
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.received += other.received
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected.extend(other.rejected)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:200]
    return str(body)[:200]


class ProcessorClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 120.0,
        attempts: int = 4,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )
        self.base_url = base_url
        self._attempts = attempts
        self._backoff = backoff
        self._unavailable = False

    async def __aenter__(self) -> ProcessorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.aclose()

    async def check(self) -> None:
        """Fail fast, before spending Oura requests, when the processor is not there at all."""
        await self._send("GET", "/health", None)

    async def ingest(self, data_type: str, documents: list[dict[str, Any]]) -> IngestResult:
        response = await self._send(
            "POST", INGEST_PATH, {"data_type": data_type, "documents": documents}
        )
        if response.status_code == 413 and len(documents) > 1:
            half = len(documents) // 2
            result = await self.ingest(data_type, documents[:half])
            result.add(await self.ingest(data_type, documents[half:]))
            return result
        if response.status_code >= 400:  # 4xx, or 500: this batch cannot be stored as it is
            raise ProcessorRefused(
                f"processor refused the batch: HTTP {response.status_code}: {_detail(response)}"
            )
        try:
            body = response.json()
            rejected = body.get("rejected") or []
            return IngestResult(
                received=int(body["received"]),
                inserted=int(body.get("inserted", 0)),
                updated=int(body.get("updated", 0)),
                unchanged=int(body.get("unchanged", 0)),
                rejected=[item for item in rejected if isinstance(item, dict)],
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ProcessorRefused("processor answered with an unexpected body") from None

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        failure = ""
        attempts = 1 if self._unavailable else self._attempts
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = await self._client.request(method, path, json=body)
            except httpx.TimeoutException:
                failure = "timed out"
                continue
            except httpx.TransportError as exc:
                failure = str(exc) or type(exc).__name__
                continue
            if response.status_code <= 500:
                self._unavailable = False
                return response
            failure = f"HTTP {response.status_code}: {_detail(response)}"
        self._unavailable = True
        tries = f"after {attempts} attempts" if attempts > 1 else "(still)"
        raise ProcessorUnavailable(f"processor at {self.base_url} unavailable {tries}: {failure}")
