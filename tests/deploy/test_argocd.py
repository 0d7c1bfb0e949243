"""The Argo CD side, read from the real files: each environment's root Application renders the
app-of-apps chart (helm/argocd/apps) into add-on Applications with pinned chart versions and the
myhealth Application; every object matches the vendored Argo CD CRDs; the AppProject allows
every repository, namespace and cluster-scoped kind they deploy; the myhealth Application layers
the Terraform-written values file, whose shape (from outputs.tf) the chart schema accepts."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from .conftest import (
    CHART,
    INFRASTRUCTURE,
    REPO,
    SCENARIOS,
    CrdValidator,
    Render,
    helm_args,
    helm_template,
    tool,
)

ARGOCD = REPO / "helm" / "argocd"
APPS_CHART = ARGOCD / "apps"
ENVIRONMENTS = ["dev", "staging", "prod"]
OUTPUTS_TF = REPO / "terraform" / "modules" / "myhealth" / "outputs.tf"
# Upstream charts whose objects the add-ons create, by cluster-scoped kind (from their
# templates at the pinned versions); our own chart creates none.
ADDON_CLUSTER_KINDS = {
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("networking.k8s.io", "IngressClass"),
    ("elbv2.k8s.aws", "IngressClassParams"),
    ("apiregistration.k8s.io", "APIService"),
    ("", "Namespace"),
}


def root_application(env: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ARGOCD / "bootstrap" / f"{env}.yaml").read_text())
    return doc


def project() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ARGOCD / "appproject.yaml").read_text())
    return doc


@pytest.fixture(scope="module")
def applications() -> dict[str, list[dict[str, Any]]]:
    """Per environment: what the root Application renders, with the example Terraform file in
    place of helm/myhealth/infrastructure-<env>.json (CI writes the real one)."""
    rendered = {}
    for env in ENVIRONMENTS:
        (values,) = root_application(env)["spec"]["source"]["helm"]["valueFiles"]
        assert (APPS_CHART / values).resolve() == CHART / f"infrastructure-{env}.json"
        rendered[env] = helm_template(APPS_CHART, [INFRASTRUCTURE / f"{env}.json"])
    return rendered


def test_every_argocd_object_matches_its_crd(
    crds: CrdValidator, applications: dict[str, list[dict[str, Any]]]
) -> None:
    docs = [project(), *(root_application(env) for env in ENVIRONMENTS)]
    docs += [app for apps in applications.values() for app in apps]
    failures = []
    for doc in docs:
        assert crds.knows(doc), doc["kind"]
        failures += [f"{doc['kind']}/{doc['metadata']['name']}: {e}" for e in crds.errors(doc)]
    assert not failures, "\n".join(failures)


def test_addons_are_pinned_and_ordered(applications: dict[str, list[dict[str, Any]]]) -> None:
    for env, apps in applications.items():
        by_name = {app["metadata"]["name"]: app for app in apps}
        assert set(by_name) == {
            "istio-base",
            "istiod",
            "istio-ingressgateway",
            "aws-load-balancer-controller",
            "metrics-server",
            "cluster-autoscaler",
            "reloader",
            "external-secrets",
            "kube-prometheus-stack",
            f"myhealth-{env}",
        }
        wave = {
            n: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
            for n, a in by_name.items()
        }
        # CRDs and webhooks first, then istiod, then the gateway it injects, then the app.
        assert (
            wave["istio-base"]
            < wave["istiod"]
            < wave["istio-ingressgateway"]
            < wave[f"myhealth-{env}"]
        )
        for crd_owner in (
            "aws-load-balancer-controller",
            "external-secrets",
            "kube-prometheus-stack",
        ):
            assert wave[crd_owner] < wave[f"myhealth-{env}"]
        for name, app in by_name.items():
            source = app["spec"]["source"]
            if "chart" in source:
                assert re.fullmatch(r"\d+\.\d+\.\d+", source["targetRevision"]), name
            assert app["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}


def test_addons_get_the_terraform_identities(applications: dict[str, list[dict[str, Any]]]) -> None:
    """IRSA roles land on the ServiceAccounts the Terraform trust policies name."""
    irsa = (REPO / "terraform" / "modules" / "irsa" / "main.tf").read_text()
    for env, apps in applications.items():
        platform = json.loads((INFRASTRUCTURE / f"{env}.json").read_text())["platform"]
        by_name = {app["metadata"]["name"]: app for app in apps}
        lbc = by_name["aws-load-balancer-controller"]["spec"]["source"]["helm"]["valuesObject"]
        assert lbc["clusterName"] == platform["clusterName"]
        assert lbc["vpcId"] == platform["vpcId"]
        account = lbc["serviceAccount"]
        assert (
            account["annotations"]["eks.amazonaws.com/role-arn"]
            == platform["loadBalancerControllerRoleArn"]
        )
        assert f'"kube-system:{account["name"]}"' in irsa
        ca = by_name["cluster-autoscaler"]["spec"]["source"]["helm"]["valuesObject"]
        assert ca["autoDiscovery"]["clusterName"] == platform["clusterName"]
        account = ca["rbac"]["serviceAccount"]
        assert (
            account["annotations"]["eks.amazonaws.com/role-arn"]
            == platform["clusterAutoscalerRoleArn"]
        )
        assert f'"kube-system:{account["name"]}"' in irsa


def test_a_missing_terraform_file_fails_the_render() -> None:

    result = subprocess.run(
        [tool("helm"), "template", "apps", str(APPS_CHART)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "infrastructure-<env>.json" in result.stderr


def test_karpenter_from_terraform_fails_the_render_with_a_reason(tmp_path: Path) -> None:
    """Terraform can switch Cluster Autoscaler's IRSA role off for Karpenter, which no
    Application installs yet: the render says so instead of a missing role ARN."""
    infrastructure = json.loads((INFRASTRUCTURE / "dev.json").read_text())
    infrastructure["platform"]["karpenter"] = {"node_iam_role_name": "karpenter-node"}
    infrastructure["platform"]["clusterAutoscalerRoleArn"] = None
    values = tmp_path / "infrastructure-dev.json"
    values.write_text(json.dumps(infrastructure))
    result = subprocess.run(
        [tool("helm"), "template", "apps", str(APPS_CHART), "-f", str(values)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "enable_karpenter" in result.stderr


def test_the_app_layers_the_terraform_values_file(
    applications: dict[str, list[dict[str, Any]]],
) -> None:
    for env, apps in applications.items():
        (app,) = [a for a in apps if a["metadata"]["name"] == f"myhealth-{env}"]
        source = app["spec"]["source"]
        assert (REPO / source["path"]) == CHART
        # The environment's choices, then Terraform's facts (later files win).
        assert source["helm"]["valueFiles"] == [f"values-{env}.yaml", f"infrastructure-{env}.json"]
        assert (CHART / f"values-{env}.yaml").is_file()
        # terraform-apply.yml writes exactly that file.
        workflow = (REPO / ".github" / "workflows" / "terraform-apply.yml").read_text()
        assert "helm/myhealth/infrastructure-${ENVIRONMENT}.json" in workflow


def test_the_project_allows_every_source_destination_and_cluster_kind(
    applications: dict[str, list[dict[str, Any]]], render_scenario: Callable[[str], Render]
) -> None:
    spec = project()["spec"]
    repos = set(spec["sourceRepos"])
    namespaces = {d["namespace"] for d in spec["destinations"]}
    cluster_kinds = {(k["group"], k["kind"]) for k in spec["clusterResourceWhitelist"]}
    assert cluster_kinds >= ADDON_CLUSTER_KINDS
    for env in ENVIRONMENTS:
        for app in [root_application(env), *applications[env]]:
            assert app["spec"]["project"] == project()["metadata"]["name"]
            assert app["spec"]["source"]["repoURL"] in repos
            assert app["spec"]["destination"]["namespace"] in namespaces
        # Every object our chart renders in this environment, cluster-scoped or in a namespace
        # the project allows, and of a kind it does not blacklist.
        chart = render_scenario(env)
        blacklist = {(k["group"], k["kind"]) for k in spec.get("namespaceResourceBlacklist", [])}
        for manifest in chart.manifests:
            group = manifest["apiVersion"].rpartition("/")[0]
            assert (group, manifest["kind"]) not in blacklist
            namespace = manifest["metadata"].get("namespace")
            if namespace is None:
                assert (group, manifest["kind"]) in cluster_kinds, manifest["kind"]
            else:
                assert namespace in namespaces, (manifest["kind"], namespace)


def test_gateway_ports_meet_terraform(applications: dict[str, list[dict[str, Any]]]) -> None:
    """The gateway Service is ClusterIP (no second, internet-facing load balancer) and its HTTP
    port is the one the TargetGroupBinding registers and Terraform's target group forwards to."""
    infrastructure = json.loads((INFRASTRUCTURE / "dev.json").read_text())
    (app,) = [a for a in applications["dev"] if a["metadata"]["name"] == "istio-ingressgateway"]
    service = app["spec"]["source"]["helm"]["valuesObject"]["service"]
    assert service["type"] == "ClusterIP"
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["ports"]}
    port = infrastructure["ingress"]["gatewayTargetPort"]
    assert ports["http2"] == (port, port)
    assert ports["status-port"] == (15021, 15021)
    apps_values = yaml.safe_load((APPS_CHART / "values.yaml").read_text())
    assert apps_values["gateway"]["name"] == infrastructure["ingress"]["gatewayService"]
    assert apps_values["gateway"]["namespace"] == infrastructure["ingress"]["gatewayNamespace"]
    assert app["spec"]["destination"]["namespace"] == infrastructure["ingress"]["gatewayNamespace"]


