"""Hypothesis profiles for the property-based tests of the ingest path.

`make test` runs the bounded `default` profile (a few dozen examples, real PostgreSQL); `make
fuzz` sets HYPOTHESIS_PROFILE=fuzz for many more. Each test module imports this module, so
the profiles are registered before any test runs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

# Each example talks to a real processor and PostgreSQL: tens of milliseconds, not microseconds.
_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    "derandomize": False,
}
settings.register_profile("default", max_examples=25, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("fuzz", max_examples=1000, **_COMMON)  # type: ignore[arg-type]
# For investigating a failure: few examples, no shrinking (the first failure as it was found).
settings.register_profile(
    "debug",
    max_examples=10,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    **_COMMON,  # type: ignore[arg-type]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def examples(default: int, fuzz: int) -> int:
    """The example count for a slow test: `default` in `make test`, `fuzz` in `make fuzz`."""
    return fuzz if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else default
