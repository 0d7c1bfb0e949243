"""docker-compose.yml: valid by the real Compose loader (which checks it against the
compose-spec JSON schema) and safe by default."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
TOOL = ROOT / ".tools" / "bin" / "docker-compose"


def compose(*args: str, file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess[str]:
    assert TOOL.exists(), "docker-compose is missing: run `make tools`"
    return subprocess.run(
        [str(TOOL), "--project-directory", str(ROOT), "-f", str(file), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT)},
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
        "postgres", "migrate", "sandbox", "processor", "api", "collector", "prometheus", "grafana"
    }  # fmt: skip
    for name in ("migrate", "sandbox", "processor", "api"):
        assert services[name]["command"] == [name]
    assert "myhealth collect" in services["collector"]["command"][0]
    for name in ("processor", "api", "collector"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_ports_are_published_on_loopback_only(model: dict[str, Any]) -> None:
    published = {
        (name, port["published"]): port.get("host_ip")
        for name, service in model["services"].items()
        for port in service.get("ports", [])
    }
    assert {p for _, p in published} == {"8080", "8081", "8090", "9090", "3000"}
    assert set(published.values()) == {"127.0.0.1"}


def test_containers_are_hardened(model: dict[str, Any]) -> None:
    for name in ("migrate", "sandbox", "processor", "api", "collector"):
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
