"""The benchmarks cannot rot: the whole suite runs once at quick size (20 days of history) and
each benchmark must have printed its table and written a JSON file whose non-timing fields
are right (what was stored is what was served, every request answered). Nothing about time
is asserted: these are benchmarks, not tests of speed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench.__main__ import BENCHMARKS, run
from bench.common import Context, Sizes


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bench-results")
    ctx = Context(Sizes.for_mode(quick=True), directory)
    run(list(BENCHMARKS), ctx)
    return directory


def result(results_dir: Path, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((results_dir / f"{name}.json").read_text())
    assert document["benchmark"] == name
    assert document["quick"] is True
    assert document["table"].strip()
    assert document["machine"]["cores"] >= 1
    assert document["machine"]["postgresql"]
    return document["results"]  # type: ignore[no-any-return]


def test_every_benchmark_wrote_its_result(results_dir: Path) -> None:
    assert sorted(path.stem for path in results_dir.glob("*.json")) == sorted(BENCHMARKS)


def test_backfill_stores_what_the_sandbox_served(results_dir: Path) -> None:
    results = result(results_dir, "backfill")
    for name, row in results["per_type"].items():
        assert row["stored"] == row["served"], name
        assert row["requests"] >= row["minimum_requests"] >= 1, name
    assert results["documents_stored"] == results["documents_served"] > 0
    assert results["heart_rate_samples_stored"] == results["heart_rate_samples_served"] > 0
    assert results["archive_rows"] == results["documents_stored"]
    assert results["oura_requests"] >= results["oura_requests_minimum"]
    assert results["collector_peak_rss_mib"] > 0
    assert results["processor_peak_rss_mib"] > 0
    assert results["floor_copied_megabytes"] > 0
    # The warm-up fetched exactly what the collector then asked for (bench.replay).
    assert results["oura_requests_not_replayed"] == 0


def test_incremental_run_only_refetches_the_trailing_days(results_dir: Path) -> None:
    results = result(results_dir, "incremental")
    backfill = result(results_dir, "backfill")
    assert 0 < results["oura_requests"] <= backfill["oura_requests"]
    total = backfill["documents_stored"] + backfill["heart_rate_samples_stored"]
    assert 0 < results["documents_refetched"] < total
    assert results["oura_requests_not_replayed"] == 0


def test_ingest_inserts_new_documents_and_leaves_resent_ones_unchanged(results_dir: Path) -> None:
    results = result(results_dir, "ingest")
    assert {case["data_type"] for case in results["cases"]} >= {"daily_activity", "heartrate"}
    for case in results["cases"]:
        new, again = case["new"], case["unchanged"]
        assert new["documents"] == new["inserted"] == case["batch_size"] * new["batches"] > 0
        assert new["rejected"] == again["rejected"] == 0
        assert again["unchanged"] == again["documents"] > 0


def test_api_answers_every_request_with_what_the_sql_returns(results_dir: Path) -> None:
    results = result(results_dir, "api")
    assert set(results["endpoints"]) == {"dashboard", "sleep_90d", "heart_rate_trend_1y"}
    for name, endpoint in results["endpoints"].items():
        assert endpoint["status"] == 200, name
        assert endpoint["response_rows"] == endpoint["floor_rows"] > 0, name
        for phase in ("serial", "concurrent", "floor", "open_loop"):
            assert endpoint[phase]["requests"] > 0, (name, phase)
            assert endpoint[phase]["errors"] == 0, (name, phase)
            assert endpoint[phase]["p50_ms"] <= endpoint[phase]["p99_ms"], (name, phase)
    # At most one row per day of history (today's night may not have ended yet).
    assert 0 < results["endpoints"]["sleep_90d"]["floor_rows"] <= 20
    assert results["http_round_trip"]["serial"]["errors"] == 0
    assert results["http_round_trip"]["open_loop"]["errors"] == 0
    assert results["http_round_trip"]["open_loop"]["requests"] > 0


def test_footprint_measures_every_service(results_dir: Path) -> None:
    results = result(results_dir, "footprint")
    for service in ("sandbox", "processor", "api"):
        assert results[service]["startup_seconds_median"] > 0, service
        assert results[service]["rss_idle_mib"] > 0, service
        assert results[service]["peak_rss_mib"] >= results[service]["rss_idle_mib"], service
        assert results[service]["load_requests"] > 0, service
    assert results["api_data"] == "backfilled history"


def test_export_and_import_carry_every_document_at_both_sizes(results_dir: Path) -> None:
    sizes = result(results_dir, "export")["runs"]
    assert [size["days"] for size in sizes] == sorted(size["days"] for size in sizes)
    for size in sizes:
        assert size["exported"]["heartrate"] == size["heart_rate_samples"] > 0
        documents = sum(n for name, n in size["exported"].items() if name != "heartrate")
        assert documents == size["documents"] > 0
        assert size["imported_documents"] == size["documents"]
        assert size["imported_heart_rate_samples"] == size["heart_rate_samples"]
        assert size["export_peak_rss_mib"] > 0
        assert size["import_peak_rss_mib"] > 0
