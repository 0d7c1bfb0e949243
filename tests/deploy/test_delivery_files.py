"""The delivery files around the chart: Argo CD manifests against their CRDs, the Dockerfile
(hadolint) and the shell scripts (shellcheck)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import CHART, REPO, CrdValidator, tool

ARGOCD = REPO / "helm" / "argocd"
SHELL_SCRIPTS = sorted([*(REPO / "scripts").glob("*.sh"), *(REPO / "tools").glob("*.sh")])


def argocd_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(ARGOCD.rglob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def test_argocd_manifests_match_their_crds(crds: CrdValidator) -> None:
    docs = argocd_documents()
    assert {d["kind"] for d in docs} == {"AppProject", "Application"}
    failures = []
    for doc in docs:
        assert crds.knows(doc), doc["kind"]
        failures += [f"{doc['kind']}/{doc['metadata']['name']}: {e}" for e in crds.errors(doc)]
    assert not failures, "\n".join(failures)


def test_application_syncs_the_chart_with_dev_values() -> None:
    (app,) = yaml.safe_load_all((ARGOCD / "application.yaml").read_text())
    source, policy = app["spec"]["source"], app["spec"]["syncPolicy"]
    assert (REPO / source["path"]) == CHART
    for values in source["helm"]["valueFiles"]:
        assert (CHART / values).is_file()
    assert source["helm"]["valueFiles"] == ["values-dev.yaml"]
    assert policy["automated"] == {"prune": True, "selfHeal": True}
    assert policy["retry"]["limit"] > 0
    assert app["spec"]["project"] == "myhealth"


def test_every_application_belongs_to_the_project_and_its_repositories() -> None:
    docs = argocd_documents()
    (project,) = [d for d in docs if d["kind"] == "AppProject"]
    repos = set(project["spec"]["sourceRepos"])
    namespaces = {d["namespace"] for d in project["spec"]["destinations"]}
    for app in (d for d in docs if d["kind"] == "Application"):
        spec = app["spec"]
        assert spec["project"] == "myhealth"
        assert spec["source"]["repoURL"] in repos
        assert spec["destination"]["namespace"] in namespaces
        local = spec["source"].get("path")
        if local:
            assert (REPO / local).is_dir(), local


def test_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "info", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_conventions() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2  # build, then a runtime stage without build tools
    runtime = text.rsplit("\nFROM ", 1)[1]
    assert "USER 10001" in runtime
    assert 'ENTRYPOINT ["myhealth"]' in runtime
    assert not any(line.startswith("HEALTHCHECK") for line in text.splitlines())
    assert "pip install" not in runtime
    assert "uv sync" not in runtime
    assert "COPY --from=build /app/.venv /app/.venv" in runtime
    assert (REPO / ".dockerignore").is_file()


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=[p.name for p in SHELL_SCRIPTS])
def test_shell_scripts_are_shellcheck_clean(script: Path) -> None:
    text = script.read_text()
    if script.name != "lib.sh":  # sourced by the installers, never run on its own
        assert text.startswith("#!/usr/bin/env bash\n")
        assert "set -euo pipefail" in text
    result = subprocess.run(
        [tool("shellcheck"), "--external-sources", "--severity", "style", str(script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_image_user_matches_the_chart() -> None:
    """The chart's runAsUser is the image's user, so files the image owns stay readable."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    dockerfile = (REPO / "Dockerfile").read_text()
    uid = values["podSecurityContext"]["runAsUser"]
    assert f"USER {uid}:{values['podSecurityContext']['runAsGroup']}" in dockerfile
    assert f"--uid {uid}" in dockerfile
    assert "HOST=0.0.0.0" in dockerfile


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["values-dev.yaml"], "https://api.myhealth.eric-n.com/health"),
        ([], "port-forward svc/myhealth-api 8080"),
    ],
    ids=["dev", "default"],
)
def test_notes_tell_how_to_reach_the_api(values: list[str], expected: str) -> None:
    result = subprocess.run(
        [
            tool("helm"),
            "install",
            "myhealth",
            str(CHART),
            "--dry-run=client",
            "-n",
            "myhealth",
            *[arg for name in values for arg in ("-f", str(CHART / name))],
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert expected in notes
    assert "create job --from=cronjob/myhealth-collector" in notes
