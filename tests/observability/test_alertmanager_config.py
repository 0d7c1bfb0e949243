"""The Alertmanager configuration rendered from observability/alertmanager/alertmanager.yml.tmpl:
valid for the real Alertmanager 0.25 (`amtool check-config`), routed as documented (amtool's
own routing test), only the receivers the owner configured, and no secret in the file."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from myhealth.alerting import render

from .alert_stack import ALERTMANAGER_DIR, ALERTMANAGER_TEMPLATE, AMTOOL, ntfy_render, seconds

EVERYTHING = {
    "ALERTS_TEMPLATES_DIR": str(ALERTMANAGER_DIR / "templates"),
    "ALERTS_NTFY_URL": "https://ntfy.example.org/myhealth-owner",
    "ALERTS_NTFY_TOKEN_FILE": "/run/secrets/alerts_ntfy_token",
    "ALERTS_WEBHOOK_URL": "https://hooks.example.org/myhealth",
    "ALERTS_WEBHOOK_TOKEN_FILE": "/run/secrets/alerts_webhook_token",
    "ALERTS_EMAIL_TO": "owner@example.org",
    "ALERTS_EMAIL_FROM": "myhealth@example.org",
    "ALERTS_SMTP_SMARTHOST": "smtp.example.org:587",
    "ALERTS_SMTP_USERNAME": "myhealth@example.org",
    "ALERTS_SMTP_PASSWORD_FILE": "/run/secrets/alerts_smtp_password",
}


def amtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert AMTOOL.exists(), f"{AMTOOL} is missing: run `make tools`"
    return subprocess.run(
        [str(AMTOOL), *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def rendered(tmp_path: Path, environ: dict[str, str]) -> tuple[Path, dict[str, Any]]:
    config = render.render(ALERTMANAGER_TEMPLATE, environ)
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    check = amtool("check-config", path)
    assert check.returncode == 0, check.stdout + check.stderr
    return path, config


def integrations(config: dict[str, Any]) -> dict[str, list[str]]:
    return {
        receiver["name"]: sorted(
            f"{kind}:{entry.get('url', entry.get('to'))}"
            for kind, entries in receiver.items()
            if kind.endswith("_configs")
            for entry in entries
        )
        for receiver in config["receivers"]
    }


def test_everything_configured_is_valid_and_every_route_reaches_every_channel(
    tmp_path: Path,
) -> None:
    _, config = rendered(tmp_path, EVERYTHING)
    channels_of = integrations(config)
    assert channels_of.pop("blackhole") == []
    for receiver, channels in channels_of.items():
        assert len(channels) == 3, (receiver, channels)
        assert any(c.startswith("webhook_configs:https://ntfy.example.org/") for c in channels)
        assert "email_configs:owner@example.org" in channels
        assert "webhook_configs:https://hooks.example.org/myhealth" in channels
    assert config["global"]["smtp_auth_password_file"] == "/run/secrets/alerts_smtp_password"
    assert config["global"]["smtp_require_tls"] is True


def test_nothing_configured_is_still_valid_and_sends_nothing(tmp_path: Path) -> None:
    _, config = rendered(tmp_path, {})
    assert integrations(config) == {
        "blackhole": [],
        "health-digest": [],
        "operations-page": [],
        "operations-warning": [],
    }
    assert set(config["global"]) == {"resolve_timeout", "smtp_require_tls"}
    assert config["templates"] == ["/etc/alertmanager/templates/*.tmpl"]


def test_only_ntfy_without_a_token(tmp_path: Path) -> None:
    _, config = rendered(tmp_path, {"ALERTS_NTFY_URL": "https://ntfy.sh/a-long-random-topic"})
    for receiver in config["receivers"][1:]:
        (ntfy,) = receiver["webhook_configs"]
        assert ntfy["url"].startswith("https://ntfy.sh/a-long-random-topic?tpl=1&")
        assert "http_config" not in ntfy
        assert "email_configs" not in receiver


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        pytest.param(["kind=health", "severity=info"], "health-digest", id="health"),
        pytest.param(["kind=operations", "severity=critical"], "operations-page", id="critical"),
        pytest.param(["kind=operations", "severity=warning"], "operations-warning", id="warning"),
        pytest.param(["kind=operations", "severity=info"], "operations-warning", id="info"),
        pytest.param(["severity=critical"], "operations-warning", id="unlabelled"),
        pytest.param(["alertname=Watchdog", "severity=none"], "blackhole", id="watchdog"),
    ],
)
def test_routing(tmp_path: Path, labels: list[str], receiver: str) -> None:
    path, _ = rendered(tmp_path, EVERYTHING)
    if not any(label.startswith("alertname=") for label in labels):
        labels = ["alertname=X", *labels]
    result = amtool("config", "routes", "test", f"--config.file={path}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_health_is_a_daily_digest_and_critical_pages_now() -> None:
    config = render.render(ALERTMANAGER_TEMPLATE, {})
    routes = {route["receiver"]: route for route in config["route"]["routes"]}
    health, page = routes["health-digest"], routes["operations-page"]
    # One bad night is one message: alerts of one sync gathered, then at most one a day.
    assert seconds(health["group_wait"]) >= 5 * 60
    assert seconds(health["repeat_interval"]) == 24 * 3600
    assert health["group_by"] == ["kind"]
    assert seconds(page["group_wait"]) <= 30
    assert 3600 <= seconds(page["repeat_interval"]) <= 4 * 3600
    warning = config["route"]
    assert seconds(page["repeat_interval"]) < seconds(warning["repeat_interval"])
    assert seconds(warning["repeat_interval"]) < seconds(health["repeat_interval"])


def test_values_cannot_change_the_structure() -> None:
    hostile = "https://x.example/t\nreceivers: []\n  - name: evil"
    config = render.render(ALERTMANAGER_TEMPLATE, {"ALERTS_WEBHOOK_URL": hostile})
    assert [r["name"] for r in config["receivers"]] == [
        "blackhole",
        "health-digest",
        "operations-page",
        "operations-warning",
    ]
    assert config["receivers"][1]["webhook_configs"][0]["url"] == hostile


def test_a_required_placeholder_must_be_set(tmp_path: Path) -> None:
    template = tmp_path / "alertmanager.yml.tmpl"
    template.write_text("route:\n  receiver: ${ALERTS_RECEIVER}\n", encoding="utf-8")
    for name in render.NTFY_TEMPLATES.values():
        (tmp_path / name).write_text("x", encoding="utf-8")
    with pytest.raises(render.TemplateError, match="needs ALERTS_RECEIVER"):
        render.render(template, {})
    assert render.main(["--template", str(template)], {}) == 2


def test_no_secret_and_no_address_in_the_template() -> None:
    text = ALERTMANAGER_TEMPLATE.read_text(encoding="utf-8")
    assert "@" not in text.replace("{{", "").split("receivers:")[1]
    for key in ("smtp_auth_password:", "credentials:", "password:"):
        assert key not in text


def test_the_ntfy_notification_of_a_group(tmp_path: Path) -> None:
    """ntfy's rendering of the templates the ntfy URLs carry, over a webhook body with two
    alerts (one resolved) and three more cut off by max_alerts."""
    body = {
        "status": "firing",
        "commonAnnotations": {},
        "truncatedAlerts": 3,
        "alerts": [
            {
                "status": "firing",
                "annotations": {
                    "summary": "No successful collector run in the last 6 hours",
                    "runbook_url": "https://example.org/runbooks.md#myhealthnosuccessfulsync",
                },
            },
            {
                "status": "resolved",
                "annotations": {
                    "summary": "HRV 31 ms, 3rd day below your usual 42 ms",
                    "dashboard_url": "http://127.0.0.1:3000/d/myhealth-today",
                },
            },
        ],
    }
    config = render.render(ALERTMANAGER_TEMPLATE, {"ALERTS_NTFY_URL": "https://ntfy.sh/t"})
    url = config["receivers"][1]["webhook_configs"][0]["url"]
    query = parse_qs(urlsplit(url).query)
    assert ntfy_render(query["t"][0], body, tmp_path) == "myHealth: 2 alerts"
    assert ntfy_render(query["m"][0], body, tmp_path) == (
        "No successful collector run in the last 6 hours\n"
        "What to do: https://example.org/runbooks.md#myhealthnosuccessfulsync\n"
        "Resolved: HRV 31 ms, 3rd day below your usual 42 ms\n"
        "Today: http://127.0.0.1:3000/d/myhealth-today\n"
        "\u2026and 3 more"
    )
