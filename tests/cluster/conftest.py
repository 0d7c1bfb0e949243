"""The control-plane fixture: one etcd + kube-apiserver for the whole session, with every
vendored CRD installed and the chart's namespaces labelled for Pod Security `restricted`.

Binaries come from tools/install-kube-apiserver.sh (built once per machine, cached in .tools/);
the fixture runs the installer itself, so a fresh clone needs no manual step.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CHART, REPO, SCENARIOS, crd_dir, tool

from .control_plane import CONTEXT, ControlPlane

BINDIR = REPO / ".tools" / "bin"
INSTALLER = REPO / "tools" / "install-kube-apiserver.sh"
RELEASE = "myhealth"
# What the server reports (the installer stamps the version into the binary).
KUBE_VERSION = "1.34.4"
# Build from cold on two cores: about six minutes; the pytest-timeout default is five.
COLD_BUILD_TIMEOUT_SECONDS = 1500
POD_SECURITY_LABELS = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
} | {f"pod-security.kubernetes.io/{mode}-version": "v1.34" for mode in ("enforce", "warn", "audit")}


def _binaries_missing() -> bool:
    return not all((BINDIR / name).exists() for name in ("etcd", "kube-apiserver", "kubectl"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a machine without the binaries the first cluster test waits for the build."""
    if not _binaries_missing():
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.timeout(COLD_BUILD_TIMEOUT_SECONDS))


# --- scenarios ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    values: tuple[Path, ...]

    @property
    def namespace(self) -> str:
        """One namespace per scenario, so a leftover of one never hides behind another."""
        return re.sub(r"[^a-z0-9-]", "-", f"sc-{self.name}".lower())[:63].rstrip("-")

    def values_args(self) -> list[str]:
        args: list[str] = []
        for path in self.values:
            args += ["-f", str(path)]
        return args


def discover_scenarios() -> list[Scenario]:
    """The chart tests' scenarios plus every helm/myhealth/ci/*-values.yaml (each on its own,
    the chart-testing convention), without duplicates."""
    found = {name: Scenario(name, tuple(values)) for name, values in SCENARIOS.items()}
    seen = {scenario.values for scenario in found.values()}
    for path in sorted((CHART / "ci").glob("*-values.yaml")):
        scenario = Scenario(f"ci-{path.name.removesuffix('-values.yaml')}", (path,))
        if scenario.values not in seen:
            found[scenario.name] = scenario
    return list(found.values())


ALL_SCENARIOS = discover_scenarios()


def render(scenario: Scenario) -> list[dict[str, Any]]:
    """`helm template` of a scenario into its namespace (hooks included); rendered once per
    session, a fresh copy each call."""
    return copy.deepcopy(_render(scenario))


@functools.cache
def _render(scenario: Scenario) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            tool("helm"),
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            scenario.namespace,
            "--kube-version",
            KUBE_VERSION,
            *scenario.values_args(),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


# --- the cluster --------------------------------------------------------------------------


@dataclass
class Cluster:
    """The running control plane plus the clients configured for it."""

    plane: ControlPlane
    home: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment for helm and kubectl: our kubeconfig, caches under the session dir."""
        return {
            **os.environ,
            "KUBECONFIG": str(self.plane.kubeconfig),
            "KUBECACHEDIR": str(self.home / "kube-cache"),
            "HELM_CACHE_HOME": str(self.home / "helm-cache"),
            "HELM_CONFIG_HOME": str(self.home / "helm-config"),
            "HELM_DATA_HOME": str(self.home / "helm-data"),
        }

    def run(
        self, program: str, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """helm or kubectl against this cluster (never the user's kubeconfig)."""
        return subprocess.run(
            [tool(program), *args, "--kube-context" if program == "helm" else "--context", CONTEXT],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
            timeout=240,
        )

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        """kubectl that must succeed without a single server warning; its stdout."""
        result = self.run("kubectl", *args, "--warnings-as-errors", stdin=stdin)
        assert result.returncode == 0, f"kubectl {' '.join(args)}:\n{result.stderr}"
        return result.stdout

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def ensure_namespaces(self, *names: str) -> None:
        """Namespaces labelled for Pod Security `restricted`, each with the ServiceAccount
        "default" (the missing ServiceAccount controller would add it; pods without their own
        account need it)."""
        items: list[dict[str, Any]] = []
        for name in names:
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name, "labels": POD_SECURITY_LABELS},
                }
            )
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": name},
                }
            )
        objects = {"apiVersion": "v1", "kind": "List", "items": items}
        self.kubectl("apply", "--server-side", "-o", "name", "-f", "-", stdin=json.dumps(objects))


@pytest.fixture(scope="session")
def bindir() -> Path:
    """The directory with etcd, kube-apiserver and kubectl, installed if missing (the
    installer returns at once when they are cached)."""
    installer = subprocess.run(
        ["bash", str(INSTALLER)], capture_output=True, text=True, check=False
    )
    assert installer.returncode == 0, f"{INSTALLER.name} failed:\n{installer.stderr}"
    return BINDIR


@pytest.fixture(scope="session")
def cluster(bindir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    workdir = tmp_path_factory.mktemp("control-plane")
    plane = ControlPlane(workdir, bindir)
    try:
        plane.start()
        cluster = Cluster(plane, workdir)
        _install_crds(cluster)
        cluster.ensure_namespaces(*sorted(_chart_namespaces()))
        yield cluster
    finally:
        plane.stop()


def _install_crds(cluster: Cluster) -> None:
    """Every vendored CRD, server-side (some exceed the client-side annotation limit)."""
    cluster.kubectl("apply", "--server-side", "-R", "-f", str(crd_dir()), "-o", "name")
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd", "--all", "--timeout=120s", "-o", "name"
    )


def _chart_namespaces() -> set[str]:
    """Each scenario's own namespace and every namespace its objects name (e.g. monitoring)."""
    namespaces = {"argocd"}
    for scenario in ALL_SCENARIOS:
        namespaces.add(scenario.namespace)
        for manifest in render(scenario):
            namespaces.add(manifest["metadata"].get("namespace", scenario.namespace))
    return namespaces
