"""Every pod template meets the Kubernetes "restricted" Pod Security Standard (checked as the
standard defines it, v1.34), and the house rules on top: resources, probes, read-only root,
graceful shutdown."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Manifest, Render, pod_templates

# https://kubernetes.io/docs/concepts/security/pod-security-standards/
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}  # fmt: skip
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *spec.get("initContainers", []),
        *spec.get("containers", []),
        *spec.get("ephemeralContainers", []),
    ]


def restricted_violations(meta: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """The restricted profile's checks (baseline included), in the standard's order."""
    problems: list[str] = []
    pod_sc = spec.get("securityContext", {})
    containers = all_containers(spec)
    annotations = meta.get("annotations", {})

    # Baseline
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(f"host namespaces: {key}")
    if pod_sc.get("windowsOptions", {}).get("hostProcess"):
        problems.append("HostProcess pod")
    for c in containers:
        sc = c.get("securityContext", {})
        if sc.get("privileged"):
            problems.append(f"{c['name']}: privileged")
        if sc.get("windowsOptions", {}).get("hostProcess"):
            problems.append(f"{c['name']}: HostProcess")
        if sc.get("procMount", "Default") != "Default":
            problems.append(f"{c['name']}: procMount")
        for port in c.get("ports", []):
            if port.get("hostPort", 0):
                problems.append(f"{c['name']}: hostPort")
        for profile in (sc.get("appArmorProfile"), pod_sc.get("appArmorProfile")):
            if profile and profile.get("type") == "Unconfined":
                problems.append(f"{c['name']}: AppArmor Unconfined")
        selinux = sc.get("seLinuxOptions", {})
        if (
            selinux.get("type", "") not in SELINUX_TYPES
            or selinux.get("user")
            or selinux.get("role")
        ):
            problems.append(f"{c['name']}: seLinuxOptions")
    for key, value in annotations.items():
        if (
            key.startswith("container.apparmor.security.beta.kubernetes.io/")
            and value
            not in (
                "runtime/default",
                "localhost/",
            )
            and not value.startswith("localhost/")
        ):
            problems.append(f"AppArmor annotation {key}={value}")
    for sysctl in pod_sc.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl['name']}")
    # Restricted
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']}: {sorted(kinds)}")
    pod_non_root = pod_sc.get("runAsNonRoot")
    pod_seccomp = pod_sc.get("seccompProfile", {}).get("type")
    if pod_sc.get("runAsUser") == 0:
        problems.append("pod runAsUser 0")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        problems.append(f"pod seccomp {pod_seccomp}")
    for c in containers:
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{c['name']}: allowPrivilegeEscalation != false")
        if sc.get("runAsNonRoot", pod_non_root) is not True:
            problems.append(f"{c['name']}: runAsNonRoot != true")
        if sc.get("runAsUser") == 0:
            problems.append(f"{c['name']}: runAsUser 0")
        seccomp = sc.get("seccompProfile", {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{c['name']}: seccompProfile {seccomp}")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{c['name']}: capabilities not dropping ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{c['name']}: adds capabilities {caps['add']}")
    return problems


def workloads(rendered: Render) -> list[tuple[Manifest, dict[str, Any], dict[str, Any]]]:
    return [(m, meta, spec) for m in rendered.manifests for meta, spec in pod_templates(m)]


def test_checker_finds_violations() -> None:
    """The PSS checker is real: a root, privileged, hostPath pod fails on each count."""
    spec = {
        "hostNetwork": True,
        "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
        "containers": [{"name": "c", "securityContext": {"privileged": True, "runAsUser": 0}}],
    }
    problems = "\n".join(restricted_violations({}, spec))
    for expected in ("hostNetwork", "privileged", "hostPath", "allowPrivilegeEscalation",
                     "runAsNonRoot", "runAsUser 0", "seccompProfile", "dropping ALL"):  # fmt: skip
        assert expected in problems


def test_every_pod_meets_restricted(rendered: Render) -> None:
    found = workloads(rendered)
    assert found, rendered.name
    failures = [
        f"{m['kind']}/{m['metadata']['name']}: {problem}"
        for m, meta, spec in found
        for problem in restricted_violations(meta, spec)
    ]
    assert not failures, "\n".join(failures)


def test_every_container_has_requests_limits_and_read_only_root(rendered: Render) -> None:
    for manifest, _, spec in workloads(rendered):
        assert spec.get("automountServiceAccountToken") is not None, manifest["metadata"]["name"]
        for c in all_containers(spec):
            where = f"{rendered.name} {manifest['kind']}/{c['name']}"
            for section in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][section]), where
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert not c["image"].endswith(":latest"), where


def test_long_running_pods_have_probes_and_graceful_shutdown(rendered: Render) -> None:
    for deployment in rendered.of_kind("Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        for c in spec["containers"]:
            assert c["livenessProbe"]["httpGet"]["port"] == "http"
            assert c["readinessProbe"]["httpGet"]["port"] == "http"
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        if component in ("processor", "api"):
            (c,) = spec["containers"]
            assert c["livenessProbe"]["httpGet"]["path"] == "/health"
            assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
            assert c["lifecycle"]["preStop"]["sleep"]["seconds"] > 0
            assert (
                spec["terminationGracePeriodSeconds"]
                > c["lifecycle"]["preStop"]["sleep"]["seconds"]
            )


@pytest.mark.parametrize("component", ["processor", "api"])
def test_multi_replica_workloads_spread_over_zones_and_nodes(
    render_scenario: Any, component: str
) -> None:
    prod = render_scenario("prod")
    spec = prod.get("Deployment", f"myhealth-{component}")["spec"]["template"]["spec"]
    keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    dev = render_scenario("dev")  # one replica, no HPA: nothing to spread
    assert (
        "topologySpreadConstraints"
        not in dev.get("Deployment", f"myhealth-{component}")["spec"]["template"]["spec"]
    )
