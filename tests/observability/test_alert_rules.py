"""The Prometheus alert rules: promtool checks and unit tests, and the conventions every alert
follows (severity, summary, description, a runbook that exists)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .grafana_checks import (
    OBSERVABILITY,
    REPO,
    RULES_FILE,
    contract_metric_names,
    rule_unknown_metrics,
)

PROMTOOL = REPO / ".tools" / "bin" / "promtool"
RULE_TESTS = sorted((OBSERVABILITY / "prometheus" / "tests").glob("*.yaml"))
SCRAPE_CONFIG = OBSERVABILITY / "prometheus" / "prometheus.yml"
RUNBOOKS = REPO / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/eric-n/myhealth/blob/main/docs/runbooks.md"

RULES: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"] if "alert" in rule]


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.exists(), f"{PROMTOOL} is missing: run `make tools`"
    return subprocess.run(
        [str(PROMTOOL), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", RULES_FILE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS
    result = promtool("test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "groups:\n- name: x\n  rules:\n  - alert: X\n    expr: sum(rate(x[5m])\n",
        encoding="utf-8",
    )
    result = promtool("check", "rules", broken)
    assert result.returncode != 0
    assert "unclosed left parenthesis" in result.stdout + result.stderr


def test_scrape_config_is_valid_and_scrapes_the_three_services() -> None:
    result = promtool("check", "config", SCRAPE_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(SCRAPE_CONFIG.read_text(encoding="utf-8"))
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {"processor:8081", "api:8080", "sandbox:8090"}


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#{1,6} +(.+?) *$", markdown, re.MULTILINE)
    return {
        re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings
    }


@pytest.mark.parametrize("alert", ALERTS, ids=[alert["alert"] for alert in ALERTS])
def test_alert_follows_the_conventions(alert: dict[str, Any]) -> None:
    assert re.fullmatch(r"Myhealth[A-Z]\w+", alert["alert"])
    assert alert["labels"]["severity"] in {"critical", "warning", "info"}
    # Alertmanager routes on it: operations page or warn, health notes go to the daily digest.
    assert alert["labels"]["kind"] == "operations"
    annotations = alert["annotations"]
    assert annotations["summary"].strip()
    assert len(annotations["description"]) > 60
    base, _, anchor = annotations["runbook_url"].partition("#")
    assert base == RUNBOOK_BASE
    assert anchor == alert["alert"].lower()
    assert anchor in _anchors(RUNBOOKS.read_text(encoding="utf-8"))


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {alert["alert"] for alert in ALERTS}
    assert names - firing == set()
    assert names - quiet == set()


def test_rules_read_only_contract_metrics() -> None:
    assert rule_unknown_metrics(RULES, contract_metric_names()) == []


def test_stale_thresholds_are_set_per_data_type() -> None:
    from myhealth.oura.catalog import ALL_NAMES

    thresholds = [
        rule
        for group in RULES["groups"]
        for rule in group["rules"]
        if rule.get("record") == "myhealth:data_stale_threshold_seconds"
    ]
    watched = [rule["labels"]["data_type"] for rule in thresholds]
    assert len(watched) == len(set(watched))
    assert set(watched) <= set(ALL_NAMES)
    assert {"daily_sleep", "daily_readiness", "daily_activity"} <= set(watched)


INSTALLERS = ("install-alerting.sh",)


def test_install_script_is_shellcheck_clean() -> None:
    result = subprocess.run(
        ["shellcheck", *(str(REPO / "tools" / name) for name in INSTALLERS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
