"""The processor's own metrics (ingest counters, pool gauges), on the service's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from myhealth.oura.catalog import ALL_NAMES

SERVICE = "processor"
OUTCOMES = ("received", "inserted", "updated", "unchanged", "rejected")
REJECT_REASONS = (
    "unauthorized",
    "too_large",
    "too_slow",
    "malformed",
    "unknown_type",
    "database",
)
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.documents = Counter(
            "myhealth_ingest_documents_total",
            "Documents received by the ingest route, by data type and outcome.",
            ["data_type", "outcome"],
            registry=registry,
        )
        self.requests_rejected = Counter(
            "myhealth_ingest_requests_rejected_total",
            "Ingest requests refused as a whole (nothing stored), by reason.",
            ["reason"],
            registry=registry,
        )
        self.batch_duration = Histogram(
            "myhealth_ingest_batch_duration_seconds",
            "Time to validate and store one ingest batch, by data type.",
            ["data_type"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.db_up = Gauge(
            "myhealth_db_up",
            "1 when the last readiness probe reached the database, else 0.",
            ["service"],
            registry=registry,
        )
        # Every series exists from the start, so rate() and absent() behave from scrape one.
        for data_type in ALL_NAMES:
            for outcome in OUTCOMES:
                self.documents.labels(data_type, outcome)
        for reason in REJECT_REASONS:
            self.requests_rejected.labels(reason)
        self.db_up.labels(SERVICE).set(0)

    def set_db_up(self, up: bool) -> None:
        self.db_up.labels(SERVICE).set(1 if up else 0)
