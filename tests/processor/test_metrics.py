"""/metrics exposes every processor metric of the contract (docs/development.md),
including those read from the database at scrape time."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families

from .support import example_documents, ingest

CONTRACT = Path(__file__).parents[2] / "docs" / "development.md"


# Every metric the contract asks of an HTTP service and of the processor.
PROCESSOR_METRICS = {
    "myhealth_build_info",
    "myhealth_http_requests_total",
    "myhealth_http_request_duration_seconds",
    "myhealth_http_requests_in_flight",
    "myhealth_db_pool_connections",
    "myhealth_db_up",
    "myhealth_ingest_documents_total",
    "myhealth_ingest_requests_rejected_total",
    "myhealth_ingest_batch_duration_seconds",
    "myhealth_data_newest_day_timestamp_seconds",
    "myhealth_sync_last_success_timestamp_seconds",
    "myhealth_collector_last_run_timestamp_seconds",
    "myhealth_collector_runs",
    "myhealth_oauth_reauth_required",
    "myhealth_quarantined_documents",
    "myhealth_oura_requests_total",
    "myhealth_oura_retries_total",
    "myhealth_insight_flag",
    "myhealth_insight_streak_days",
    "myhealth_insight_value",
    "myhealth_insight_baseline",
    "myhealth_insight_latest_day_timestamp_seconds",
}


def contract_names() -> set[str]:
    """The metric names the contract document lists."""
    text = CONTRACT.read_text()
    section = text[text.index("## Metric names") : text.index("Collector run bookkeeping")]
    return set(re.findall(r"`(myhealth_[a-z0-9_]+)", section))


def scrape(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_every_contract_metric_is_exposed(client: httpx.Client) -> None:
    """Declared from the first scrape, even on an empty database (series whose value does not
    exist yet, such as the time of the last successful run, have no sample until it does)."""
    ingest(client, "daily_sleep", example_documents("daily_sleep"))
    text = client.get("/metrics").text
    declared = set(re.findall(r"^# TYPE (myhealth_[a-z0-9_]+) ", text, flags=re.MULTILINE))

    assert PROCESSOR_METRICS - contract_names() == set()  # the list above is the contract's
    assert PROCESSOR_METRICS - declared == set()


def test_values_from_ingest_and_from_the_database(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    two_days_ago, hour_ago = now - dt.timedelta(days=2), now - dt.timedelta(hours=1)
    db.execute(
        """INSERT INTO sync_runs (started_at, finished_at, status, data_types, counts) VALUES
           (%(two_days_ago)s, %(two_days_ago)s + interval '5 min', 'succeeded', '{daily_sleep}',
            '{"documents": {"daily_sleep": 4},
              "oura_requests": {"daily_sleep 200": 3, "heartrate 429": 1},
              "oura_retries": {"rate_limited": 1}}'),
           (%(hour_ago)s, %(hour_ago)s + interval '1 min', 'failed', '{daily_sleep}',
            '{"oura_requests": {"daily_sleep 200": 2, "daily_sleep 401": 1},
              "reauth_required": true}'),
           (%(now)s, NULL, 'running', '{daily_sleep}', '{}')""",
        {"two_days_ago": two_days_ago, "hour_ago": hour_ago, "now": now},
    )
    db.execute(
        """INSERT INTO sync_run_types (run_id, data_type, status, finished_at)
           SELECT run_id, 'daily_sleep', status, finished_at FROM sync_runs
           WHERE status <> 'running'"""
    )
    documents = example_documents("daily_sleep")
    ingest(client, "daily_sleep", [*documents, {"id": "no-day"}])
    ingest(client, "daily_sleep", documents)
    ingest(
        client,
        "heartrate",
        [{"bpm": 55, "source": "rest", "timestamp": "2024-12-13T23:30:00-02:00"}],
    )

    s = scrape(client)

    n = len(documents)
    ingest_total = "myhealth_ingest_documents_total"
    assert value(s, ingest_total, data_type="daily_sleep", outcome="received") == 2 * n + 1
    assert value(s, ingest_total, data_type="daily_sleep", outcome="inserted") == n
    assert value(s, ingest_total, data_type="daily_sleep", outcome="unchanged") == n
    assert value(s, ingest_total, data_type="daily_sleep", outcome="rejected") == 1
    assert value(s, ingest_total, data_type="workout", outcome="received") == 0
    assert value(s, "myhealth_ingest_batch_duration_seconds_count", data_type="daily_sleep") == 2

    midnight = dt.datetime(2024, 11, 12, tzinfo=dt.UTC).timestamp()
    newest = "myhealth_data_newest_day_timestamp_seconds"
    assert value(s, newest, data_type="daily_sleep") == midnight
    assert (
        value(s, newest, data_type="heartrate")
        == dt.datetime(2024, 12, 14, tzinfo=dt.UTC).timestamp()
    )
    assert (newest, frozenset({("data_type", "workout")})) not in s  # nothing stored yet

    finished = (two_days_ago + dt.timedelta(minutes=5)).timestamp()
    assert (
        value(s, "myhealth_sync_last_success_timestamp_seconds", data_type="daily_sleep")
        == finished
    )
    last_run = "myhealth_collector_last_run_timestamp_seconds"
    assert value(s, last_run, status="succeeded") == finished
    assert value(s, last_run, status="failed") == (hour_ago + dt.timedelta(minutes=1)).timestamp()
    runs = "myhealth_collector_runs"
    assert [value(s, runs, status=x) for x in ("running", "succeeded", "failed")] == [1, 0, 1]
    assert value(s, "myhealth_oauth_reauth_required") == 1
    assert value(s, "myhealth_quarantined_documents", data_type="daily_sleep") == 1
    assert value(s, "myhealth_quarantined_documents", data_type="sleep") == 0

    requests = "myhealth_oura_requests_total"
    assert value(s, requests, route="daily_sleep", status="200") == 5
    assert value(s, requests, route="daily_sleep", status="401") == 1
    assert value(s, requests, route="heartrate", status="429") == 1
    retries = "myhealth_oura_retries_total"
    assert value(s, retries, reason="rate_limited") == 1
    assert value(s, retries, reason="timeout") == 0

    assert value(s, "myhealth_db_up", service="processor") == 1
    assert value(s, "myhealth_db_pool_connections", service="processor", state="size") >= 1
    assert value(s, "myhealth_build_info", service="processor", version="0.1.0") == 1
    assert (
        value(
            s,
            "myhealth_http_requests_total",
            service="processor",
            method="POST",
            route="/api/v1/ingest",
            status="200",
        )
        == 3
    )


def test_rejected_requests_are_counted_by_reason(client: httpx.Client) -> None:
    client.post("/api/v1/ingest", content=b"{", headers={"Content-Type": "application/json"})
    client.post("/api/v1/ingest", json={"data_type": "steps", "documents": []})
    httpx.post(f"{client.base_url}/api/v1/ingest", json={"data_type": "sleep", "documents": []})

    s = scrape(client)

    rejected = "myhealth_ingest_requests_rejected_total"
    assert value(s, rejected, reason="malformed") == 1
    assert value(s, rejected, reason="unknown_type") == 1
    assert value(s, rejected, reason="unauthorized") == 1
    assert value(s, rejected, reason="too_large") == 0


def test_a_far_future_heart_rate_sample_does_not_break_the_refresh(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    """A stored sample dated year 10000 cannot become a Python date; the refresh used to fail
    on it, leaving every database-derived metric stale (and `myhealth_db_up` at 0)."""
    db.execute(
        "INSERT INTO heart_rate (timestamp, source, bpm) VALUES ('10000-01-01 12:00Z', 'x', 60)"
    )
    db.execute(
        "INSERT INTO quarantined_documents (data_type, document, reason)"
        " VALUES ('sleep', '{}', 'r')"
    )

    s = scrape(client)

    year_10000 = ((dt.date(9999, 12, 31) - dt.date(1970, 1, 1)).days + 1) * 86_400.0
    newest = "myhealth_data_newest_day_timestamp_seconds"
    assert value(s, newest, data_type="heartrate") == year_10000
    assert value(s, "myhealth_quarantined_documents", data_type="sleep") == 1
    assert value(s, "myhealth_db_up", service="processor") == 1


def test_scrape_stays_fast_with_a_long_collector_history(
    client: httpx.Client, db: psycopg.Connection
) -> None:
    """100,000 recorded runs (a year of five-minute runs is 105,120): the scrape used to
    expand the JSON counts of every run (2.3 s at a year, and `myhealth_db_up` 0 beyond its
    timeout); now the totals are kept as runs are written and the rest are index probes.

    Judged against the same scrape over an empty history, measured first in this run (the
    machine's speed and load cancel out); the old query was ~20x slower at this size."""
    scrape(client)  # warms up connections and plans
    floor = fastest_scrape(client)
    db.execute(
        """INSERT INTO sync_runs (started_at, finished_at, status, data_types, counts)
           SELECT now() - n * interval '5 minutes',
                  now() - n * interval '5 minutes' + interval '1 min',
                  CASE WHEN n % 50 = 0 THEN 'failed' ELSE 'succeeded' END, '{daily_sleep}',
                  jsonb_build_object('documents', jsonb_build_object('daily_sleep', 1),
                                     'oura_requests', jsonb_build_object('daily_sleep 200', 2),
                                     'oura_retries', jsonb_build_object('timeout', n % 2))
           FROM generate_series(1, 100000) AS n"""
    )
    db.execute(
        """INSERT INTO sync_run_types (run_id, data_type, status, finished_at)
           SELECT run_id, 'daily_sleep', status, finished_at FROM sync_runs"""
    )
    db.execute("ANALYZE")
    scrape(client)  # plans again for the new statistics

    fastest = fastest_scrape(client)
    s = scrape(client)

    assert value(s, "myhealth_oura_requests_total", route="daily_sleep", status="200") == 200_000
    assert value(s, "myhealth_oura_retries_total", reason="timeout") == 50_000
    assert value(s, "myhealth_collector_runs", status="succeeded") > 0
    assert value(s, "myhealth_db_up", service="processor") == 1
    assert fastest < 5 * floor, f"{fastest * 1000:.1f} ms against {floor * 1000:.1f} ms empty"


def fastest_scrape(client: httpx.Client, times: int = 5) -> float:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        scrape(client)
        durations.append(time.perf_counter() - started)
    return min(durations)
