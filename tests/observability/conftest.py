"""Shared values for the observability tests."""

from __future__ import annotations

from datetime import date, timedelta

from .grafana_checks import TimeRange
from .sample_data import SampleRange

# 120 days of data, so 90-day views and rolling averages have history before the range starts.
SAMPLE = SampleRange(last_day=date(2026, 8, 31), days=120)

# What Grafana sends for "Last 7/30/90 days" opened on the evening of the last day, by viewers
# west and east of UTC and in UTC (the dashboard's effective zone is ${__timezone}).
VIEWER_ZONES = {7: "America/Los_Angeles", 30: "Pacific/Auckland", 90: "UTC"}
RANGES = {
    f"last-{days}d": TimeRange(
        start=SAMPLE.time_to - timedelta(days=days), end=SAMPLE.time_to, timezone=zone
    )
    for days, zone in VIEWER_ZONES.items()
}
