"""The optional backup CronJob (docs/backup.md#kubernetes): off by default; when on, an init
container runs `myhealth export` into an emptyDir and the AWS CLI uploads it to S3 with the
ServiceAccount's IRSA role, manifest last. The upload script is run here with a stand-in `aws`
that records its calls."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import CHART, Render, helm_template_text, pod_templates

RenderFn = Callable[[str], Render]
NAME = "myhealth-backup"


def _pod(render: Render) -> tuple[dict[str, Any], dict[str, Any]]:
    ((meta, spec),) = pod_templates(render.get("CronJob", NAME))
    return meta, spec


@pytest.mark.parametrize("scenario", ["default", "dev", "prod"])
def test_backup_is_off_by_default(render_scenario: RenderFn, scenario: str) -> None:
    names = {m["metadata"]["name"] for m in render_scenario(scenario).manifests}
    assert not {NAME, "myhealth-backup-egress"} & names


def test_the_export_runs_before_the_upload_with_the_writer_login(
    render_scenario: RenderFn,
) -> None:
    render = render_scenario("prod-backup")
    cron = render.get("CronJob", NAME)
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    meta, spec = _pod(render)
    # In the mesh like the collector: native sidecars, so the Job completes.
    assert meta["labels"]["sidecar.istio.io/inject"] == "true"
    assert meta["annotations"]["sidecar.istio.io/nativeSidecar"] == "true"
    (export,) = spec["initContainers"]
    assert export["args"] == ["export", "--out", "/backup/export"]
    assert export["image"].startswith("123456789012.dkr.ecr.us-east-1.amazonaws.com/")
    (database,) = [env for env in export["env"] if env["name"] == "DATABASE_URL"]
    assert database["valueFrom"]["secretKeyRef"] == {
        "name": "myhealth-database",
        "key": "DATABASE_URL",
    }
    (upload,) = spec["containers"]
    assert upload["image"].startswith("public.ecr.aws/aws-cli/aws-cli:")
    env = {item["name"]: item.get("value") for item in upload["env"]}
    assert env["S3_BUCKET"] == "myhealth-prod-backups"
    assert env["S3_PREFIX"] == "exports"  # the trailing slash of the value is dropped
    assert env["AWS_REGION"] == "us-east-1"
    mounts = {m["name"]: m for m in upload["volumeMounts"]}
    assert mounts["scratch"]["readOnly"] is True
    (scratch,) = [v for v in spec["volumes"] if v["name"] == "scratch"]
    assert scratch["emptyDir"] == {"sizeLimit": "2Gi"}
    assert spec["serviceAccountName"] == NAME
    account = render.get("ServiceAccount", NAME)
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == (
        "arn:aws:iam::123456789012:role/myhealth-prod-backup"
    )


def test_network_policy_allows_only_the_database_and_https(render_scenario: RenderFn) -> None:
    policy = render_scenario("prod-backup").get("NetworkPolicy", "myhealth-backup-egress")
    database, https = policy["spec"]["egress"]
    assert database["ports"] == [{"protocol": "TCP", "port": 5432}]
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    assert "10.0.0.0/8" in https["to"][0]["ipBlock"]["except"]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "backup"


def test_extra_export_arguments_are_passed_on(render_scenario: RenderFn) -> None:
    _, spec = _pod(render_scenario("ci-standalone"))
    assert spec["initContainers"][0]["args"] == ["export", "--out", "/backup/export", "--csv"]


def test_a_bucket_is_required(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"backup\.s3\.bucket is required"):
        helm_template_text(CHART, [], "--set", "backup.enabled=true")


def test_the_upload_script_copies_the_files_then_the_manifest(
    render_scenario: RenderFn, tmp_path: Path
) -> None:
    _, spec = _pod(render_scenario("prod-backup"))
    (upload,) = spec["containers"]
    shell, flags, script = upload["command"]
    export = tmp_path / "export"
    export.mkdir()
    (export / "manifest.json").write_text("{}")
    (export / "sleep.jsonl").write_text("{}\n")
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "aws"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = {item["name"]: item["value"] for item in upload["env"]}
    result = subprocess.run(
        [shell, flags, script.replace("/backup/export", str(export))],
        env={**env, "PATH": f"{fake.parent}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    files, manifest = calls.read_text().splitlines()
    assert files.startswith(
        f"s3 cp --recursive --only-show-errors --exclude manifest.json {export}"
    )
    target = files.split()[-1]
    assert target.startswith("s3://myhealth-prod-backups/exports/20")
    assert manifest.endswith(f"{export}/manifest.json {target}manifest.json")
    assert f"uploaded to {target}" in result.stdout
