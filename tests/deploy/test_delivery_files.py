"""The delivery files around the chart: the Dockerfile (hadolint), the shell scripts
(shellcheck) and the chart's NOTES. The Argo CD objects are tested in test_argocd.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import CHART, REPO, environment, tool

SHELL_SCRIPTS = sorted([*(REPO / "scripts").glob("*.sh"), *(REPO / "tools").glob("*.sh")])


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
        (environment("dev"), "https://api.myhealth.eric-n.com/health"),
        ([], "port-forward svc/myhealth-api 8080"),
    ],
    ids=["dev", "default"],
)
def test_notes_tell_how_to_reach_the_api(values: list[Path], expected: str) -> None:
    result = subprocess.run(
        [
            tool("helm"),
            "install",
            "myhealth",
            str(CHART),
            "--dry-run=client",
            "-n",
            "myhealth",
            *[arg for path in values for arg in ("-f", str(path))],
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert expected in notes
    assert "create job --from=cronjob/myhealth-collector" in notes
