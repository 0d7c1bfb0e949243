"""Alert delivery in Kubernetes: kube-prometheus-stack's Alertmanager gets the configuration the
project's template makes (the same routes, inhibitions and receivers as
`python -m myhealth.alerting.render` with the same settings), valid for Alertmanager 0.25, and
its secrets come from External Secrets in Alertmanager's namespace."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from myhealth.alerting import render

from .conftest import (
    CHART,
    INFRASTRUCTURE,
    REPO,
    Render,
    environment,
    helm_args,
    helm_template_text,
    tool,
)

APPS_CHART = REPO / "helm" / "argocd" / "apps"
TEMPLATE = REPO / "observability" / "alertmanager" / "alertmanager.yml.tmpl"
AMTOOL = REPO / ".tools" / "bin" / "amtool"
SECRETS = "/etc/alertmanager/secrets/myhealth-alerting"

# helm/argocd/apps `alerting` values -> the renderer's environment, for the same receivers.
CASES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "everything": (
        {
            "ntfyUrl": "https://ntfy.example.org/myhealth-owner",
            "ntfyToken": True,
            "webhookUrl": "https://hooks.example.org/myhealth",
            "webhookToken": True,
            "emailTo": "owner@example.org",
            "emailFrom": "myhealth@example.org",
            "smtpSmarthost": "smtp.example.org:587",
            "smtpUsername": "myhealth@example.org",
            "smtpPassword": True,
        },
        {
            "ALERTS_NTFY_URL": "https://ntfy.example.org/myhealth-owner",
            "ALERTS_NTFY_TOKEN_FILE": f"{SECRETS}/ntfy-token",
            "ALERTS_WEBHOOK_URL": "https://hooks.example.org/myhealth",
            "ALERTS_WEBHOOK_TOKEN_FILE": f"{SECRETS}/webhook-token",
            "ALERTS_EMAIL_TO": "owner@example.org",
            "ALERTS_EMAIL_FROM": "myhealth@example.org",
            "ALERTS_SMTP_SMARTHOST": "smtp.example.org:587",
            "ALERTS_SMTP_USERNAME": "myhealth@example.org",
            "ALERTS_SMTP_PASSWORD_FILE": f"{SECRETS}/smtp-password",
        },
    ),
    "ntfy-only": (
        {"ntfyUrl": "https://ntfy.sh/a-long-random-topic"},
        {"ALERTS_NTFY_URL": "https://ntfy.sh/a-long-random-topic"},
    ),
    "nothing": ({}, {}),
}


def _comparable(node: Any) -> Any:
    """Webhook URLs as (base, parsed query): Helm's urlquery and Python's quote spell the same
    query differently (+ or %20 for a space)."""
    if isinstance(node, dict):
        return {
            key: (_url(value) if key == "url" else _comparable(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_comparable(item) for item in node]
    return node


def _url(url: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(url)
    return parts._replace(query="").geturl(), parse_qs(parts.query)


def stack_values(tmp_path: Path, alerting: dict[str, Any]) -> dict[str, Any]:
    values = tmp_path / "alerting.yaml"
    values.write_text(yaml.safe_dump({"alerting": {"enabled": True, **alerting}}))
    text = helm_template_text(APPS_CHART, [INFRASTRUCTURE / "dev.json", values])
    (app,) = [
        doc
        for doc in yaml.safe_load_all(text)
        if doc
        and doc["kind"] == "Application"
        and doc["metadata"]["name"] == "kube-prometheus-stack"
    ]
    stack: dict[str, Any] = app["spec"]["source"]["helm"]["valuesObject"]
    return stack


@pytest.mark.parametrize("case", CASES)
def test_the_cluster_gets_the_templates_configuration(tmp_path: Path, case: str) -> None:
    alerting, environ = CASES[case]
    stack = stack_values(tmp_path, alerting)
    config = stack["alertmanager"]["config"]
    expected = render.render(
        TEMPLATE, {**environ, "ALERTS_TEMPLATES_DIR": "/etc/alertmanager/config"}
    )
    assert _comparable(config) == _comparable(expected)

    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    assert AMTOOL.exists(), "amtool is missing: run `make tools`"
    check = subprocess.run(
        [str(AMTOOL), "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert stack["alertmanager"]["alertmanagerSpec"]["secrets"] == ["myhealth-alerting"]
    notification_text = (TEMPLATE.parent / "templates" / "myhealth.tmpl").read_text()
    assert stack["alertmanager"]["templateFiles"] == {"myhealth.tmpl": notification_text}


def test_off_by_default(tmp_path: Path) -> None:
    text = helm_template_text(APPS_CHART, [INFRASTRUCTURE / "dev.json"])
    (app,) = [
        doc
        for doc in yaml.safe_load_all(text)
        if doc
        and doc["kind"] == "Application"
        and doc["metadata"]["name"] == "kube-prometheus-stack"
    ]
    assert "alertmanager" not in app["spec"]["source"]["helm"]["valuesObject"]


def test_the_receiver_secrets_come_from_external_secrets(
    render_scenario: Callable[[str], Render],
) -> None:
    rendered = render_scenario("dev-alerting")
    (secret,) = [
        m
        for m in rendered.manifests
        if m["kind"] == "ExternalSecret" and m["metadata"]["name"] == "myhealth-alerting"
    ]
    assert secret["metadata"]["namespace"] == "monitoring"
    assert secret["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "myhealth"}
    assert secret["spec"]["dataFrom"] == [{"extract": {"key": "myhealth/dev/alerting"}}]
    # The SecretStore it names exists in that namespace (the Grafana datasources' one).
    stores = {
        (m["metadata"]["namespace"], m["metadata"]["name"])
        for m in rendered.manifests
        if m["kind"] == "SecretStore"
    }
    assert ("monitoring", "myhealth") in stores
    assert not any(
        m["kind"] == "ExternalSecret" and m["metadata"]["name"] == "myhealth-alerting"
        for m in render_scenario("dev").manifests
    )


def test_another_namespace_needs_its_secret_store(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "externalSecrets": {"secretNames": {"alerting": "myhealth/dev/alerting"}},
                "monitoring": {
                    "alerting": {"enabled": True, "namespace": "observability"},
                },
            }
        )
    )
    result = subprocess.run(
        [
            tool("helm"),
            "template",
            "myhealth",
            str(CHART),
            *helm_args([*environment("dev"), values]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "uses the SecretStore of monitoring.grafanaDatasources" in result.stderr
