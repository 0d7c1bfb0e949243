"""Which of the project's alert rules fire on the metrics scraped during a fault.

The scrapes become promtool input series (one sample a minute, in scrape order, then the last
value held for an hour so every `for:` can elapse); timestamp-valued metrics are shifted so
that "now" at the end of the fault is promtool's evaluation time. One `alert_rule_test` per
alert expects it silent; the alerts promtool reports as unexpectedly firing are the answer.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).parents[2]
PROMTOOL = REPO / ".tools" / "bin" / "promtool"
RULES_FILE = REPO / "observability" / "prometheus" / "rules" / "myhealth.rules.yaml"
HOLD_MINUTES = 60

Samples = dict[str, float]  # series selector -> value


def parse(text: str, instance: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {**sample.labels, "instance": instance, "job": "myhealth"}
            rendered = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            found[f"{sample.name}{{{rendered}}}"] = sample.value
    return found


def alert_names() -> list[str]:
    rules: dict[str, Any] = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [
        rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule
    ]


def fired(scrapes: list[Samples], workdir: Path, *, scraped_at: float | None = None) -> list[str]:
    """The alerts that fire at the end of `scrapes` (plus an hour of the last values)."""
    assert PROMTOOL.exists(), f"{PROMTOOL} is missing: run `make tools`"
    assert scrapes, "no scrape to evaluate"
    minutes = len(scrapes) + HOLD_MINUTES
    eval_seconds = (minutes - 1) * 60
    shift = (scraped_at or time.time()) - eval_seconds
    series = []
    for selector in sorted(set().union(*scrapes)):
        values = []
        for scrape in scrapes:
            value = scrape.get(selector)
            if value is not None and "_timestamp_seconds" in selector and value > 0:
                value -= shift
            values.append("_" if value is None else repr(float(value)))
        last = values[-1]
        text = " ".join(values) + (f" {last}x{HOLD_MINUTES - 1}" if last != "_" else "")
        series.append({"series": selector, "values": text})
    test = {
        "rule_files": [str(RULES_FILE)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": f"{eval_seconds}s", "alertname": name, "exp_alerts": []}
                    for name in alert_names()
                ],
            }
        ],
    }
    path = workdir / "fault.test.yaml"
    path.write_text(yaml.safe_dump(test), encoding="utf-8")
    result = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    firing = sorted({name for name in alert_names() if f"alertname: {name}," in output})
    assert result.returncode == 0 or firing, output  # a failure must be a firing alert
    return firing
