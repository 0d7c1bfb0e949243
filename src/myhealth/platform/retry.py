"""The project's one retry policy, on top of `stamina` (docs/architecture.md, "Retries").

Every remote call that may fail for a moment (Oura's data API, Oura's token endpoint, the
processor's ingest API) is retried the same way: a bounded number of attempts, exponential
backoff with random jitter, a cap on each wait and a bound on the total time. A call site
decides *what* is worth retrying by raising `TransientFailure` from inside an attempt; anything
else (a refused batch, a 4xx, a 401 the caller handles itself) passes through at once, because
the same request would get the same answer. A server that says how long to wait
(`Retry-After`) is obeyed, capped by the policy, instead of the exponential backoff.

    policy = RetryPolicy()
    async for attempt in policy.retrying():
        with attempt:
            ...  # raise TransientFailure(...) for what a retry could fix

After the last attempt the last `TransientFailure` propagates; the call site turns it into its
own coded error (`RateLimitExhausted`, `ProcessorUnavailable`...).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterable
from dataclasses import dataclass

import stamina
from stamina.instrumentation import RetryDetails, set_on_retry_hooks

from myhealth.platform.logging import get_logger

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "TransientFailure"]

log = get_logger("myhealth.retry")


class TransientFailure(Exception):
    """A failure a later attempt can fix: the server is away, overloaded or rate limiting.

    `operation` names the call site in logs (`oura`, `oura_token`, `processor`), `reason` is a
    bounded label (`rate_limited`, `server_error`, `timeout`), `retry_after` the seconds the
    server asked us to wait (None: use the exponential backoff)."""

    def __init__(
        self, operation: str, reason: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. The defaults are the product's policy; tests pass
    shorter waits. The wait before retry n is min(wait_max, wait_initial * 2**(n-1) +
    uniform(0, wait_jitter)) seconds, or the server's `Retry-After` capped at retry_after_max.
    No retry is scheduled once `timeout` seconds have passed since the first attempt began;
    `attempts=None` leaves the number of attempts to that bound alone."""

    attempts: int | None = 5
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_jitter: float = 0.5
    retry_after_max: float = 60.0
    timeout: float | None = 300.0

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.attempts is None and self.timeout is None:
            raise ValueError("attempts=None needs a timeout, or retries would never end")
        for name in ("wait_initial", "wait_max", "wait_jitter", "retry_after_max"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive (None: no bound)")

    def single_attempt(self) -> RetryPolicy:
        """The same policy without retries (a dependency already known to be down)."""
        return dataclasses.replace(self, attempts=1)

    def retrying(self) -> AsyncIterable[stamina.Attempt]:
        """A fresh sequence of attempts for one call (see the module docstring)."""
        return stamina.retry_context(
            on=self._backoff_for,
            attempts=self.attempts,
            timeout=self.timeout,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
            wait_jitter=self.wait_jitter,
            wait_exp_base=2,
        )

    def _backoff_for(self, exc: Exception) -> bool | float:
        """stamina's hook: False = not retried; True = exponential backoff; a float = wait
        exactly that long (the server's Retry-After, capped)."""
        if not isinstance(exc, TransientFailure):
            return False
        if exc.retry_after is None:
            return True
        return max(0.0, min(exc.retry_after, self.retry_after_max))


DEFAULT_RETRY = RetryPolicy()


def _log_retry(details: RetryDetails) -> None:
    failure = details.caused_by
    if isinstance(failure, TransientFailure):
        log.warning(
            f"{failure.operation}_retry",
            reason=failure.reason,
            error=str(failure),
            retry=details.retry_num,
            delay_s=round(details.wait_for, 2),
        )


# stamina's default instrumentation would count retries in Prometheus' global registry (the
# services use explicit registries) and log the retried callable's arguments (which may hold
# tokens); this one line per scheduled retry replaces both.
set_on_retry_hooks([_log_retry])
