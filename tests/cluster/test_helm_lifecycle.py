"""Every values scenario through a real API server: `helm install`, an upgrade to a new image
digest, an upgrade with other replica counts, `helm uninstall`. The server runs admission
(Pod Security `restricted` in warn and enforce mode, CRD schemas with their CEL rules) and
refuses immutable-field changes; helm may print no warning at any step. While the release is
installed, every ServiceAccount's RBAC rights are compared with rbac.EXPECTED."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.conftest import CHART

from .conftest import ALL_SCENARIOS, RELEASE, Cluster, Scenario, render
from .rbac import rbac_problems
from .release import completing_jobs, helm_release, hook_objects, stored_objects, warnings

NEW_DIGEST = "sha256:" + "5e" * 32
NEW_REPLICAS = 3
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def pod_template(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        return dict(spec["jobTemplate"]["spec"]["template"])
    return dict(spec["template"])


def pods_of(manifests: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """A Pod for each workload's template, named after the workload: what its controller
    would create, for Pod Security `enforce` (which judges Pods only) to admit or refuse."""
    pods = []
    for manifest in manifests:
        if manifest["kind"] not in WORKLOADS:
            continue
        template = pod_template(manifest)
        metadata = template.get("metadata", {})
        pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{manifest['kind'].lower()}-{manifest['metadata']['name']}"[:63],
                    "namespace": namespace,
                    "labels": metadata.get("labels", {}),
                    "annotations": metadata.get("annotations", {}),
                },
                "spec": template["spec"],
            }
        )
    return pods


def our_images(deployment: dict[str, Any], repository: str) -> list[str]:
    """Images of the chart's own containers (the standalone monitoring runs third-party ones)."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return [
        c["image"]
        for c in containers
        if c["image"].startswith((f"{repository}:", f"{repository}@"))
    ]


@pytest.fixture
def release_cleanup(cluster: Cluster) -> Iterator[list[str]]:
    """Namespaces whose release the test has not uninstalled itself: uninstalled afterwards,
    so that one failing scenario does not fail the next with an ownership conflict."""
    pending: list[str] = []
    yield pending
    for namespace in pending:
        cluster.run("helm", "uninstall", RELEASE, "--namespace", namespace, "--wait")


@pytest.mark.parametrize("scenario", ALL_SCENARIOS, ids=lambda s: s.name)
def test_install_upgrade_uninstall(
    cluster: Cluster, scenario: Scenario, release_cleanup: list[str]
) -> None:
    namespace = scenario.namespace
    manifests = render(scenario)
    before = stored_objects(cluster)

    release_cleanup.append(namespace)
    with completing_jobs(cluster.plane, namespace) as completed:
        assert helm_release(cluster, "install", CHART, scenario) == []
        installed = stored_objects(cluster) - before
        migrations = [m for m in manifests if m["kind"] == "Job"]
        assert len(completed) == len(migrations), "every hook Job ran to completion"

        # Every pod the workloads would start is admitted under `restricted` (enforce mode).
        pods = pods_of(manifests, namespace)
        if pods:
            cluster.kubectl(
                "create",
                "--dry-run=server",
                "-o",
                "name",
                "-f",
                "-",
                stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}),
            )

        # Each ServiceAccount may do what rbac.EXPECTED says, and nothing cluster-wide.
        problems = rbac_problems(cluster, manifests, namespace)
        assert not problems, "\n".join(problems)

        values = cluster.run("helm", "get", "values", RELEASE, "-n", namespace, "-a", "-o", "json")
        assert values.returncode == 0, values.stderr
        repository = json.loads(values.stdout)["image"]["repository"]
        digest = ("--set", f"image.digest={NEW_DIGEST}")
        assert helm_release(cluster, "upgrade", CHART, scenario, *digest) == []
        upgraded = [
            image
            for deployment in cluster.get_json("deployments", "-n", namespace)["items"]
            for image in our_images(deployment, repository)
        ]
        assert upgraded, "the chart's Deployments run its image"
        assert all(image == f"{repository}@{NEW_DIGEST}" for image in upgraded), upgraded

        replicas = f"processor.replicaCount={NEW_REPLICAS},api.replicaCount={NEW_REPLICAS}"
        assert helm_release(cluster, "upgrade", CHART, scenario, *digest, "--set", replicas) == []
        autoscaled = {
            hpa["spec"]["scaleTargetRef"]["name"]
            for hpa in cluster.get_json("horizontalpodautoscalers", "-n", namespace)["items"]
        }
        for deployment in cluster.get_json("deployments", "-n", namespace)["items"]:
            # Under an HPA the chart leaves replicas to the autoscaler; otherwise the chart's
            # own Deployments must have the new count.
            name = deployment["metadata"]["name"]
            if name not in autoscaled and our_images(deployment, repository):
                assert deployment["spec"]["replicas"] == NEW_REPLICAS, name

    history = cluster.run("helm", "history", RELEASE, "--namespace", namespace, "-o", "json")
    assert [r["status"] for r in json.loads(history.stdout)] == [
        "superseded",
        "superseded",
        "deployed",
    ]

    uninstall = cluster.run("helm", "uninstall", RELEASE, "--namespace", namespace, "--wait")
    assert uninstall.returncode == 0, uninstall.stderr
    assert warnings(uninstall.stderr) == []
    release_cleanup.remove(namespace)

    # What stays: exactly helm's hooks (the migration Job and its ServiceAccount, its Secret or
    # ExternalSecret, the SecretStore and its ServiceAccount). Helm never deletes hooks on
    # uninstall; their policy (before-hook-creation) replaces them on the next install.
    left = stored_objects(cluster) - before
    assert left == hook_objects(manifests, namespace), sorted(left)
    assert installed, "the install stored objects"
