"""Helpers for driving helm against the test control plane: running a release command and
refusing any warning it prints, standing in for the job controller so helm's hook Jobs
finish, and listing what the server stores (to see what an uninstall leaves behind)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .conftest import RELEASE, Cluster, Scenario
from .control_plane import ControlPlane

# Not listed when looking for what the chart leaves behind: the server writes events and
# leases on its own.
UNLISTED_RESOURCES = {"events", "events.events.k8s.io", "leases.coordination.k8s.io"}

ObjectId = tuple[str, str, str]  # (resource, namespace, name)


def helm_release(
    cluster: Cluster, verb: str, chart: Path, scenario: Scenario, *extra: str
) -> list[str]:
    """`helm install|upgrade` of `chart` with the scenario's values into its namespace.
    Fails on a non-zero exit; returns the warnings helm printed (server warnings included)."""
    result = cluster.run(
        "helm",
        verb,
        RELEASE,
        str(chart),
        "--namespace",
        scenario.namespace,
        *scenario.values_args(),
        *extra,
        "--timeout",
        "120s",
    )
    assert result.returncode == 0, f"helm {verb} ({scenario.name}):\n{result.stderr}"
    return warnings(result.stderr)


# Informational stderr lines: helm's own (`level=INFO`, e.g. about the observability symlink)
# and client-go's klog info lines (`I1201 12:00:00.000000 ...`, e.g. a watch helm ended) except
# those of client-go's warnings.go: that is how helm 4 prints the API server's warnings.
_INFO_LINE = re.compile(r"^(I\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ (?!warnings\.go:)|.*\blevel=INFO\b)")


def warnings(stderr: str) -> list[str]:
    """Every stderr line of helm that is not plain information: the API server's warnings
    (Pod Security `warn` mode, deprecated fields, ...) and helm's own."""
    return [line for line in stderr.splitlines() if line.strip() and not _INFO_LINE.match(line)]


@contextmanager
def completing_jobs(plane: ControlPlane, namespace: str) -> Iterator[list[str]]:
    """Mark every Job created in `namespace` as succeeded, as the job controller would once
    its pod had run (no kubelet runs pods here), so that helm's hook Jobs complete. Yields the
    names of the Jobs it completed."""
    completed: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                jobs = plane.request("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs")
                for job in jobs["items"]:
                    if not job.get("status", {}).get("conditions"):
                        _succeed(plane, namespace, job["metadata"]["name"])
                        completed.append(job["metadata"]["name"])
            except Exception as exc:
                errors.append(exc)
                return
            stop.wait(0.2)

    worker = threading.Thread(target=loop, name=f"jobs-{namespace}", daemon=True)
    worker.start()
    try:
        yield completed
    finally:
        stop.set()
        worker.join()
    assert not errors, f"marking Jobs complete failed: {errors[0]!r}"


def _succeed(plane: ControlPlane, namespace: str, name: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def condition(kind: str) -> dict[str, str]:
        return {
            "type": kind,
            "status": "True",
            "reason": "CompletionsReached",
            "message": "Reached expected number of succeeded pods",
            "lastProbeTime": now,
            "lastTransitionTime": now,
        }

    status = {
        "startTime": now,
        "completionTime": now,
        "succeeded": 1,
        "conditions": [condition("SuccessCriteriaMet"), condition("Complete")],
    }
    plane.request(
        "PATCH",
        f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}/status",
        {"status": status},
        content_type="application/merge-patch+json",
    )


def stored_objects(cluster: Cluster) -> set[ObjectId]:
    """Every object the server stores, cluster-wide and in every namespace, of every resource
    one can list and delete (UNLISTED_RESOURCES aside), as (resource, namespace, name). Read
    over the API directly, a few requests at a time (kubectl would list ~80 resources in turn)."""
    plane = cluster.plane
    versions = [("/api/v1", "")] + [
        (f"/apis/{group['preferredVersion']['groupVersion']}", group["name"])
        for group in plane.request("GET", "/apis")["groups"]
    ]

    def listable(version: tuple[str, str]) -> list[tuple[str, str]]:
        path, group = version
        found = []
        for resource in plane.request("GET", path)["resources"]:
            qualified = f"{resource['name']}.{group}" if group else resource["name"]
            if (
                "/" not in resource["name"]  # a subresource
                and {"list", "delete"} <= set(resource["verbs"])
                and qualified not in UNLISTED_RESOURCES
            ):
                kind = f"{resource['kind']}.{group}" if group else resource["kind"]
                found.append((f"{path}/{resource['name']}", kind))
        return found

    def names(resource: tuple[str, str]) -> set[ObjectId]:
        path, kind = resource
        return {
            (kind, item["metadata"].get("namespace", ""), item["metadata"]["name"])
            for item in plane.request("GET", path)["items"]
        }

    with ThreadPoolExecutor(max_workers=8) as pool:
        resources = [r for found in pool.map(listable, versions) for r in found]
        return set().union(*pool.map(names, resources))


def hook_objects(manifests: list[dict[str, Any]], namespace: str) -> set[ObjectId]:
    """The helm hooks of a render that install/upgrade run and leave in place, as stored_objects
    names them (`test` hooks run only under `helm test`; `hook-succeeded` ones are deleted once
    the hooks succeeded)."""
    found: set[ObjectId] = set()
    for manifest in manifests:
        meta = manifest["metadata"]
        annotations = meta.get("annotations", {})
        events = annotations.get("helm.sh/hook", "")
        policy = annotations.get("helm.sh/hook-delete-policy", "").split(",")
        if events and set(events.split(",")) != {"test"} and "hook-succeeded" not in policy:
            group = manifest["apiVersion"].rpartition("/")[0]
            resource = f"{manifest['kind']}.{group}" if group else manifest["kind"]
            found.add((resource, meta.get("namespace", namespace), meta["name"]))
    return found


def wait_until(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True)
