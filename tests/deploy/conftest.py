"""Fixtures for the chart tests: the helm binary, one render per scenario (session-scoped),
and validators for built-in objects (Kubernetes 1.34 schemas) and custom resources (the real
CRD schemas in the shared directory)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "myhealth"
SCENARIOS_DIR = Path(__file__).parent / "scenarios"
FIXTURE_OBSERVABILITY = Path(__file__).parent / "data" / "observability"
KUBE_VERSION = "1.34.0"
RELEASE = "myhealth"
NAMESPACE = "myhealth"

Manifest = dict[str, Any]

DATA = Path(__file__).parent / "data"
# What Terraform's helm_values output looks like per environment (Argo CD layers the real
# helm/myhealth/infrastructure-<env>.json the same way), and a digest CI would have written.
INFRASTRUCTURE = DATA / "infrastructure"
IMAGE_DIGEST = DATA / "image-digest.yaml"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


def environment(env: str) -> list[Path]:
    """The value files Argo CD gives the chart in one environment, in its order."""
    return [CHART / f"values-{env}.yaml", INFRASTRUCTURE / f"{env}.json", IMAGE_DIGEST]


# name -> values files, in order (environment files first, scenario file on top). The chart's
# ci/*-values.yaml scenarios (self-contained, prometheus-community style) are "ci-<name>".
SCENARIOS: dict[str, list[Path]] = {
    "default": [],
    "dev": environment("dev"),
    "staging": environment("staging"),
    "prod": environment("prod"),
    "prod-istio-off": [*environment("prod"), SCENARIOS_DIR / "istio-off.yaml"],
    "dev-plain-secrets": [*environment("dev"), SCENARIOS_DIR / "plain-secrets.yaml"],
    "dev-standalone-monitoring": [
        *environment("dev"),
        SCENARIOS_DIR / "plain-secrets.yaml",
        SCENARIOS_DIR / "standalone-monitoring.yaml",
    ],
    "prod-minimal": [*environment("prod"), SCENARIOS_DIR / "minimal.yaml"],
    "dev-no-api": [*environment("dev"), SCENARIOS_DIR / "no-api.yaml"],
    "dev-alerting": [*environment("dev"), SCENARIOS_DIR / "alerting.yaml"],
    "prod-backup": [*environment("prod"), SCENARIOS_DIR / "backup.yaml"],
    "dev-webhooks": [*environment("dev"), SCENARIOS_DIR / "webhooks.yaml"],
    **{f"ci-{path.name.removesuffix('-values.yaml')}": [path] for path in CI_VALUES},
}
# Rendered from a copy of the chart whose observability files are the test fixtures, so the
# PrometheusRule and dashboard objects are pinned whether or not the real files exist yet.
FIXTURE_SCENARIOS: dict[str, list[Path]] = {
    "fixture-dev": SCENARIOS["dev"],
    "fixture-standalone": SCENARIOS["dev-standalone-monitoring"],
}
ALL_SCENARIOS = [*SCENARIOS, *FIXTURE_SCENARIOS]


def tool(name: str) -> str:
    """Path of a checking tool; missing tools fail the test (run `make tools`)."""
    for directory in (REPO / ".tools" / "bin", REPO / ".venv" / "bin"):
        if (directory / name).exists():
            return str(directory / name)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make tools` (tools/install-{name}.sh)")
    return found


def crd_dir() -> Path:
    """The vendored upstream CRDs (tests/data/crds, provenance in its README)."""
    return REPO / "tests" / "data" / "crds"


def helm_args(values: list[Path]) -> list[str]:
    args = ["--kube-version", KUBE_VERSION, "--namespace", NAMESPACE]
    for path in values:
        args += ["-f", str(path)]
    return args


@dataclass
class Render:
    name: str
    values: list[Path]
    chart: Path
    manifests: list[Manifest] = field(default_factory=list)
    text: str = ""

    def of_kind(self, kind: str) -> list[Manifest]:
        return [m for m in self.manifests if m["kind"] == kind]

    def get(self, kind: str, name: str, namespace: str = NAMESPACE) -> Manifest:
        for manifest in self.of_kind(kind):
            meta = manifest["metadata"]
            if meta["name"] == name and meta.get("namespace", namespace) == namespace:
                return manifest
        raise AssertionError(f"{self.name}: no {kind} {namespace}/{name}")

    def kinds(self) -> set[str]:
        return {m["kind"] for m in self.manifests}


def helm_template(chart: Path, values: list[Path], *extra: str) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(helm_template_text(chart, values, *extra)) if doc]


def helm_template_text(chart: Path, values: list[Path], *extra: str) -> str:
    result = subprocess.run(
        [tool("helm"), "template", RELEASE, str(chart), *helm_args(values), *extra],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="session")
def fixture_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the chart whose files/observability holds the test fixtures."""
    chart = tmp_path_factory.mktemp("chart") / "myhealth"
    shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns("observability"))
    shutil.copytree(FIXTURE_OBSERVABILITY, chart / "files" / "observability")
    return chart


