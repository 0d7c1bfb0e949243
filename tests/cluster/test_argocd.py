"""The Argo CD objects (helm/argocd/**) apply to a real API server with the Argo CD CRDs, and
the AppProject lets its Applications create every object the chart renders for them."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from dataclasses import dataclass
from typing import Any

import yaml

from tests.deploy.conftest import CHART, REPO, tool

from .conftest import KUBE_VERSION, Cluster

ARGOCD = REPO / "helm" / "argocd"


def argocd_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(ARGOCD.rglob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


# Argo CD's own finalizer name, without a path: the server warns about every such name. Argo CD
# recognises only this spelling on an AppProject (Applications could use ".../foreground"),
# so this one warning is expected; any other fails the test.
ARGOCD_FINALIZER_WARNING = (
    'Warning: metadata.finalizers: "resources-finalizer.argocd.argoproj.io": prefer a '
    "domain-qualified finalizer name including a path (/) to avoid accidental conflicts with "
    "other finalizer writers"
)


def test_argocd_objects_apply_cleanly(cluster: Cluster) -> None:
    docs = argocd_documents()
    result = cluster.run(
        "kubectl",
        "apply",
        "--server-side",
        "-o",
        "name",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
    )
    assert result.returncode == 0, result.stderr
    unexpected = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and line.strip() != ARGOCD_FINALIZER_WARNING
    ]
    assert not unexpected, "\n".join(unexpected)
    expected = {f"{d['kind'].lower()}.argoproj.io/{d['metadata']['name']}" for d in docs}
    assert set(result.stdout.split()) == expected
    stored = cluster.get_json("applications.argoproj.io,appprojects.argoproj.io", "-n", "argocd")
    assert len(stored["items"]) == len(docs)


@dataclass(frozen=True)
class Scope:
    """Which kinds the server serves cluster-wide, as (group, kind)."""

    cluster_scoped: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, cluster: Cluster) -> Scope:
        lines = cluster.kubectl("api-resources", "--namespaced=false", "--no-headers").splitlines()
        found = set()
        for line in lines:
            # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND: read from the right.
            api_version, _, kind = line.split()[-3:]
            found.add((api_version.rpartition("/")[0], kind))
        return cls(frozenset(found))


def matches(rules: list[dict[str, str]], group: str, kind: str) -> bool:
    return any(
        fnmatch.fnmatchcase(group, rule["group"]) and fnmatch.fnmatchcase(kind, rule["kind"])
        for rule in rules
    )


def refusals(project: dict[str, Any], scope: Scope, app: dict[str, Any]) -> list[str]:
    """What the project would refuse of the chart as `app` renders it (Argo CD's rules:
    cluster-scoped kinds need the cluster whitelist; namespaced kinds must pass the namespace
    black- and whitelist; every object's namespace must be a destination)."""
    spec, source = project["spec"], app["spec"]["source"]
    destination = app["spec"]["destination"]
    chart = REPO / source["path"]
    values = [str(chart / name) for name in source.get("helm", {}).get("valueFiles", [])]
    args = [tool("helm"), "template", source.get("helm", {}).get("releaseName", "myhealth")]
    args += [str(chart), "--namespace", destination["namespace"], "--kube-version", KUBE_VERSION]
    for path in values:
        args += ["-f", path]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    allowed_namespaces = {
        d["namespace"] for d in spec["destinations"] if d["server"] == destination["server"]
    }
    problems = []
    for manifest in (m for m in yaml.safe_load_all(result.stdout) if m):
        group, kind = manifest["apiVersion"].rpartition("/")[0], manifest["kind"]
        name = f"{kind}/{manifest['metadata']['name']}"
        if (group, kind) in scope.cluster_scoped:
            if not matches(spec.get("clusterResourceWhitelist", []), group, kind):
                problems.append(f"{name}: cluster-scoped {group}/{kind} not whitelisted")
            continue
        if matches(spec.get("namespaceResourceBlacklist", []), group, kind):
            problems.append(f"{name}: {group}/{kind} is blacklisted")
        whitelist = spec.get("namespaceResourceWhitelist")
        if whitelist is not None and not matches(whitelist, group, kind):
            problems.append(f"{name}: {group}/{kind} not in the namespace whitelist")
        namespace = manifest["metadata"].get("namespace", destination["namespace"])
        if namespace not in allowed_namespaces:
            problems.append(f"{name}: namespace {namespace} is no destination")
    return problems


def test_the_project_allows_everything_the_chart_renders(cluster: Cluster) -> None:
    docs = argocd_documents()
    (project,) = [d for d in docs if d["kind"] == "AppProject"]
    chart_apps = [
        d
        for d in docs
        if d["kind"] == "Application"
        and (REPO / d["spec"]["source"].get("path", "/nonexistent")) == CHART
    ]
    assert chart_apps, "an Application deploys the chart"
    # Every environment shares the project: check each values file as the Application would
    # sync it, not only the environments that have an Application here today.
    environments = sorted(p.name for p in CHART.glob("values-*.yaml"))
    template = chart_apps[0]
    for values in environments:
        if not any(values in a["spec"]["source"]["helm"]["valueFiles"] for a in chart_apps):
            app = json.loads(json.dumps(template))
            app["spec"]["source"]["helm"]["valueFiles"] = [values]
            chart_apps.append(app)
    scope = Scope.of(cluster)
    problems = []
    for app in chart_apps:
        label = ",".join(app["spec"]["source"]["helm"]["valueFiles"])
        problems += [f"{label}: {p}" for p in refusals(project, scope, app)]
    assert not problems, "\n".join(problems)


def test_the_comparison_sees_a_missing_destination_and_a_blacklisted_kind(
    cluster: Cluster,
) -> None:
    """Test of the test: a project without the `monitoring` destination and with ConfigMaps
    blacklisted refuses what the dev environment renders."""
    docs = argocd_documents()
    (project,) = [d for d in docs if d["kind"] == "AppProject"]
    app = next(
        d
        for d in docs
        if d["kind"] == "Application"
        and "values-dev.yaml" in d["spec"]["source"].get("helm", {}).get("valueFiles", [])
    )
    narrowed = json.loads(json.dumps(project))
    narrowed["spec"]["destinations"] = [
        d for d in narrowed["spec"]["destinations"] if d["namespace"] != "monitoring"
    ]
    narrowed["spec"]["namespaceResourceBlacklist"].append({"group": "", "kind": "ConfigMap"})
    problems = refusals(narrowed, Scope.of(cluster), app)
    assert any("namespace monitoring is no destination" in p for p in problems), problems
    assert any("ConfigMap is blacklisted" in p for p in problems), problems
