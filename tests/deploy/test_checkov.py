"""checkov (offline) over the rendered chart finds nothing that is not consciously skipped in
helm/checkov.yaml with a written reason."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from .conftest import REPO, Render, tool

CONFIG = REPO / "helm" / "checkov.yaml"
# The scenarios that switch the most on: the production values, and the in-chart monitoring
# stack inside the mesh with plain Secrets.
SCANNED = ["prod", "fixture-standalone", "ci-standalone"]


def test_every_skipped_check_has_a_reason() -> None:
    text = CONFIG.read_text()
    skipped = yaml.safe_load(text)["skip-check"]
    assert skipped
    for check in skipped:
        comment = re.search(rf"((?:^ *#.*\n)+) *- {check}\n", text, re.MULTILINE)
        assert comment, f"{check} is skipped without a reason"
        assert len(comment.group(1)) > 40


def test_checkov_finds_no_unskipped_failures(
    render_scenario: Callable[[str], Render], tmp_path: Path
) -> None:
    for scenario in SCANNED:
        manifests = render_scenario(scenario).manifests
        (tmp_path / f"{scenario}.yaml").write_text(yaml.safe_dump_all(manifests))
    result = subprocess.run(
        [tool("checkov"), "--config-file", str(CONFIG), "-d", str(tmp_path), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert summary["resource_count"] > 50
    assert summary["parsing_errors"] == 0
    failed = [
        f"{f['check_id']} {f['check_name']}: {f['resource']}"
        for f in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    assert summary["passed"] > 500
    assert result.returncode == 0, result.stderr
