"""docker-compose.yml: valid by the real Compose loader (which checks it against the
compose-spec JSON schema) and safe by default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from myhealth.platform.config import CollectorSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
TOOL = ROOT / ".tools" / "bin" / "docker-compose"


GRAFANA_PASSWORD = "chosen-by-the-owner"


def compose(
    *args: str, file: Path = COMPOSE_FILE, **environ: str
) -> subprocess.CompletedProcess[str]:
    """`docker-compose` with only the variables given (GRAFANA_ADMIN_PASSWORD set unless
    overridden: Compose refuses to run without it)."""
    assert TOOL.exists(), "docker-compose is missing: run `make tools`"
    variables = {"GRAFANA_ADMIN_PASSWORD": GRAFANA_PASSWORD, **environ}
    return subprocess.run(
        [str(TOOL), "--project-directory", str(ROOT), "-f", str(file), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(ROOT),
            **{key: value for key, value in variables.items() if value},
        },
    )


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    result = compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


def test_compose_file_is_valid() -> None:
    result = compose("config", "--quiet")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("mutation", "error"),
    [
        pytest.param(('    command: ["api"]', '    commandz: ["api"]'), "commandz", id="typo"),
        pytest.param(('- "127.0.0.1:8080:8080"', "- {}"), "api", id="bad-port"),
    ],
)
def test_the_validator_catches_mistakes(
    tmp_path: Path, mutation: tuple[str, str], error: str
) -> None:
    text = COMPOSE_FILE.read_text()
    assert mutation[0] in text
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(mutation[0], mutation[1], 1))
    result = compose("config", "--quiet", file=broken)
    assert result.returncode != 0
    assert error in result.stderr


def test_every_part_of_the_product_is_there(model: dict[str, Any]) -> None:
    services = model["services"]
    assert set(services) == {
        "postgres", "migrate", "sandbox", "processor", "api", "collector", "prometheus", "grafana",
        "alertmanager-config", "alertmanager",
    }  # fmt: skip
    for name in ("migrate", "sandbox", "processor", "api"):
        assert services[name]["command"] == [name]
    assert "myhealth collect" in services["collector"]["entrypoint"][2]
    for name in ("processor", "api", "collector"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_ports_are_published_on_loopback_only(model: dict[str, Any]) -> None:
    published = {
        (name, port["published"]): port.get("host_ip")
        for name, service in model["services"].items()
        for port in service.get("ports", [])
    }
    assert {p for _, p in published} == {"8080", "8081", "8090", "9090", "9093", "3000"}
    assert set(published.values()) == {"127.0.0.1"}


def test_containers_are_hardened(model: dict[str, Any]) -> None:
    for name in ("migrate", "sandbox", "processor", "api", "collector", "alertmanager-config"):
        service = model["services"][name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
    for service in model["services"].values():
        image = service["image"]
        assert ":" in image, image
        assert not image.endswith(":latest"), image


def test_api_reads_as_the_read_only_role(model: dict[str, Any]) -> None:
    api = model["services"]["api"]["environment"]
    assert api["DATABASE_URL"].startswith("postgresql://myhealth_reader:")
    grafana = model["services"]["grafana"]["environment"]
    assert grafana["MYHEALTH_GRAFANA_DB_USER"] == "myhealth_reader"


def test_observability_files_are_mounted_where_they_are_expected(model: dict[str, Any]) -> None:
    def mounts(name: str) -> dict[str, str]:
        return {
            str(Path(v["source"]).relative_to(ROOT)): v["target"]
            for v in model["services"][name]["volumes"]
            if v["type"] == "bind"
        }

    assert mounts("grafana") == {
        "observability/grafana/provisioning": "/etc/grafana/provisioning",
        # the dashboards provider (provisioning/dashboards/) reads this directory
        "observability/grafana/dashboards": "/var/lib/grafana/dashboards/myhealth",
    }
    assert mounts("prometheus") == {"observability/prometheus": "/etc/prometheus"}
    assert mounts("postgres") == {"deploy/compose/initdb": "/docker-entrypoint-initdb.d"}
    initdb = ROOT / "deploy" / "compose" / "initdb" / "10-reader-role.sh"
    assert initdb.stat().st_mode & 0o111, "executable: the image runs it instead of sourcing it"


def test_mounted_files_exist_and_prometheus_scrapes_the_compose_services(
    model: dict[str, Any],
) -> None:
    for service in model["services"].values():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), volume["source"]
    config = yaml.safe_load((ROOT / "observability/prometheus/prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    exposed = {
        f"{name}:{port['target']}"
        for name, service in model["services"].items()
        for port in service.get("ports", [])
    }
    assert {"api:8080", "processor:8081", "sandbox:8090"} <= targets
    assert targets <= exposed


def test_grafana_has_no_default_admin_password() -> None:
    refused = compose("config", "--quiet", GRAFANA_ADMIN_PASSWORD="")
    assert refused.returncode != 0
    assert "GRAFANA_ADMIN_PASSWORD" in refused.stderr
    assert "there is no default" in refused.stderr
    chosen = compose("config", "--format", "json")
    assert chosen.returncode == 0, chosen.stderr
    grafana = json.loads(chosen.stdout)["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == GRAFANA_PASSWORD


def test_grafana_shows_the_owners_time_zone_by_default() -> None:
    """Grafana's default zone for every viewer is USER_TIMEZONE, as the services get it."""
    chosen = compose("config", "--format", "json", USER_TIMEZONE="Pacific/Auckland")
    assert chosen.returncode == 0, chosen.stderr
    services = json.loads(chosen.stdout)["services"]
    grafana = services["grafana"]["environment"]
    assert grafana["GF_DATE_FORMATS_DEFAULT_TIMEZONE"] == "Pacific/Auckland"
    assert services["api"]["environment"]["USER_TIMEZONE"] == "Pacific/Auckland"


