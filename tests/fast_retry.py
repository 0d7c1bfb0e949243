"""A retry policy with the product's attempts and millisecond waits, for tests that check what
is retried rather than how long the waits are."""

from __future__ import annotations

from myhealth.platform.retry import RetryPolicy

FAST_RETRY = RetryPolicy(wait_initial=0.001, wait_max=0.01, wait_jitter=0.0)
