"""Service health dashboard (uid myhealth-service-health)."""

from __future__ import annotations

from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode

from .kit import (
    Field,
    Override,
    Place,
    PromQL,
    Section,
    Spec,
    Sql,
    Step,
    bargauge_panel,
    prometheus_label_variable,
    stat_panel,
    table_panel,
    timeseries_panel,
)


def sections() -> list[Section]:
    return [
        Section(
            "At a glance",
            [
                Place(
                    stat_panel(
                        "Database",
                        "The services' last readiness probe of PostgreSQL (worst of all replicas).",
                        [PromQL("min(myhealth_db_up)", legend="Database", instant=True)],
                        Field(
                            steps=(
                                Step("red"),
                                Step("green", 1),
                            ),
                            mappings={"0": "Unreachable", "1": "Up"},
                        ),
                        background=True,
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Oura authorization",
                        "Whether the last collector run failed because Oura refused the token: run `myhealth auth login` when it says so.",
                        [
                            PromQL(
                                "max(myhealth_oauth_reauth_required)", legend="OAuth", instant=True
                            )
                        ],
                        Field(
                            steps=(
                                Step("green"),
                                Step("red", 1),
                            ),
                            mappings={"0": "OK", "1": "Re-login needed"},
                        ),
                        background=True,
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Last successful sync",
                        "Time since a collector run last completed successfully (runs every 5 minutes).",
                        [
                            PromQL(
                                'time() - max(myhealth_collector_last_run_timestamp_seconds{status="succeeded"})',
                                legend="Age",
                                instant=True,
                            )
                        ],
                        Field(
                            unit="s",
                            steps=(
                                Step("green"),
                                Step("orange", 1800),
                                Step("red", 21600),
                            ),
                        ),
                        background=True,
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Collector runs (24 h)",
                        "Collector runs started in the last 24 hours, by status.",
                        [
                            PromQL(
                                "max by (status) (myhealth_collector_runs)",
                                legend="{{status}}",
                                instant=True,
                            )
                        ],
                        Field(unit="short"),
                        show_name=True,
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Quarantined documents",
                        "Oura documents that failed validation and wait in quarantined_documents for a look.",
                        [
                            PromQL(
                                "sum(max by (data_type) (myhealth_quarantined_documents))",
                                legend="Quarantined",
                                instant=True,
                            )
                        ],
                        Field(
                            unit="short",
                            steps=(
                                Step("green"),
                                Step("red", 1),
                            ),
                        ),
                    ),
                    4,
                    4,
                ),
                Place(
                    stat_panel(
                        "Versions",
                        "Replicas reporting each service version.",
                        [
                            PromQL(
                                'count by (service, version) (myhealth_build_info{service=~"$service"})',
                                legend="{{service}} {{version}}",
                                instant=True,
                            )
                        ],
                        Field(unit="short"),
                        name_only=True,
                    ),
                    4,
                    4,
                ),
            ],
        ),
        Section(
            "HTTP",
            [
                Place(
                    timeseries_panel(
                        "Request rate",
                        "Requests per second per service and route template.",
                        [
                            PromQL(
                                'sum by (service, route) (rate(myhealth_http_requests_total{service=~"$service"}[$__rate_interval]))',
                                legend="{{service}} {{route}}",
                            )
                        ],
                        Field(unit="reqps"),
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Error ratio (5xx)",
                        "Share of requests answered with a 5xx status; the alert fires above 5 % for 5 minutes.",
                        [
                            PromQL(
                                """\
            sum by (service, route) (rate(myhealth_http_requests_total{service=~"$service", status=~"5.."}[$__rate_interval]))
            / sum by (service, route) (rate(myhealth_http_requests_total{service=~"$service"}[$__rate_interval]))
            """,
                                legend="{{service}} {{route}}",
                            )
                        ],
                        Field(
                            unit="percentunit",
                            min=0,
                            steps=(
                                Step("transparent"),
                                Step("red", 0.05),
                            ),
                        ),
                        threshold_style=GraphThresholdsStyleMode.DASHED,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Latency per service",
                        "p50, p95 and p99 request latency per service; the alert fires when p95 exceeds 1 s.",
                        [
                            PromQL(
                                'histogram_quantile(0.5, sum by (service, le) (rate(myhealth_http_request_duration_seconds_bucket{service=~"$service"}[$__rate_interval])))',
                                legend="{{service}} p50",
                            ),
                            PromQL(
                                'histogram_quantile(0.95, sum by (service, le) (rate(myhealth_http_request_duration_seconds_bucket{service=~"$service"}[$__rate_interval])))',
                                legend="{{service}} p95",
                            ),
                            PromQL(
                                'histogram_quantile(0.99, sum by (service, le) (rate(myhealth_http_request_duration_seconds_bucket{service=~"$service"}[$__rate_interval])))',
                                legend="{{service}} p99",
                            ),
                        ],
                        Field(
                            unit="s",
                            steps=(
                                Step("transparent"),
                                Step("red", 1),
                            ),
                        ),
                        threshold_style=GraphThresholdsStyleMode.DASHED,
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "p95 latency per route",
                        "95th percentile latency per route template.",
                        [
                            PromQL(
                                'histogram_quantile(0.95, sum by (service, route, le) (rate(myhealth_http_request_duration_seconds_bucket{service=~"$service"}[$__rate_interval])))',
                                legend="{{service}} {{route}}",
                            )
                        ],
                        Field(unit="s"),
                    ),
                    12,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Requests in flight",
                        "Requests being handled right now, per service.",
                        [
                            PromQL(
                                'sum by (service) (myhealth_http_requests_in_flight{service=~"$service"})',
                                legend="{{service}}",
                            )
                        ],
                        Field(unit="short"),
                    ),
                    8,
                    7,
                ),
                Place(
                    timeseries_panel(
                        "Responses by status",
                        "All services' responses per second by status code (429 is the API's rate limiter).",
                        [
                            PromQL(
                                'sum by (status) (rate(myhealth_http_requests_total{service=~"$service"}[$__rate_interval]))',
                                legend="{{status}}",
                            )
                        ],
                        Field(unit="reqps"),
                        stacked=True,
                        fill_opacity=30,
                    ),
                    8,
                    7,
                ),
                Place(
                    timeseries_panel(
                        "Database connection pool",
                        "Pool size, idle (available) connections and requests waiting for one; waiting > 0 for long means the pool is too small or the database slow.",
                        [
                            PromQL(
                                'sum by (service, state) (myhealth_db_pool_connections{service=~"$service"})',
                                legend="{{service}} {{state}}",
                            )
                        ],
                        Field(unit="short"),
                    ),
                    8,
                    7,
                ),
            ],
        ),
        Section(
            "Oura API (collector)",
            [
                Place(
                    timeseries_panel(
                        "Oura API calls by status",
                        "Requests the collector made to Oura, by HTTP status (counted when a run finishes). These counters come from the database, so every processor replica reports the same value: max() across replicas, not sum().",
                        [
                            PromQL(
                                "sum by (status) (max by (route, status) (increase(myhealth_oura_requests_total[$__rate_interval])))",
                                legend="{{status}}",
                            )
                        ],
                        Field(unit="short"),
                        bars=True,
                        stacked=True,
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Oura 429 responses and requests per 5 minutes",
                        "Oura allows about 5000 requests per 5 minutes; the alert fires at 80 % of that or on repeated 429s.",
                        [
                            PromQL(
                                'sum(max by (route) (increase(myhealth_oura_requests_total{status="429"}[5m])))',
                                legend="429 responses",
                            ),
                            PromQL(
                                "sum(max by (route, status) (increase(myhealth_oura_requests_total[5m])))",
                                legend="all requests",
                            ),
                        ],
                        Field(
                            unit="short",
                            overrides=(Override("429 responses", color="red", axis_right=True),),
                        ),
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Retries by reason",
                        "Oura requests the collector retried: rate_limited (429), server_error (5xx), timeout.",
                        [
                            PromQL(
                                "max by (reason) (increase(myhealth_oura_retries_total[$__rate_interval]))",
                                legend="{{reason}}",
                            )
                        ],
                        Field(unit="short"),
                        bars=True,
                        stacked=True,
                    ),
                    8,
                    8,
                ),
            ],
        ),
        Section(
            "Ingest (processor)",
            [
                Place(
                    timeseries_panel(
                        "Documents by outcome",
                        "Documents the processor received, and whether they were inserted, updated, unchanged or rejected (quarantined).",
                        [
                            PromQL(
                                "sum by (outcome) (increase(myhealth_ingest_documents_total[$__rate_interval]))",
                                legend="{{outcome}}",
                            )
                        ],
                        Field(unit="short"),
                        bars=True,
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Documents received by data type",
                        "Documents received per Oura data type.",
                        [
                            PromQL(
                                'sum by (data_type) (increase(myhealth_ingest_documents_total{outcome="received"}[$__rate_interval]))',
                                legend="{{data_type}}",
                            )
                        ],
                        Field(unit="short"),
                        bars=True,
                        stacked=True,
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Rejected requests and documents",
                        "Whole ingest requests refused (unauthorized, too_large, malformed, unknown_type, database) and single documents rejected into quarantine.",
                        [
                            PromQL(
                                "sum by (reason) (increase(myhealth_ingest_requests_rejected_total[$__rate_interval]))",
                                legend="request: {{reason}}",
                            ),
                            PromQL(
                                'sum by (data_type) (increase(myhealth_ingest_documents_total{outcome="rejected"}[$__rate_interval]))',
                                legend="document: {{data_type}}",
                            ),
                        ],
                        Field(unit="short"),
                        bars=True,
                        stacked=True,
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Ingest batch duration (p95)",
                        "95th percentile time to validate and upsert one batch, per data type.",
                        [
                            PromQL(
                                "histogram_quantile(0.95, sum by (data_type, le) (rate(myhealth_ingest_batch_duration_seconds_bucket[$__rate_interval])))",
                                legend="{{data_type}}",
                            )
                        ],
                        Field(unit="s"),
                    ),
                    24,
                    7,
                ),
            ],
        ),
        Section(
            "Freshness and collector runs",
            [
                Place(
                    bargauge_panel(
                        "Newest stored day: age per data type",
                        "Time since midnight UTC of the newest stored day of each type. Daily types are normally under 2 days; workouts, tags and sessions only move when you record one.",
                        [
                            PromQL(
                                "time() - max by (data_type) (myhealth_data_newest_day_timestamp_seconds)",
                                legend="{{data_type}}",
                                instant=True,
                            )
                        ],
                        Field(
                            unit="dtdurations",
                            min=0,
                            steps=(
                                Step("green"),
                                Step("orange", 129600),
                                Step("red", 172800),
                            ),
                        ),
                    ),
                    12,
                    11,
                ),
                Place(
                    bargauge_panel(
                        "Last successful sync per data type",
                        "Time since a collector run last completed each data type.",
                        [
                            PromQL(
                                "time() - max by (data_type) (myhealth_sync_last_success_timestamp_seconds)",
                                legend="{{data_type}}",
                                instant=True,
                            )
                        ],
                        Field(
                            unit="dtdurations",
                            min=0,
                            steps=(
                                Step("green"),
                                Step("orange", 1800),
                                Step("red", 21600),
                            ),
                        ),
                    ),
                    12,
                    11,
                ),
                Place(
                    timeseries_panel(
                        "Collector runs in the last 24 h",
                        "Runs started in the trailing 24 hours, by status (a gauge the processor reads from sync_runs).",
                        [PromQL("max by (status) (myhealth_collector_runs)", legend="{{status}}")],
                        Field(
                            unit="short",
                            overrides=(
                                Override("failed", color="red"),
                                Override("succeeded", color="green"),
                            ),
                        ),
                    ),
                    8,
                    9,
                ),
                Place(
                    table_panel(
                        "Recent collector runs",
                        "The collector's last 50 runs in the range, from the sync_runs table.",
                        [
                            Sql("""\
            SELECT started_at AS "Started", status AS "Status",
                   round(extract(epoch FROM finished_at - started_at)) AS "Duration (s)",
                   cardinality(data_types) AS "Types",
                   (SELECT coalesce(sum(value::integer), 0) FROM jsonb_each_text(counts->'documents')) AS "Documents",
                   start_date AS "From", end_date AS "To", error AS "Error"
            FROM sync_runs
            WHERE $__timeFilter(started_at)
            ORDER BY started_at DESC
            LIMIT 50
            """)
                        ],
                        Field(
                            overrides=(
                                Override(
                                    "Status",
                                    cell_type="color-text",
                                    mapping_colors={
                                        "succeeded": "green",
                                        "failed": "red",
                                        "running": "blue",
                                    },
                                ),
                            )
                        ),
                    ),
                    16,
                    9,
                ),
                Place(
                    table_panel(
                        "Stored data per type",
                        "Straight from PostgreSQL (works without Prometheus): newest stored day, row count and the collector's checkpoint per data type.",
                        [
                            Sql("""\
            SELECT t.data_type AS "Data type", t.newest AS "Newest day", t.rows AS "Rows",
                   c.last_day AS "Checkpoint", c.updated_at AS "Checkpoint moved"
            FROM (
              SELECT 'daily_activity' AS data_type, max(day) AS newest, count(*) AS rows FROM daily_activity
              UNION ALL SELECT 'daily_cardiovascular_age', max(day), count(*) FROM daily_cardiovascular_age
              UNION ALL SELECT 'daily_readiness', max(day), count(*) FROM daily_readiness
              UNION ALL SELECT 'daily_resilience', max(day), count(*) FROM daily_resilience
              UNION ALL SELECT 'daily_sleep', max(day), count(*) FROM daily_sleep
              UNION ALL SELECT 'daily_spo2', max(day), count(*) FROM daily_spo2
              UNION ALL SELECT 'daily_stress', max(day), count(*) FROM daily_stress
              UNION ALL SELECT 'enhanced_tag', max(start_day), count(*) FROM enhanced_tags
              UNION ALL SELECT 'heartrate', max("timestamp")::date, count(*) FROM heart_rate
              UNION ALL SELECT 'rest_mode_period', max(start_day), count(*) FROM rest_mode_periods
              UNION ALL SELECT 'session', max(day), count(*) FROM sessions
              UNION ALL SELECT 'sleep', max(day), count(*) FROM sleep_periods
              UNION ALL SELECT 'sleep_time', max(day), count(*) FROM sleep_time
              UNION ALL SELECT 'tag', max(day), count(*) FROM tags
              UNION ALL SELECT 'vo2_max', max(day), count(*) FROM vo2_max
              UNION ALL SELECT 'workout', max(day), count(*) FROM workouts
            ) AS t
            LEFT JOIN sync_checkpoints c ON c.data_type = t.data_type
            ORDER BY t.data_type
            """)
                        ],
                        Field(),
                    ),
                    24,
                    10,
                ),
            ],
        ),
        Section(
            "Webhooks (Oura push)",
            [
                Place(
                    timeseries_panel(
                        "Webhook requests by outcome",
                        "What the API's /webhooks/oura receiver made of each request: accepted, or refused as bad_signature, stale_timestamp, replayed, wrong_user, too_large, malformed... (docs/webhooks.md).",
                        [
                            PromQL(
                                "sum by (outcome) (increase(myhealth_webhook_requests_total[$__rate_interval]))",
                                legend="{{outcome}}",
                            )
                        ],
                        Field(unit="short"),
                        bars=True,
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Webhook events processed by outcome",
                        "What the processor's webhook worker did with recorded events: done, superseded (duplicate or out of order), not_found, unsupported, retry, failed.",
                        [
                            PromQL(
                                "sum by (outcome) (increase(myhealth_webhook_events_processed_total[$__rate_interval]))",
                                legend="{{outcome}}",
                            )
                        ],
                        Field(unit="short"),
                        bars=True,
                    ),
                    8,
                    8,
                ),
                Place(
                    timeseries_panel(
                        "Since the last webhook event, and events pending",
                        "Time since the API last recorded an Oura event (the MyhealthWebhookEventsMissing alert watches it) and events waiting for the worker.",
                        [
                            PromQL(
                                "time() - max(myhealth_webhook_last_event_received_timestamp_seconds > 0)",
                                legend="since last event",
                            ),
                            PromQL(
                                "max(myhealth_webhook_events_pending)",
                                legend="pending events",
                            ),
                        ],
                        Field(
                            unit="s",
                            overrides=(Override("pending events", unit="short", axis_right=True),),
                        ),
                    ),
                    8,
                    8,
                ),
            ],
        ),
    ]


def spec() -> Spec:
    return Spec(
        uid="myhealth-service-health",
        title="Service health",
        description="Request rate, latency and errors per service and route; database pool; Oura API calls; ingest; data freshness and collector runs.",
        tags=["myhealth", "operations"],
        time_from="now-6h",
        refresh="1m",
        sections=sections(),
        variables=[
            prometheus_label_variable("service", "Service", "myhealth_build_info", "service")
        ],
    )
