"""The chart lints, renders and validates for every scenario: built-in objects against the
Kubernetes 1.34 schemas (strict), custom resources against their CRD schemas (strict)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import kubernetes_validate
import pytest
import yaml

from .conftest import (
    ALL_SCENARIOS,
    CHART,
    FIXTURE_SCENARIOS,
    KUBE_VERSION,
    SCENARIOS,
    CrdValidator,
    Render,
    helm_args,
    tool,
)

# Kinds with no vendored CRD (tests/data/crds has none): checked by dedicated tests instead.
NO_VENDORED_CRD = {("elbv2.k8s.aws/v1beta1", "TargetGroupBinding")}
CUSTOM_GROUPS = (
    "elbv2.k8s.aws/",
    "networking.istio.io/",
    "security.istio.io/",
    "monitoring.coreos.com/",
    "external-secrets.io/",
    "argoproj.io/",
)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_helm_lint_strict(scenario: str) -> None:
    result = subprocess.run(
        [tool("helm"), "lint", "--strict", str(CHART), *helm_args(SCENARIOS[scenario])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_every_scenario_renders_objects(rendered: Render) -> None:
    assert rendered.manifests, rendered.name
    names = [
        (m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"])
        for m in rendered.manifests
    ]
    assert len(names) == len(set(names)), f"{rendered.name}: duplicate objects"


def test_output_is_tidy(rendered: Render) -> None:
    """No blank lines left by empty optional blocks, no null-valued keys."""
    blank = []
    for document in rendered.text.split("\n---\n"):
        parsed = yaml.safe_load(document)
        if not parsed or parsed["kind"] == "ConfigMap":  # file contents keep their own blank lines
            continue
        lines = document.splitlines()
        blank += [
            f"{parsed['kind']}: {i}" for i, line in enumerate(lines) if line and not line.strip()
        ]
    assert not blank, f"{rendered.name}: whitespace-only lines {blank[:5]}"

    def nulls(node: object, path: str) -> list[str]:
        if isinstance(node, dict):
            found = [f"{path}.{k}" for k, v in node.items() if v is None]
            return found + [x for k, v in node.items() for x in nulls(v, f"{path}.{k}")]
        if isinstance(node, list):
            return [x for i, v in enumerate(node) for x in nulls(v, f"{path}[{i}]")]
        return []

    found = [
        x for m in rendered.manifests for x in nulls(m, f"{m['kind']}/{m['metadata']['name']}")
    ]
    assert not found, found


def test_builtin_objects_match_kubernetes_schemas(rendered: Render) -> None:
    failures = []
    for manifest in rendered.manifests:
        if manifest["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        try:
            kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {error.message}")
    assert not failures, "\n".join(failures)


def test_custom_resources_match_their_crds(rendered: Render, crds: CrdValidator) -> None:
    failures = []
    for manifest in rendered.manifests:
        if not manifest["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        if (manifest["apiVersion"], manifest["kind"]) in NO_VENDORED_CRD:
            continue
        assert crds.knows(manifest), f"no CRD for {manifest['apiVersion']} {manifest['kind']}"
        failures += [
            f"{manifest['kind']}/{manifest['metadata']['name']}: {error}"
            for error in crds.errors(manifest)
        ]
    assert not failures, "\n".join(failures)


def test_crd_validation_catches_typos(crds: CrdValidator) -> None:
    """The strict CRD check is real: an unknown field and a wrong type are reported."""
    bad = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "x"},
        "spec": {"hosts": ["a"], "http": [{"rout": [], "timeout": 5}]},
    }
    errors = "\n".join(crds.errors(bad))
    assert "'rout' was unexpected" in errors
    assert "5 is not of type 'string'" in errors


def test_kubernetes_validation_catches_typos() -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "portz": 1}]},
    }
    with pytest.raises(kubernetes_validate.ValidationError, match="portz"):
        kubernetes_validate.validate(bad, KUBE_VERSION, strict=True)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("istio.enabeld=true", "'enabeld' not allowed"),
        ("api.replicaCount=zero", "api/replicaCount"),
        ("image.pullPolicy=Sometimes", "image/pullPolicy"),
        ("collector.schedule=every five minutes", "collector/schedule"),
    ],
    ids=["typo", "wrong-type", "bad-enum", "bad-cron"],
)
def test_values_schema_rejects_mistakes(setting: str, message: str) -> None:
    result = subprocess.run(
        [tool("helm"), "lint", "--strict", str(CHART), "--set", setting],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_plain_secrets_refuse_a_short_jwt_secret() -> None:
    result = subprocess.run(
        [
            tool("helm"),
            "template",
            "x",
            str(CHART),
            *helm_args(SCENARIOS["dev-plain-secrets"]),
            "--set",
            "secrets.values.jwtSecret=short",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "at least 32 characters" in result.stderr


def test_scenarios_cover_every_scenario_file() -> None:
    used = {path.name for files in SCENARIOS.values() for path in files}
    on_disk = {
        path.name
        for path in (CHART.parent.parent / "tests" / "deploy" / "scenarios").glob("*.yaml")
    }
    assert on_disk <= used
    assert set(ALL_SCENARIOS) == set(SCENARIOS) | set(FIXTURE_SCENARIOS)


def test_rendered_once_per_scenario(render_scenario: Callable[[str], Render]) -> None:
    assert render_scenario("dev") is render_scenario("dev")


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_helm3_renders_the_same(render_scenario: Callable[[str], Render], scenario: str) -> None:
    """Argo CD renders charts with its bundled Helm 3: the output must be the same as Helm 4's."""
    rendered = render_scenario(scenario)
    result = subprocess.run(
        [tool("helm3"), "template", "myhealth", str(CHART), *helm_args(SCENARIOS[scenario])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == rendered.text
