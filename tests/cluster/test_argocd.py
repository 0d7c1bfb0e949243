"""The Argo CD objects (helm/argocd/**) apply to a real API server with the Argo CD CRDs, and
the AppProject lets its Applications create every object the chart renders for them."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from dataclasses import dataclass
from typing import Any

import yaml

from tests.deploy.conftest import CHART, IMAGE_DIGEST, INFRASTRUCTURE, REPO, tool

from .conftest import KUBE_VERSION, Cluster

ARGOCD = REPO / "helm" / "argocd"
ENVIRONMENTS = sorted(path.stem for path in (ARGOCD / "bootstrap").glob("*.yaml"))


def argocd_documents(env: str) -> list[dict[str, Any]]:
    """What one environment's cluster holds in Argo CD: the project, the root Application, and
    the Applications the root renders from helm/argocd/apps (with the example Terraform file in
    place of the one CI writes)."""
    docs = [yaml.safe_load((ARGOCD / "appproject.yaml").read_text())]
    docs.append(yaml.safe_load((ARGOCD / "bootstrap" / f"{env}.yaml").read_text()))
    rendered = subprocess.run(
        [
            tool("helm"),
            "template",
            "myhealth-apps",
            str(ARGOCD / "apps"),
            "--namespace",
            "argocd",
            "-f",
            str(INFRASTRUCTURE / f"{env}.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    docs += [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    return docs


def chart_value_files(app: dict[str, Any]) -> list[str]:
    """The value files of an Application of the chart, as paths here: CI writes
    `infrastructure-<env>.json` (the example stands in) and the image digest."""
    paths = []
    for name in app["spec"]["source"]["helm"]["valueFiles"]:
        if name.startswith("infrastructure-"):
            paths.append(str(INFRASTRUCTURE / name.removeprefix("infrastructure-")))
        else:
            paths.append(str(CHART / name))
    return [*paths, str(IMAGE_DIGEST)]


# Argo CD's own finalizer name, without a path: the server warns about every such name. Argo CD
# recognises only this spelling on an AppProject (Applications could use ".../foreground"),
# so this one warning is expected; any other fails the test.
ARGOCD_FINALIZER_WARNING = (
    'Warning: metadata.finalizers: "resources-finalizer.argocd.argoproj.io": prefer a '
    "domain-qualified finalizer name including a path (/) to avoid accidental conflicts with "
    "other finalizer writers"
)


def test_argocd_objects_apply_cleanly(cluster: Cluster) -> None:
    """Each environment's objects in turn (the add-ons keep their names in every environment,
    which have a cluster each: applying the next environment updates them)."""
    names: set[str] = set()
    for env in ENVIRONMENTS:
        docs = argocd_documents(env)
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
        assert result.returncode == 0, f"{env}: {result.stderr}"
        unexpected = [
            line
            for line in result.stderr.splitlines()
            if line.strip() and line.strip() != ARGOCD_FINALIZER_WARNING
        ]
        assert not unexpected, f"{env}: " + "\n".join(unexpected)
        expected = {f"{d['kind'].lower()}.argoproj.io/{d['metadata']['name']}" for d in docs}
        assert set(result.stdout.split()) == expected, env
        names |= {d["metadata"]["name"] for d in docs}
    stored = cluster.get_json("applications.argoproj.io,appprojects.argoproj.io", "-n", "argocd")
    assert {item["metadata"]["name"] for item in stored["items"]} == names


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
    values = chart_value_files(app)
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
    scope = Scope.of(cluster)
    problems = []
    for env in ENVIRONMENTS:
        docs = argocd_documents(env)
        (project,) = [d for d in docs if d["kind"] == "AppProject"]
        chart_apps = [
            d
            for d in docs
            if d["kind"] == "Application"
            and (REPO / d["spec"].get("source", {}).get("path", "/nonexistent")) == CHART
        ]
        assert len(chart_apps) == 1, f"{env}: one Application deploys the chart"
        problems += [f"{env}: {p}" for p in refusals(project, scope, chart_apps[0])]
    assert not problems, "\n".join(problems)


def test_the_comparison_sees_a_missing_destination_and_a_blacklisted_kind(
    cluster: Cluster,
) -> None:
    """Test of the test: a project without the `monitoring` destination and with ConfigMaps
    blacklisted refuses what the dev environment renders."""
    docs = argocd_documents("dev")
    (project,) = [d for d in docs if d["kind"] == "AppProject"]
    app = next(
        d
        for d in docs
        if d["kind"] == "Application"
        and "values-dev.yaml" in d["spec"].get("source", {}).get("helm", {}).get("valueFiles", [])
    )
    narrowed = json.loads(json.dumps(project))
    narrowed["spec"]["destinations"] = [
        d for d in narrowed["spec"]["destinations"] if d["namespace"] != "monitoring"
    ]
    narrowed["spec"]["namespaceResourceBlacklist"].append({"group": "", "kind": "ConfigMap"})
    problems = refusals(narrowed, Scope.of(cluster), app)
    assert any("namespace monitoring is no destination" in p for p in problems), problems
    assert any("ConfigMap is blacklisted" in p for p in problems), problems
