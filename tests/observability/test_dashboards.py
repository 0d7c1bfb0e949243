"""The Grafana dashboards: structure, PromQL against the metric contract, and every SQL query
run against a migrated PostgreSQL holding realistic data."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from prometheus_client import generate_latest

from myhealth.platform.metrics import HttpMetrics, new_registry

from .conftest import RANGES, SAMPLE
from .grafana_checks import (
    DASHBOARDS_DIR,
    POSTGRES_TYPE,
    TimeRange,
    contract_metric_names,
    default_promql_variables,
    expand_sql,
    load_dashboards,
    load_datasources,
    metric_names,
    promql_targets,
    scraped_metric_names,
    sql_targets,
    structural_problems,
    substitute_promql,
    unknown_metrics,
    variables_of,
)
from .sample_data import fill

DASHBOARDS = load_dashboards()
DATASOURCES = load_datasources()

# The dashboards the issue asks for, by uid.
EXPECTED_UIDS = {
    "myhealth-overview",
    "myhealth-sleep",
    "myhealth-activity",
    "myhealth-readiness",
    "myhealth-service-health",
    "myhealth-today",
}


def test_the_expected_dashboards_exist() -> None:
    assert {dashboard["uid"] for dashboard in DASHBOARDS.values()} == EXPECTED_UIDS


def test_datasources_are_provisioned_with_fixed_uids() -> None:
    assert DATASOURCES == {"myhealth-postgres": POSTGRES_TYPE, "prometheus": "prometheus"}


def test_dashboards_are_structurally_sound() -> None:
    assert structural_problems(DASHBOARDS, DATASOURCES) == []


def test_structural_check_catches_broken_dashboards() -> None:
    good = DASHBOARDS["sleep.json"]
    panels = [dict(panel) for panel in good["panels"]]
    panels[2] = {**panels[2], "id": panels[1]["id"], "type": "graphz"}
    panels[3] = {**panels[3], "gridPos": dict(panels[4]["gridPos"])}
    panels[5] = {**panels[5], "datasource": {"type": POSTGRES_TYPE, "uid": "nope"}}
    broken = {**good, "panels": panels, "id": 3}
    problems = structural_problems({"good.json": good, "broken.json": broken}, DATASOURCES)
    text = "\n".join(problems)
    for expected in (
        "also used by good.json",
        "duplicate panel id",
        "unknown panel type 'graphz'",
        "overlaps",
        "'nope' is not provisioned",
        "must not carry an id",
    ):
        assert expected in text


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_has_tags_and_a_fitting_time_range(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert "myhealth" in dashboard["tags"]
    assert dashboard["time"]["to"] == "now"
    expected_from = {"myhealth-service-health": "now-6h", "myhealth-today": "now-24h"}.get(
        dashboard["uid"], "now-30d"
    )
    assert dashboard["time"]["from"] == expected_from


def test_every_promql_expression_parses_and_names_only_contract_metrics() -> None:
    contract = contract_metric_names()
    assert "myhealth_http_requests_total" in contract  # the contract list was found
    problems: list[str] = []
    for dashboard in DASHBOARDS.values():
        problems += unknown_metrics(dashboard, contract)
    assert problems == []


def test_the_important_metrics_are_charted() -> None:
    charted: set[str] = set()
    time_range = RANGES["last-30d"]
    for dashboard in DASHBOARDS.values():
        variables = default_promql_variables(dashboard)
        for _title, _ref, expr in promql_targets(dashboard):
            for name in metric_names(substitute_promql(expr, time_range, variables)):
                charted.add(name.removesuffix("_bucket"))
    # myhealth_build_info only feeds the version stat and the service variable; all are charted.
    # The insight gauges describe the latest day only, for the alert rules: dashboards chart the
    # insights' whole history from PostgreSQL instead (docs/monitoring.md#baseline-bands).
    alerting_only = {n for n in contract_metric_names() if n.startswith("myhealth_insight_")}
    assert alerting_only
    assert contract_metric_names() - alerting_only - charted == set()


def test_metric_check_reports_a_metric_the_services_do_not_export() -> None:
    dashboard = DASHBOARDS["service-health.json"]
    exported = contract_metric_names() - {"myhealth_db_up"}
    assert any(
        problem.endswith(": myhealth_db_up") for problem in unknown_metrics(dashboard, exported)
    )


def test_the_platform_http_metrics_charted_are_really_exported() -> None:
    # A real scrape of the shared platform metrics (what every service serves at /metrics):
    # histograms appear as _bucket/_sum/_count series, counters with _total.
    registry = new_registry("api")
    http = HttpMetrics(registry, "api")
    http.observe("GET", "/api/v1/sleep", 200, 0.05)
    http.in_flight.labels("api").set(0)
    scraped = scraped_metric_names(generate_latest(registry).decode())
    assert "myhealth_http_request_duration_seconds_bucket" in scraped
    platform = {"myhealth_build_info", "myhealth_http_requests_total"}
    platform |= {"myhealth_http_request_duration_seconds", "myhealth_http_requests_in_flight"}
    others = contract_metric_names() - platform
    assert unknown_metrics(DASHBOARDS["service-health.json"], scraped | others) == []
    # ...and without the scrape's HTTP metrics the check notices their absence.
    missing = unknown_metrics(DASHBOARDS["service-health.json"], others)
    assert any(
        problem.endswith("myhealth_http_request_duration_seconds_bucket") for problem in missing
    )


def test_promql_with_a_syntax_error_is_reported() -> None:
    with pytest.raises(ValueError, match="unclosed left parenthesis"):
        metric_names("sum(rate(myhealth_http_requests_total[5m])")


# ------------------------------------------------------------------------ SQL panels


def _variable_sets(dashboard: Mapping[str, Any]) -> Iterator[dict[str, str | list[str]]]:
    """Every combination of the custom variables' options, with textbox defaults."""
    fixed: dict[str, str | list[str]] = {}
    choices: dict[str, list[str]] = {}
    for variable in variables_of(dashboard):
        if variable["type"] == "textbox":
            fixed[variable["name"]] = str(variable["query"])
        elif variable["type"] == "custom":
            choices[variable["name"]] = [option["value"] for option in variable["options"]]
    for combination in itertools.product(*choices.values()):
        yield {**fixed, **dict(zip(choices, combination, strict=True))}


