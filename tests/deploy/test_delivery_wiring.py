"""The Kubernetes-side wiring of issue 13, read from the real workflow, script and doc files:
images flow by digest (CI writes dev's, promotion is a reviewed change), the deploy needs no
exposed Argo CD server and does not rely on a GITHUB_TOKEN push starting it, secrets are never
rotated by a rerun, and the deployment guide is one ordered path."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import CHART, REPO

WORKFLOWS = REPO / ".github" / "workflows"
DIGEST = "sha256:" + "ab" * 32


def workflow(name: str) -> dict[str, Any]:
    doc: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def test_build_records_the_digest_and_deploys_dev_itself() -> None:
    build = workflow("build-image.yml")
    jobs = build["jobs"]
    assert jobs["build"]["outputs"]["digest"] == "${{ steps.push.outputs.digest }}"
    (push,) = [s for s in jobs["build"]["steps"] if s.get("id") == "push"]
    assert "RepoDigests" in push["run"]
    (bump,) = [s for s in jobs["bump-dev"]["steps"] if s.get("id") == "commit"]
    assert ".image.digest = strenv(DIGEST)" in bump["run"]
    assert "helm/myhealth/values-dev.yaml" in bump["run"]
    assert ".image.tag" not in bump["run"]
    # The bump is pushed with GITHUB_TOKEN, which starts no workflow: the deploy is called.
    deploy = jobs["deploy-dev"]
    assert deploy["uses"] == "./.github/workflows/deploy-argocd.yml"
    assert deploy["with"] == {
        "environment": "dev",
        "revision": "${{ needs.bump-dev.outputs.revision }}",
    }
    assert deploy["needs"] == "bump-dev"


def test_deploy_talks_to_the_kubernetes_api_not_an_argocd_server() -> None:
    deploy = workflow("deploy-argocd.yml")
    assert set(deploy["on"]["workflow_call"]["inputs"]) == {"environment", "revision"}
    text = (WORKFLOWS / "deploy-argocd.yml").read_text()
    assert "ARGOCD_SERVER" not in text
    assert "ARGOCD_AUTH_TOKEN" not in text
    assert "aws eks update-kubeconfig" in text
    bootstrap = '-f "helm/argocd/bootstrap/${ENVIRONMENT}.yaml"'
    assert f"kubectl apply -f helm/argocd/appproject.yaml {bootstrap}" in text
    # It waits for the revision it was given, not merely for "Synced".
    assert '"${REVISION} Synced Healthy"' in text
    # After a merge every environment is checked (a merged promotion reaches its cluster).
    matrix = deploy["jobs"]["sync"]["strategy"]["matrix"]["environment"]
    assert '["dev", "staging", "prod"]' in matrix
    for env in ("dev", "staging", "prod"):
        assert (REPO / "helm" / "argocd" / "bootstrap" / f"{env}.yaml").is_file()


def test_staging_and_prod_digests_change_only_by_promotion() -> None:
    """No workflow writes the staging or prod values: they change through pull requests."""
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "values-staging.yaml" not in text, path.name
        assert "values-prod.yaml" not in text, path.name


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "promote-image.sh", tmp_path / "scripts")
    (tmp_path / "helm" / "myhealth").mkdir(parents=True)
    for env in ("dev", "staging", "prod"):
        shutil.copy(CHART / f"values-{env}.yaml", tmp_path / "helm" / "myhealth")
    return tmp_path


def promote(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts" / "promote-image.sh"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_promote_image_copies_the_digest(repo_copy: Path) -> None:
    values = repo_copy / "helm" / "myhealth"
    dev = values / "values-dev.yaml"
    dev.write_text(dev.read_text().replace('  digest: ""', f'  digest: "{DIGEST}"'))
    staging_before = (values / "values-staging.yaml").read_text()

    result = promote(repo_copy, "dev", "staging")
    assert result.returncode == 0, result.stderr
    staging = (values / "values-staging.yaml").read_text()
    assert yaml.safe_load(staging)["image"]["digest"] == DIGEST
    # Only the digest line changed.
    changed = [
        (a, b)
        for a, b in zip(staging_before.splitlines(), staging.splitlines(), strict=True)
        if a != b
    ]
    assert changed == [('  digest: ""', f'  digest: "{DIGEST}"')]
    again = promote(repo_copy, "dev", "staging")
    assert again.returncode == 0
    assert "already runs" in again.stdout


def test_promote_image_refuses_without_a_digest(repo_copy: Path) -> None:
    result = promote(repo_copy, "staging", "prod")
    assert result.returncode == 2
    assert "has no image digest to promote" in result.stderr
    assert (
        yaml.safe_load((repo_copy / "helm/myhealth/values-prod.yaml").read_text())["image"][
            "digest"
        ]
        == ""
    )


def test_create_secrets_never_reads_values_and_never_rotates_on_rerun() -> None:
    text = (REPO / "scripts" / "create-secrets.sh").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "get-secret-value" not in code
    assert "aws secretsmanager describe-secret" in code
    # Generated values are written only when the secret has none (or --rotate).
    generated = re.findall(r'put_aws_secret "\$\{prefix\}/([a-z-]+)".*?(true|false)\n', code, re.S)
    forced = {name for name, force in generated if force == "true"}
    assert forced == {"oura-oauth", "oura-tokens"}  # what the caller passes in, not generated
    for name in ("api-key", "jwt-secret", "ingest-token", "grafana-admin"):
        assert (name, "false") in generated
    # The database logins are Terraform's (generated write-only); the script never writes them.
    assert not {name for name, _ in generated} & {"database-writer", "database-reader"}


def test_the_guide_is_one_ordered_path() -> None:
    text = (REPO / "docs" / "deployment.md").read_text()
    order = [
        "scripts/build-authorizer.sh",
        "terraform apply",
        "scripts/create-secrets.sh --env dev",
        "build-image.yml",
        "scripts/setup-cluster.sh dev",
        "scripts/install-argocd.sh dev",
        "helm test myhealth",
        "curl https://api.<domain>/health",
    ]
    steps = text[text.index("## 1.") :]  # the title names the goal too
    positions = [steps.index(step) for step in order]
    assert positions == sorted(positions)
    assert "## What cannot be proven offline" in text
    for script in re.findall(r"scripts/[a-z-]+\.sh", text):
        assert (REPO / script).is_file(), script
    assert "install-istio" not in text


def test_deployments_roll_when_their_secrets_change(render_scenario: Any) -> None:
    prod = render_scenario("prod")
    for deployment in prod.of_kind("Deployment"):
        assert deployment["metadata"]["annotations"]["reloader.stakater.com/auto"] == "true"
    # Grafana of kube-prometheus-stack rolls on its datasource Secret (the reader login).
    apps = (REPO / "helm/argocd/apps/templates/kube-prometheus-stack.yaml").read_text()
    assert "secret.reloader.stakater.com/reload: myhealth-grafana-datasource" in apps


@pytest.mark.parametrize("scenario", ["prod", "ci-standalone", "dev-no-api"])
def test_helm_test_pods_call_each_services_readiness(scenario: str, render_scenario: Any) -> None:
    rendered = render_scenario(scenario)
    pods = [
        p for p in rendered.of_kind("Pod") if p["metadata"]["annotations"]["helm.sh/hook"] == "test"
    ]
    services = {s["metadata"]["name"]: s for s in rendered.of_kind("Service")}
    targets = {
        f"http://{name}.myhealth.svc:{service['spec']['ports'][0]['port']}/ready"
        for name, service in services.items()
        if name in {"myhealth-api", "myhealth-processor"}
    }
    assert {pod["spec"]["containers"][0]["args"][0] for pod in pods} == targets
    for pod in pods:
        account = pod["spec"]["serviceAccountName"]
        assert account == "myhealth-test"
        sa = rendered.get("ServiceAccount", account)
        assert sa["metadata"]["annotations"]["helm.sh/hook"] == "test"
    if scenario == "prod":  # in the mesh with deny-all and NetworkPolicies
        policy = rendered.get("AuthorizationPolicy", "myhealth-test-ready")
        (rule,) = policy["spec"]["rules"]
        assert rule["from"][0]["source"]["principals"] == [
            "cluster.local/ns/myhealth/sa/myhealth-test"
        ]
        assert rule["to"] == [{"operation": {"methods": ["GET"], "paths": ["/ready"]}}]
        for name in ("myhealth-test-ready-ingress", "myhealth-test-ready-egress"):
            assert rendered.get("NetworkPolicy", name)
