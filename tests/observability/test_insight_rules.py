"""The health alert rules on the insight gauges: valid, unit-tested both ways, labelled for
the daily digest, reading only contract metrics, with a summary that carries the numbers."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from myhealth.insights import rules as insight_rules

from .grafana_checks import OBSERVABILITY, contract_metric_names, rule_unknown_metrics
from .test_alert_rules import promtool

INSIGHT_RULES = OBSERVABILITY / "prometheus" / "rules" / "insights.rules.yaml"
INSIGHT_TESTS = OBSERVABILITY / "prometheus" / "tests" / "insights.rules.test.yaml"
RULES: dict[str, Any] = yaml.safe_load(INSIGHT_RULES.read_text(encoding="utf-8"))
ALERTS = [rule for group in RULES["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_checks_and_unit_tests_pass() -> None:
    checked = promtool("check", "rules", INSIGHT_RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", INSIGHT_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_flag_has_an_alert_and_every_alert_a_firing_and_a_quiet_test() -> None:
    flags = {
        match
        for alert in ALERTS
        for match in re.findall(r'myhealth_insight_flag\{flag="(\w+)"\}', alert["expr"])
    }
    assert flags == set(insight_rules.FLAGS)
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in yaml.safe_load(INSIGHT_TESTS.read_text(encoding="utf-8"))["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {alert["alert"] for alert in ALERTS}
    assert names - firing == set()
    assert names - quiet == set()


@pytest.mark.parametrize("alert", ALERTS, ids=[alert["alert"] for alert in ALERTS])
def test_alert_is_a_health_digest_alert(alert: dict[str, Any]) -> None:
    assert re.fullmatch(r"Myhealth[A-Z]\w+", alert["alert"])
    assert alert["labels"] == {"kind": "health", "severity": "info"}
    annotations = alert["annotations"]
    assert "myhealth_insight_value" in annotations["summary"]  # the numbers, not only words
    assert len(annotations["description"]) > 60
    assert annotations["dashboard_url"].endswith("/d/myhealth-today")


def test_rules_read_only_contract_metrics() -> None:
    assert rule_unknown_metrics(RULES, contract_metric_names()) == []