@pytest.fixture(scope="session")
def render_scenario(fixture_chart: Path) -> Callable[[str], Render]:
    cache: dict[str, Render] = {}

    def render(name: str) -> Render:
        if name not in cache:
            if name in SCENARIOS:
                chart, values = CHART, SCENARIOS[name]
            else:
                chart, values = fixture_chart, FIXTURE_SCENARIOS[name]
            text = helm_template_text(chart, values)
            manifests = [doc for doc in yaml.safe_load_all(text) if doc]
            cache[name] = Render(name, values, chart, manifests, text)
        return cache[name]

    return render


@pytest.fixture(params=ALL_SCENARIOS)
def rendered(request: pytest.FixtureRequest, render_scenario: Callable[[str], Render]) -> Render:
    """Each scenario's rendered manifests (rendered once per session)."""
    return render_scenario(request.param)


def pod_templates(manifest: Manifest) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(metadata, spec) of the pod template in a workload object, if it has one."""
    spec = manifest.get("spec", {})
    if manifest["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
        yield spec["template"].get("metadata", {}), spec["template"]["spec"]
    elif manifest["kind"] == "CronJob":
        template = spec["jobTemplate"]["spec"]["template"]
        yield template.get("metadata", {}), template["spec"]
    elif manifest["kind"] == "Pod":
        yield manifest.get("metadata", {}), spec


# --- custom resources against their CRD schemas -------------------------------------------


def _strict(schema: Any) -> Any:
    """Unknown fields are errors: close every object schema the CRD does not leave open."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


class CrdValidator:
    def __init__(self, crd_dir: Path) -> None:
        import jsonschema

        self._validators: dict[tuple[str, str], Any] = {}
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for path in sorted(crd_dir.rglob("*.yaml")):
            with path.open() as handle:
                for doc in yaml.load_all(handle, Loader=loader):
                    if not doc or doc.get("kind") != "CustomResourceDefinition":
                        continue
                    group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
                    for version in doc["spec"]["versions"]:
                        if not version.get("served", True):
                            continue
                        schema = _strict(version["schema"]["openAPIV3Schema"])
                        # The API server owns these; some CRDs (Istio's) leave them out.
                        for name in ("apiVersion", "kind"):
                            schema["properties"].setdefault(name, {"type": "string"})
                        schema["properties"].setdefault("metadata", {"type": "object"})
                        key = (f"{group}/{version['name']}", kind)
                        self._validators[key] = jsonschema.Draft7Validator(schema)

    def knows(self, manifest: Manifest) -> bool:
        return (manifest["apiVersion"], manifest["kind"]) in self._validators

    def errors(self, manifest: Manifest) -> list[str]:
        validator = self._validators[(manifest["apiVersion"], manifest["kind"])]
        return [
            f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(manifest)
        ]


@pytest.fixture(scope="session")
def crds() -> CrdValidator:
    return CrdValidator(crd_dir())
