"""The project's retry policy (`myhealth.platform.retry`): what is retried, how often, how long
it waits (measured, so these run without stamina's test mode) and what it logs."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator

import pytest
import structlog

from myhealth.platform import logging as platform_logging
from myhealth.platform.retry import DEFAULT_RETRY, RetryPolicy, TransientFailure


class Refused(Exception):
    pass


def run(policy: RetryPolicy, failures: list[Exception]) -> tuple[str, int]:
    """Attempts under `policy`; each raises the next of `failures` until none are left."""
    calls = 0

    async def main() -> str:
        nonlocal calls
        async for attempt in policy.retrying():
            with attempt:
                calls += 1
                if failures:
                    raise failures.pop(0)
                return "done"
        raise AssertionError("unreachable")

    return asyncio.run(main()), calls


def transient(retry_after: float | None = None) -> TransientFailure:
    return TransientFailure("test", "server_error", "away", retry_after=retry_after)


def test_transient_failures_are_retried_until_one_succeeds() -> None:
    policy = RetryPolicy(attempts=3, wait_initial=0.001, wait_jitter=0.0)
    assert run(policy, [transient(), transient()]) == ("done", 3)


def test_other_errors_are_never_retried() -> None:
    policy = RetryPolicy(attempts=5, wait_initial=0.001, wait_jitter=0.0)
    with pytest.raises(Refused):
        run(policy, [Refused()])


def test_the_last_transient_failure_propagates_after_the_configured_attempts() -> None:
    calls: list[int] = []
    policy = RetryPolicy(attempts=3, wait_initial=0.001, wait_jitter=0.0)

    async def main() -> None:
        async for attempt in policy.retrying():
            with attempt:
                calls.append(attempt.num)
                raise TransientFailure("test", "timeout", f"attempt {attempt.num}")

    with pytest.raises(TransientFailure, match="attempt 3"):
        asyncio.run(main())
    assert calls == [1, 2, 3]


def test_backoff_grows_exponentially_and_is_capped() -> None:
    # Waits 0.1 + 0.2 (exponential), then 0.25 twice (the cap), without jitter.
    policy = RetryPolicy(attempts=5, wait_initial=0.1, wait_max=0.25, wait_jitter=0.0)
    started = time.monotonic()
    with pytest.raises(TransientFailure):
        run(policy, [transient() for _ in range(5)])
    elapsed = time.monotonic() - started
    assert 0.8 <= elapsed < 0.8 + 0.5


def test_retry_after_replaces_the_backoff_and_is_capped() -> None:
    policy = RetryPolicy(attempts=3, wait_initial=0.001, wait_jitter=0.0, retry_after_max=0.5)
    started = time.monotonic()
    assert run(policy, [transient(retry_after=0.3)]) == ("done", 2)
    assert 0.3 <= time.monotonic() - started < 0.3 + 0.25

    started = time.monotonic()
    assert run(policy, [transient(retry_after=3600)]) == ("done", 2)
    assert 0.5 <= time.monotonic() - started < 0.5 + 0.25


def test_no_attempt_starts_after_the_total_timeout() -> None:
    policy = RetryPolicy(
        attempts=100, wait_initial=0.05, wait_max=0.05, wait_jitter=0.0, timeout=0.3
    )
    failures: list[Exception] = [transient() for _ in range(100)]
    started = time.monotonic()
    with pytest.raises(TransientFailure):
        run(policy, failures)
    attempts = 100 - len(failures)
    assert 0.3 <= time.monotonic() - started < 1.0
    assert 5 <= attempts <= 9  # about 0.3 s / 0.05 s, far below the 100 allowed


def test_a_policy_without_retries_makes_one_attempt() -> None:
    with pytest.raises(TransientFailure):
        run(DEFAULT_RETRY.single_attempt(), [transient(), transient()])


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"attempts": 0}, id="no-attempt"),
        pytest.param({"wait_initial": -1.0}, id="negative-wait"),
        pytest.param({"timeout": 0.0}, id="zero-timeout"),
        pytest.param({"attempts": None, "timeout": None}, id="unbounded"),
    ],
)
def test_an_impossible_policy_is_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"attempts|wait_initial|timeout"):
        RetryPolicy(**settings)  # type: ignore[arg-type]


@pytest.fixture
def json_logging() -> Iterator[None]:
    """Put the logging setup back afterwards, so later tests do not write into this test's
    closed capture file."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    root.handlers, root.level = handlers, level


@pytest.mark.usefixtures("json_logging")
def test_each_scheduled_retry_is_one_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    platform_logging.configure("test", "info", json=True)
    policy = RetryPolicy(attempts=2, wait_initial=0.001, wait_jitter=0.0)
    run(policy, [TransientFailure("processor", "timeout", "timed out")])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    retries = [line for line in lines if line["event"] == "processor_retry"]
    assert len(retries) == 1
    assert retries[0]["reason"] == "timeout"
    assert retries[0]["retry"] == 1
    assert retries[0]["error"] == "timed out"