def _resolve_query_variables(
    conn: psycopg.Connection,
    dashboard: Mapping[str, Any],
    time_range: TimeRange,
    values: dict[str, str | list[str]],
) -> None:
    """Run each SQL query variable and select its first value, as Grafana does on load."""
    for variable in variables_of(dashboard):
        if variable["type"] != "query" or variable["datasource"]["type"] != POSTGRES_TYPE:
            continue
        row = conn.execute(expand_sql(variable["query"], time_range, values)).fetchone()
        values[variable["name"]] = str(row[0]) if row else ""


def run_all_sql(
    database_url: str, ranges: Mapping[str, TimeRange] = RANGES
) -> tuple[list[str], list[str], int]:
    """(errors, empty results, queries run) over every dashboard, range and variable value."""
    errors: list[str] = []
    empty: list[str] = []
    count = 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Grafana's role is read-only; a query that writes must fail here too.
        conn.execute("SET default_transaction_read_only = on")
        conn.execute("SET statement_timeout = '10s'")
        for (name, dashboard), (range_name, time_range) in itertools.product(
            DASHBOARDS.items(), ranges.items()
        ):
            for values in _variable_sets(dashboard):
                _resolve_query_variables(conn, dashboard, time_range, values)
                for title, ref_id, raw_sql in sql_targets(dashboard):
                    where = f"{name} / {title} [{ref_id}] / {range_name} / {values}"
                    count += 1
                    try:
                        cursor = conn.execute(expand_sql(raw_sql, time_range, values))
                        rows = cursor.fetchall()
                    except psycopg.Error as error:
                        errors.append(f"{where}: {error}")
                        continue
                    if not rows:
                        empty.append(where)
    return errors, empty, count