def test_no_script_installs_istio_or_a_load_balancer() -> None:
    assert not (REPO / "scripts" / "install-istio.sh").exists()
    for path in [*(REPO / "scripts").glob("*.sh"), *ARGOCD.rglob("*.yaml")]:
        text = path.read_text()
        assert "internet-facing" not in text, path
        assert "type: LoadBalancer" not in text, path


# --- the Terraform-written values file ------------------------------------------------------


def _shape(node: Any, prefix: str = "", leaves: frozenset[str] = frozenset()) -> set[str]:
    """Dotted key paths of a nested object. In python-hcl2's reading of outputs.tf the leaves
    are expression strings; a JSON value at a path in `leaves` (a map such as gatewaySelector)
    counts as one leaf too."""
    if not isinstance(node, dict) or prefix in leaves:
        return {prefix}
    paths: set[str] = set()
    for key, value in node.items():
        if key.startswith("__"):  # python-hcl2's own markers
            continue
        paths |= _shape(value, f"{prefix}.{key}" if prefix else key, leaves)
    return paths


def terraform_helm_values_shape() -> set[str]:
    with OUTPUTS_TF.open() as handle:
        outputs = hcl2.load(handle)["output"]
    (block,) = [o for o in outputs if "helm_values" in o or '"helm_values"' in o]
    body = block.get("helm_values") or block['"helm_values"']
    return _shape(body["value"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_example_infrastructure_file_has_the_terraform_shape(env: str) -> None:
    expected = terraform_helm_values_shape()
    example = json.loads((INFRASTRUCTURE / f"{env}.json").read_text())
    actual = _shape(example, leaves=frozenset(expected))
    assert actual - expected == set()
    assert expected - actual == set()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_chart_schema_accepts_the_terraform_file(env: str) -> None:
    """helm lint validates values.schema.json: the environment's files plus Terraform's."""

    result = subprocess.run(
        [tool("helm"), "lint", "--strict", str(CHART), *helm_args(SCENARIOS[env])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # And the schema names every key Terraform writes (additionalProperties: false elsewhere).
    schema = json.loads((CHART / "values.schema.json").read_text())
    for path in terraform_helm_values_shape():
        node = schema
        for part in path.split("."):
            props = node.get("properties")
            if props is None:  # a free-form object (platform, gatewaySelector)
                break
            assert part in props, f"values.schema.json does not accept {path}"
            node = props[part]


def test_environments_pull_only_digests(render_scenario: Callable[[str], Render]) -> None:
    for env in ENVIRONMENTS:
        values = yaml.safe_load((CHART / f"values-{env}.yaml").read_text())
        assert values["image"]["requireDigest"] is True
        for manifest in render_scenario(env).manifests:
            for image in re.findall(r"image: (\S+)", yaml.safe_dump(manifest)):
                if "myhealth" in image:
                    assert re.search(r"@sha256:[0-9a-f]{64}$", image), image
    # Without a digest an environment refuses to render (no tag that was never pushed).

    files = [f for f in SCENARIOS["staging"] if f.name != "image-digest.yaml"]
    result = subprocess.run(
        [tool("helm"), "template", "myhealth", str(CHART), *helm_args(files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "image.digest is required" in result.stderr


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_apps_chart_lints_with_the_terraform_file(env: str) -> None:
    """Its values.schema.json pins exact chart versions and closes its own blocks."""
    result = subprocess.run(
        [
            tool("helm"),
            "lint",
            "--strict",
            str(APPS_CHART),
            "-f",
            str(INFRASTRUCTURE / f"{env}.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    infrastructure = str(INFRASTRUCTURE / f"{env}.json")
    loose = subprocess.run(
        [tool("helm"), "template", "apps", str(APPS_CHART), "-f", infrastructure,
         "--set", "charts.metricsServer.version=3.x"],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert loose.returncode != 0
    assert "charts/metricsServer/version" in loose.stderr
