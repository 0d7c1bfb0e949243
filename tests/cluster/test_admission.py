"""Tests of the tests: the control plane really refuses what the chart tests rely on it to
refuse, and the release helper really fails on it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import RELEASE, Cluster, Scenario, render
from .release import helm_release

RESTRICTED_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "restricted-probe"},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "main",
                "image": "registry.invalid/probe:1",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    },
}


def dry_run_pod(cluster: Cluster, namespace: str, pod: dict[str, Any]) -> tuple[int, str]:
    result = cluster.run(
        "kubectl",
        "create",
        "--dry-run=server",
        "-n",
        namespace,
        "-o",
        "name",
        "-f",
        "-",
        stdin=json.dumps(pod),
    )
    return result.returncode, result.stderr


def test_a_pod_without_run_as_non_root_is_refused(cluster: Cluster) -> None:
    cluster.ensure_namespaces("admission-probe")
    assert dry_run_pod(cluster, "admission-probe", RESTRICTED_POD) == (0, "")

    root_allowed = copy.deepcopy(RESTRICTED_POD)
    del root_allowed["spec"]["securityContext"]["runAsNonRoot"]
    code, stderr = dry_run_pod(cluster, "admission-probe", root_allowed)
    assert code != 0
    assert 'violates PodSecurity "restricted:v1.34"' in stderr, stderr
    assert "runAsNonRoot" in stderr, stderr


def static_chart(root: Path, name: str, manifests: list[dict[str, Any]]) -> Path:
    """A chart whose one template is `manifests` verbatim."""
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        yaml.safe_dump({"apiVersion": "v2", "name": "probe", "version": "0.1.0"})
    )
    text = yaml.safe_dump_all(manifests)
    assert "{{" not in text, "the manifests would be read as templates"
    (chart / "templates" / "objects.yaml").write_text(text)
    return chart


def chart_deployments(namespace: str) -> list[dict[str, Any]]:
    """The Deployments the chart renders with its defaults."""
    deployments = [m for m in render(Scenario("default", ())) if m["kind"] == "Deployment"]
    assert deployments
    for deployment in deployments:
        deployment["metadata"]["namespace"] = namespace
    return deployments


def test_a_selector_change_fails_the_upgrade(cluster: Cluster, tmp_path: Path) -> None:
    scenario = Scenario("selector-probe", ())
    cluster.ensure_namespaces(scenario.namespace)
    original = chart_deployments(scenario.namespace)
    changed = copy.deepcopy(original)
    for deployment in changed:
        deployment["spec"]["selector"]["matchLabels"]["probe/changed"] = "yes"
        deployment["spec"]["template"]["metadata"]["labels"]["probe/changed"] = "yes"

    assert helm_release(cluster, "install", static_chart(tmp_path, "v1", original), scenario) == []
    with pytest.raises(AssertionError, match="field is immutable"):
        helm_release(cluster, "upgrade", static_chart(tmp_path, "v2", changed), scenario)
    uninstall = cluster.run("helm", "uninstall", RELEASE, "--namespace", scenario.namespace)
    assert uninstall.returncode == 0, uninstall.stderr


def test_a_pod_security_warning_is_reported(cluster: Cluster, tmp_path: Path) -> None:
    """Deployments are only *warned* about under `restricted` (enforce judges Pods): the
    release helper must surface that warning, or the lifecycle test would miss it."""
    scenario = Scenario("warning-probe", ())
    cluster.ensure_namespaces(scenario.namespace)
    deployments = chart_deployments(scenario.namespace)
    for deployment in deployments:
        deployment["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot", None)
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            container.get("securityContext", {}).pop("runAsNonRoot", None)

    found = helm_release(cluster, "install", static_chart(tmp_path, "v1", deployments), scenario)
    assert any("would violate PodSecurity" in line for line in found), found
    assert any("runAsNonRoot" in line for line in found), found
    uninstall = cluster.run("helm", "uninstall", RELEASE, "--namespace", scenario.namespace)
    assert uninstall.returncode == 0, uninstall.stderr
