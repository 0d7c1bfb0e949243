"""Personal baselines, deviations and flags (docs/architecture.md#insights)."""