def _stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_the_collector_runs_a_given_command_instead_of_the_loop(
    model: dict[str, Any], tmp_path: Path
) -> None:
    """`docker compose run --rm collector myhealth auth login ...` must run exactly that:
    the entrypoint is executed here by /bin/sh as the container would, `myhealth` stubbed."""
    # `config` keeps the file's `$$` escapes; Compose turns them into `$` when it runs.
    entrypoint = [part.replace("$$", "$") for part in model["services"]["collector"]["entrypoint"]]
    assert model["services"]["collector"]["command"] == []
    calls = tmp_path / "calls"
    _stub(tmp_path, "myhealth", f'echo "myhealth $*" >> {calls}')
    _stub(tmp_path, "sleep", "kill $PPID")  # ends the loop after one round
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}"}
    argv = ["myhealth", "auth", "login", "--bind", "0.0.0.0", "--port", "8765"]
    given = subprocess.run([*entrypoint, *argv], env=env, timeout=30, check=False)
    assert given.returncode == 0
    assert calls.read_text() == "myhealth auth login --bind 0.0.0.0 --port 8765\n"
    calls.unlink()
    subprocess.run(entrypoint, env=env, timeout=30, check=False)
    assert calls.read_text() == "myhealth collect --no-progress\n"


def test_the_collector_gets_the_oura_settings_login_needs(model: dict[str, Any]) -> None:
    environment = model["services"]["collector"]["environment"]
    for name in ("OURA_AUTHORIZE_URL", "OURA_TOKEN_URL", "OURA_CLIENT_ID", "OURA_CLIENT_SECRET"):
        assert name in environment, name
    # The browser opens the authorize URL: the sandbox's published port, not its service name.
    assert environment["OURA_AUTHORIZE_URL"] == "http://127.0.0.1:8090/oauth/authorize"
    unknown = {
        name
        for name in environment
        if name.startswith("OURA_") and name not in CollectorSettings.model_fields
    }
    assert not unknown


ALERT_SECRETS = {
    "ALERTS_NTFY_TOKEN": "tk_secret-ntfy",
    "ALERTS_WEBHOOK_TOKEN": "secret-webhook",
    "ALERTS_SMTP_PASSWORD": "secret-smtp",
}


def test_alertmanager_gets_its_settings_and_never_a_secret_in_its_config(tmp_path: Path) -> None:
    """Compose's own model, run: the renderer gets exactly the environment Compose gives it (a
    secret only as the path of the file Compose mounts into Alertmanager), its output passes
    `amtool check-config`, and no secret value is in it."""
    settings = {
        "ALERTS_NTFY_URL": "https://ntfy.sh/owner-topic",
        "ALERTS_EMAIL_TO": "owner@example.org",
        "ALERTS_EMAIL_FROM": "myhealth@example.org",
        "ALERTS_SMTP_SMARTHOST": "smtp.example.org:587",
        "ALERTS_SMTP_USERNAME": "myhealth@example.org",
    }
    variables: dict[str, Any] = {**settings, **ALERT_SECRETS}
    result = compose("config", "--format", "json", **variables)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    renderer = services["alertmanager-config"]
    environment = renderer["environment"]
    assert not set(ALERT_SECRETS.values()) & set(environment.values())
    assert environment["ALERTS_NTFY_TOKEN_FILE"] == "/run/secrets/alerts_ntfy_token"
    mounted = {secret["target"] for secret in services["alertmanager"]["secrets"]}
    files = {v for k, v in environment.items() if k.endswith("_FILE")}
    assert files <= mounted

    # The renderer's command, with the container's paths mapped to the repository's.
    volumes = {v["target"]: v["source"] for v in renderer["volumes"] if v["type"] == "bind"}
    template_dir = volumes["/etc/myhealth/alertmanager"]
    argv = [arg.replace("/etc/myhealth/alertmanager", template_dir) for arg in renderer["command"]]
    argv = [arg.replace("/config/", f"{tmp_path}/") for arg in argv]
    assert renderer["entrypoint"][:3] == ["python", "-m", "myhealth.alerting.render"]
    run = subprocess.run(
        [sys.executable, "-m", "myhealth.alerting.render", *argv],
        env={"PATH": os.environ["PATH"], **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    rendered = (tmp_path / "alertmanager.yml").read_text()
    assert not any(secret in rendered for secret in ALERT_SECRETS.values())
    assert "smtp_auth_password_file: /run/secrets/alerts_smtp_password" in rendered
    amtool = ROOT / ".tools" / "bin" / "amtool"
    check = subprocess.run(
        [str(amtool), "check-config", str(tmp_path / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Its templates glob names the container's path; amtool only warns about files it cannot
    # find there, the configuration itself must be accepted.
    assert check.returncode == 0, check.stdout + check.stderr


def test_unset_alert_secrets_are_not_referenced(model: dict[str, Any]) -> None:
    environment = model["services"]["alertmanager-config"]["environment"]
    assert {v for k, v in environment.items() if k.endswith("_FILE")} == {""}


def test_prometheus_sends_alerts_to_the_pinned_alertmanager(model: dict[str, Any]) -> None:
    alertmanager = model["services"]["alertmanager"]
    # The release the end-to-end test runs (Debian's 0.25, tools/install-alerting.sh).
    assert alertmanager["image"] == "prom/alertmanager:v0.25.0"
    config = yaml.safe_load((ROOT / "observability/prometheus/prometheus.yml").read_text())
    (target,) = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert target == "alertmanager:" + str(alertmanager["ports"][0]["target"])
    assert alertmanager["depends_on"]["alertmanager-config"]["condition"] == (
        "service_completed_successfully"
    )
