"""The processor's ingest API as the collector uses it (docs/development.md, "Processor").

`POST {PROCESSOR_URL}/api/v1/ingest` with `{"data_type", "documents"}`; the answer's counts
are the acknowledgement a checkpoint waits for. The body is built from each document's JSON
text exactly as Oura sent it (`bounded_json.document_text`): nothing is decoded and encoded
again, so a value Python or httpx could not encode (a lone surrogate, `1e309`) still reaches
the processor, which quarantines that one document and stores the rest.

Answers are told apart by what a retry could change:
- 503, 502, 504, timeouts, connection failures: the processor or its database is away for a
  moment. Retried under the project's retry policy (`myhealth.platform.retry`: a few attempts,
  exponential backoff with jitter; a rollout is short), then `ProcessorUnavailable`;
  after that, requests of the same run get a single attempt until one succeeds again, so the
  remaining types fail in moments instead of each waiting out retries.
- 413: the batch is split in halves and each half sent; a single document still too large is
  not sent at all: it comes back in `IngestResult.oversize` (with a `document_too_large`
  rejection) for the runner to quarantine itself, so one huge document never fails its type.
- any other 4xx (401 wrong INGEST_TOKEN, 422 a body the processor cannot read) and 500 (a
  processor bug): `ProcessorRefused`, never retried, since the same bytes get the same answer.
  The type fails and its checkpoint stays where it was, so the next run sends the same window
  again once the cause is fixed. Documents the processor rejects one by one are not refusals:
  they come back in `rejected`, quarantined, and the batch counts as acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from myhealth.platform.bounded_json import document_text
from myhealth.platform.errors import CodedError, ErrorCode
from myhealth.platform.logging import get_logger
from myhealth.platform.retry import DEFAULT_RETRY, RetryPolicy, TransientFailure

INGEST_PATH = "/api/v1/ingest"
# The processor's reason code for a document over its size bound (platform/bounded_json.py).
DOCUMENT_TOO_LARGE = "document_too_large"
# Answers that mean "away for a moment" (the database, a rollout, a proxy): worth a retry.
RETRIED_STATUSES = frozenset({502, 503, 504})

log = get_logger("myhealth.collector")


class ProcessorError(CodedError):
    """The processor did not acknowledge a batch."""

    code = ErrorCode.PROCESSOR_ERROR


class ProcessorUnavailable(ProcessorError):
    """Unreachable, timing out or answering 502/503/504, even after retries."""

    code = ErrorCode.PROCESSOR_UNAVAILABLE


class ProcessorRefused(ProcessorError):
    """The processor refused the batch as a whole (401, 422, 500...): not retried."""

    code = ErrorCode.PROCESSOR_REFUSED

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def ingest_body(data_type: str, documents: Sequence[Any]) -> bytes:
    """The request body, each document as the JSON text it arrived as."""
    parts = ",".join(document_text(document) for document in documents)
    return f'{{"data_type":{json.dumps(data_type)},"documents":[{parts}]}}'.encode()


@dataclass
class IngestResult:
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # Documents (their received JSON text) that no batch could carry: over INGEST_MAX_BYTES.
    oversize: list[str] = field(default_factory=list)

    def add(self, other: IngestResult) -> None:
        self.received += other.received
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected.extend(other.rejected)
        self.oversize.extend(other.oversize)


_JSON = {"Content-Type": "application/json"}


def _too_large(document: Any) -> IngestResult:
    """A lone document over the processor's body limit, handed back to be quarantined."""
    document_id = document.get("id") if isinstance(document, dict) else None
    return IngestResult(
        received=1,
        rejected=[
            {
                "index": 0,
                "id": document_id if isinstance(document_id, str) else None,
                "code": DOCUMENT_TOO_LARGE,
                "error": "larger than the processor accepts in one request (HTTP 413); "
                "quarantined by the collector",
            }
        ],
        oversize=[document_text(document)],
    )


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
        retry: RetryPolicy = DEFAULT_RETRY,
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
        self._retry = retry
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

    async def ingest(self, data_type: str, documents: Sequence[Any]) -> IngestResult:
        response = await self._send("POST", INGEST_PATH, ingest_body(data_type, documents))
        if response.status_code == 413 and len(documents) > 1:
            half = len(documents) // 2
            result = await self.ingest(data_type, documents[:half])
            result.add(await self.ingest(data_type, documents[half:]))
            return result
        if response.status_code == 413:
            return _too_large(documents[0])
        if response.status_code >= 400:  # the same bytes would get the same answer
            detail = _detail(response)
            log.error(
                "collect_batch_refused",
                data_type=data_type,
                status=response.status_code,
                documents=len(documents),
                detail=detail,
            )
            raise ProcessorRefused(
                f"processor refused a {data_type} batch of {len(documents)} documents: "
                f"HTTP {response.status_code}: {detail}; the checkpoint stays, the next run "
                "sends the same window again",
                status=response.status_code,
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

    async def _send(self, method: str, path: str, body: bytes | None) -> httpx.Response:
        """One request under the retry policy (a single attempt while the processor is known
        to be down); any answer but 502/503/504 is returned for the caller to judge."""
        policy = self._retry.single_attempt() if self._unavailable else self._retry
        attempts = 0
        try:
            async for attempt in policy.retrying():
                with attempt:
                    attempts += 1
                    response = await self._attempt(method, path, body)
                    self._unavailable = False
                    return response
        except TransientFailure as failure:
            self._unavailable = True
            tries = f"after {attempts} attempts" if attempts > 1 else "(still)"
            raise ProcessorUnavailable(
                f"processor at {self.base_url} unavailable {tries}: {failure}"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover - the policy makes >= 1 attempt

    async def _attempt(self, method: str, path: str, body: bytes | None) -> httpx.Response:
        try:
            response = await self._client.request(
                method, path, content=body, headers=_JSON if body is not None else None
            )
        except httpx.TimeoutException:
            raise TransientFailure("processor", "timeout", "timed out") from None
        except httpx.TransportError as exc:
            raise TransientFailure(
                "processor", "server_error", str(exc) or type(exc).__name__
            ) from None
        if response.status_code in RETRIED_STATUSES:
            raise TransientFailure(
                "processor", "server_error", f"HTTP {response.status_code}: {_detail(response)}"
            )
        return response
