"""What each ServiceAccount of the chart may do, as the API server's RBAC answers it
(`kubectl auth can-i --list --as=system:serviceaccount:<ns>:<sa>`), against the written-down
expectation below."""

from __future__ import annotations

import re
from typing import Any

from .conftest import Cluster

Rule = tuple[str, str, str]  # (resource, resource names, verbs) as kubectl prints them

# Every authenticated identity may ask the server about itself (system:basic-user); these rows
# appear for any ServiceAccount and grant nothing about other objects.
SELF_REVIEWS: frozenset[Rule] = frozenset(
    (resource, "[]", "[create]")
    for resource in (
        "selfsubjectreviews.authentication.k8s.io",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
    )
)
# Read access for Prometheus' Kubernetes service discovery in its own namespace: no secrets.
PROMETHEUS_DISCOVERY: frozenset[Rule] = frozenset(
    (resource, "[]", "[get list watch]")
    for resource in ("services", "endpoints", "pods", "endpointslices.discovery.k8s.io")
)
# Rules each ServiceAccount holds in its own namespace beyond SELF_REVIEWS, by the name the
# chart gives it with the release "myhealth". A ServiceAccount missing here fails the test:
# decide what it needs and write it down.
EXPECTED: dict[str, frozenset[Rule]] = {
    "myhealth-api": frozenset(),
    "myhealth-processor": frozenset(),
    "myhealth-collector": frozenset(),
    "myhealth-migrate": frozenset(),
    # The nightly export: its IRSA role writes to S3; Kubernetes grants it nothing.
    "myhealth-backup": frozenset(),
    # Authenticates the SecretStore to AWS through IRSA; Kubernetes grants it nothing.
    "myhealth-external-secrets": frozenset(),
    "myhealth-grafana": frozenset(),
    "myhealth-prometheus": PROMETHEUS_DISCOVERY,
    # The `helm test` pods only call each service's /ready.
    "myhealth-test": frozenset(),
}
_ROW = re.compile(r"^\s*(\S*?)\s*(\[[^\]]*\])\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s*$")
# Non-resource URLs every identity may GET (discovery, health, version, OIDC keys).
_PUBLIC_URL = re.compile(
    r"^\[(/\.well-known/openid-configuration|/openid/v1/jwks|/api|/apis"
    r"|/healthz|/livez|/readyz|/version|/openapi)(/|/\*)?\]$"
)


def can_i_list(cluster: Cluster, namespace: str, account: str, where: str) -> set[Rule]:
    """The resource rows of `kubectl auth can-i --list` for the account, in namespace `where`;
    fails on a non-resource row beyond the public read-only URLs."""
    output = cluster.kubectl(
        "auth",
        "can-i",
        "--list",
        "--no-headers",
        f"--as=system:serviceaccount:{namespace}:{account}",
        "-n",
        where,
    )
    rules: set[Rule] = set()
    for line in output.splitlines():
        match = _ROW.match(line)
        assert match, f"unparsed can-i row: {line!r}"
        resource, urls, names, verbs = match.groups()
        if resource:
            rules.add((resource, names, verbs))
        else:
            assert _PUBLIC_URL.match(urls), f"{account}: {line.strip()}"
            assert verbs == "[get]", f"{account}: {line.strip()}"
    return rules


def rbac_problems(cluster: Cluster, manifests: list[dict[str, Any]], namespace: str) -> list[str]:
    """For every ServiceAccount in the render: its rights in its namespace are exactly the
    expected ones, and in any other namespace (cluster-wide rights) only the self reviews."""
    problems = []
    for manifest in manifests:
        if manifest["kind"] != "ServiceAccount":
            continue
        name = manifest["metadata"]["name"]
        home = manifest["metadata"].get("namespace", namespace)
        if name not in EXPECTED:
            problems.append(f"{home}/{name}: no expected rights written down in rbac.py")
            continue
        extra = can_i_list(cluster, home, name, home) - SELF_REVIEWS
        if extra != EXPECTED[name]:
            problems.append(f"{home}/{name} may {sorted(extra)}, expected {sorted(EXPECTED[name])}")
        elsewhere = can_i_list(cluster, home, name, "default") - SELF_REVIEWS
        if elsewhere:
            problems.append(f"{home}/{name} has rights outside its namespace: {sorted(elsewhere)}")
        secrets = [r for r in extra | elsewhere if r[0] in {"secrets", "*", "*.*"}]
        if secrets and name not in SECRET_READERS:
            problems.append(f"{home}/{name} may read secrets: {secrets}")
    return problems


# ServiceAccounts allowed to read Secrets through the API, with the reason. None today.
SECRET_READERS: dict[str, str] = {}