def test_every_sql_query_returns_rows_on_a_filled_database(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        fill(conn, SAMPLE)
    errors, empty, count = run_all_sql(database_url)
    assert errors == []
    # With a full sample every panel has something to show, so all of them are "key panels".
    assert empty == []
    assert count > 150


def test_every_sql_query_runs_on_an_empty_database(database_url: str) -> None:
    errors, _empty, count = run_all_sql(database_url)
    assert errors == []
    assert count > 150


def test_time_series_queries_return_a_time_column(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        fill(conn, SAMPLE)
        for name, dashboard in DASHBOARDS.items():
            values = next(_variable_sets(dashboard))
            _resolve_query_variables(conn, dashboard, RANGES["last-30d"], values)
            for panel in dashboard["panels"]:
                for target in panel.get("targets", []):
                    if target.get("format") != "time_series":
                        continue
                    cursor = conn.execute(expand_sql(target["rawSql"], RANGES["last-30d"], values))
                    columns = [column.name for column in cursor.description or []]
                    assert columns[0] == "time", f"{name} / {panel['title']}: {columns}"


def test_the_hypnogram_expands_the_selected_night(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        fill(conn, SAMPLE)
        night = conn.execute(
            "SELECT sleep_phase_5_min, bedtime_start FROM main_sleep_periods WHERE day = %s",
            (SAMPLE.last_day,),
        ).fetchone()
        assert night is not None
        panel = next(
            panel for panel in DASHBOARDS["sleep.json"]["panels"] if panel["title"] == "Hypnogram"
        )
        values: dict[str, str | list[str]] = {"night": str(SAMPLE.last_day)}
        time_range = RANGES["last-7d"]
        rows = conn.execute(
            expand_sql(panel["targets"][0]["rawSql"], time_range, values)
        ).fetchall()
    assert "".join(str(stage) for _clock, stage in rows) == night[0]
    # Clock labels are in the dashboard's time zone (the viewer's, here Los Angeles).
    assert rows[0][0] == night[1].astimezone(ZoneInfo(time_range.timezone)).strftime("%H:%M")


def test_dashboard_files_are_formatted_json() -> None:
    import json

    for path in DASHBOARDS_DIR.glob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n", path.name


def test_provisioning_takes_credentials_from_the_environment() -> None:
    import yaml

    from .grafana_checks import DATASOURCES_FILE, OBSERVABILITY

    sources = yaml.safe_load(DATASOURCES_FILE.read_text(encoding="utf-8"))["datasources"]
    postgres = next(source for source in sources if source["uid"] == "myhealth-postgres")
    for value in (
        postgres["url"],
        postgres["user"],
        postgres["jsonData"]["database"],
        postgres["jsonData"]["sslmode"],
        postgres["secureJsonData"]["password"],
    ):
        assert re.fullmatch(r"\$\{MYHEALTH_[A-Z_]+\}", value), value
    providers_file = OBSERVABILITY / "grafana" / "provisioning" / "dashboards" / "dashboards.yaml"
    providers = yaml.safe_load(providers_file.read_text(encoding="utf-8"))
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/var/lib/grafana/dashboards")


def test_annotations_return_the_columns_grafana_reads(database_url: str) -> None:
    """time, timeend (a region), text and tags; every annotation has events in the sample."""
    with psycopg.connect(database_url) as conn:
        fill(conn, SAMPLE)
        seen: dict[str, int] = {}
        for dashboard in DASHBOARDS.values():
            for annotation in dashboard["annotations"]["list"]:
                if "rawSql" not in annotation.get("target", {}):
                    continue
                sql = expand_sql(annotation["target"]["rawSql"], RANGES["last-30d"])
                cursor = conn.execute(sql)
                rows = cursor.fetchall()
                columns = [column.name for column in cursor.description or []]
                assert columns == ["time", "timeend", "text", "tags"], annotation["name"]
                assert all(start <= end for start, end, _text, _tags in rows)
                assert all(text for _start, _end, text, _tags in rows), annotation["name"]
                seen[annotation["name"]] = len(rows)
    assert set(seen) == {"Workouts", "Tags", "Rest mode"}
    assert all(seen.values()), seen
