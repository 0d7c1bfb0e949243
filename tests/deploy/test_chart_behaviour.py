"""What the templates do: what each toggle adds or removes, and the wiring between objects
(selectors, ports, probes, ServiceMonitors, secrets, AuthorizationPolicy principals)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import (
    CHART,
    FIXTURE_OBSERVABILITY,
    INFRASTRUCTURE,
    NAMESPACE,
    Manifest,
    Render,
    pod_templates,
)

RenderFn = Callable[[str], Render]
ISTIO_KINDS = {"Gateway", "VirtualService", "DestinationRule", "PeerAuthentication",
               "AuthorizationPolicy", "ServiceEntry", "Sidecar"}  # fmt: skip
HOOK = "helm.sh/hook"


def name(component: str) -> str:
    return f"myhealth-{component}"


def principal(service_account: str, namespace: str = NAMESPACE) -> str:
    return f"cluster.local/ns/{namespace}/sa/{service_account}"


def containers(manifest: Manifest) -> list[dict[str, Any]]:
    return [c for _, spec in pod_templates(manifest) for c in spec["containers"]]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


# --- wiring ---------------------------------------------------------------------------------


def test_selectors_match_pod_labels(rendered: Render) -> None:
    for deployment in rendered.of_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert matches(selector, labels)
        assert set(selector) == {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
        }
    pods = [meta.get("labels", {}) for m in rendered.manifests for meta, _ in pod_templates(m)]
    for kind in ("Service", "PodDisruptionBudget"):
        for obj in rendered.of_kind(kind):
            selector = obj["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            assert sum(matches(selector, labels) for labels in pods) == 1, obj["metadata"]["name"]


def test_service_ports_match_probes_and_service_monitors(rendered: Render) -> None:
    for service in rendered.of_kind("Service"):
        (port,) = service["spec"]["ports"]
        target = next(
            d
            for d in rendered.of_kind("Deployment")
            if matches(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        )
        (container,) = target["spec"]["template"]["spec"]["containers"]
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named[port["targetPort"]] == port["port"]
        assert container["readinessProbe"]["httpGet"]["port"] in named
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if "PORT" in env:
            assert env["PORT"] == str(port["port"])
    for monitor in rendered.of_kind("ServiceMonitor"):
        services = [
            s
            for s in rendered.of_kind("Service")
            if matches(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        assert len(services) == 1
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] in {p["name"] for p in services[0]["spec"]["ports"]}
        assert endpoint["path"] == "/metrics"


def test_hpa_targets_existing_deployments(rendered: Render) -> None:
    deployments = {d["metadata"]["name"]: d for d in rendered.of_kind("Deployment")}
    for hpa in rendered.of_kind("HorizontalPodAutoscaler"):
        target = deployments[hpa["spec"]["scaleTargetRef"]["name"]]
        # The HPA owns the replica count; a fixed one would fight it on every sync.
        assert "replicas" not in target["spec"]


def secret_keys(rendered: Render) -> dict[str, set[str]]:
    """Secret name -> keys, from the ExternalSecrets or plain Secrets the chart makes."""
    keys: dict[str, set[str]] = {}
    for es in rendered.of_kind("ExternalSecret"):
        template = es["spec"]["target"].get("template", {}).get("data")
        # dataFrom (the alerting Secret) gives whatever keys the remote JSON has: none known.
        found = set(template) if template else {d["secretKey"] for d in es["spec"].get("data", [])}
        keys[es["spec"]["target"]["name"]] = found
    for secret in rendered.of_kind("Secret"):
        keys[secret["metadata"]["name"]] = set(secret["stringData"])
    return keys


def test_every_secret_reference_is_satisfied(rendered: Render) -> None:
    available = secret_keys(rendered)
    refs = [
        ref
        for manifest in rendered.manifests
        for c in containers(manifest)
        for env in c.get("env", [])
        if (ref := env.get("valueFrom", {}).get("secretKeyRef"))
    ]
    assert refs
    if not available:
        # Secrets made outside the chart (no ESO, secrets.create false): only the documented names.
        documented = {name(s) for s in ("oura", "oura-tokens", "database", "api", "ingest")}
        assert {ref["name"] for ref in refs} <= documented | {name("database-readonly")}
        return
    for ref in refs:
        if not ref.get("optional"):
            assert ref["key"] in available.get(ref["name"], set()), (rendered.name, ref)


# --- toggles --------------------------------------------------------------------------------


def test_istio_toggle(render_scenario: RenderFn) -> None:
    on, off = render_scenario("prod"), render_scenario("prod-istio-off")
    assert on.kinds() >= ISTIO_KINDS
    assert not ISTIO_KINDS & off.kinds()
    for manifest in on.manifests:
        for meta, _ in pod_templates(manifest):
            assert meta["labels"]["sidecar.istio.io/inject"] == "true"
    for manifest in off.manifests:
        for meta, _ in pod_templates(manifest):
            assert "sidecar.istio.io/inject" not in meta.get("labels", {})
    (peer,) = on.of_kind("PeerAuthentication")
    assert peer["spec"] == {"mtls": {"mode": "STRICT"}}
    assert "selector" not in peer["spec"]


def test_run_to_completion_pods_use_native_sidecars(render_scenario: RenderFn) -> None:
    dev = render_scenario("dev")
    cron = dev.get("CronJob", name("collector"))
    job = dev.get("Job", name("migrate"))
    for workload in (cron, job):
        ((meta, _),) = pod_templates(workload)
        assert meta["annotations"]["sidecar.istio.io/nativeSidecar"] == "true"
    ((meta, _),) = pod_templates(
        render_scenario("prod-istio-off").get("CronJob", name("collector"))
    )
    assert "sidecar.istio.io/nativeSidecar" not in meta.get("annotations", {})


def test_authorization_policies_name_the_right_service_accounts(render_scenario: RenderFn) -> None:
    dev = render_scenario("dev")
    policies = {p["metadata"]["name"]: p["spec"] for p in dev.of_kind("AuthorizationPolicy")}
    service_accounts = {sa["metadata"]["name"] for sa in dev.of_kind("ServiceAccount")}
    pods = {
        m["metadata"]["name"]: m for m in dev.manifests if m["kind"] in {"Deployment", "CronJob"}
    }

    assert policies["myhealth-deny-all"] == {}

    gateway = policies["myhealth-api-from-gateway"]
    assert gateway["selector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    assert gateway["rules"][0]["from"][0]["source"]["principals"] == [
        principal("istio-ingressgateway", "istio-ingress")
    ]
    assert gateway["rules"][0]["to"][0]["operation"]["notPaths"] == ["/metrics"]

    ingest = policies["myhealth-processor-from-collector"]
    assert ingest["selector"]["matchLabels"]["app.kubernetes.io/component"] == "processor"
    (collector_principal,) = ingest["rules"][0]["from"][0]["source"]["principals"]
    assert collector_principal == principal(name("collector"))
    ((_, cron_spec),) = pod_templates(pods[name("collector")])
    assert cron_spec["serviceAccountName"] == name("collector")
    assert name("collector") in service_accounts
    # The collector checks GET /health before spending Oura requests, then posts batches.
    allowed = {
        (op["operation"]["methods"][0], op["operation"]["paths"][0])
        for op in ingest["rules"][0]["to"]
    }
    assert allowed == {("POST", "/api/v1/ingest"), ("GET", "/health")}

    for component in ("processor", "api"):
        metrics = policies[f"myhealth-{component}-metrics"]
        assert metrics["rules"][0]["from"][0]["source"]["principals"] == [
            principal("kube-prometheus-stack-prometheus", "monitoring")
        ]
        assert metrics["rules"][0]["to"][0]["operation"] == {
            "methods": ["GET"],
            "paths": ["/metrics"],
        }


def test_in_chart_prometheus_is_allowed_to_scrape(render_scenario: RenderFn) -> None:
    standalone = render_scenario("dev-standalone-monitoring")
    metrics = standalone.get("AuthorizationPolicy", "myhealth-api-metrics")
    principals = metrics["spec"]["rules"][0]["from"][0]["source"]["principals"]
    assert principal(name("prometheus")) in principals
    assert standalone.get("ServiceAccount", name("prometheus"))


def test_collector_egress_is_limited_to_oura(render_scenario: RenderFn) -> None:
    dev = render_scenario("dev")
    entries = {e["metadata"]["name"]: e["spec"] for e in dev.of_kind("ServiceEntry")}
    assert entries["myhealth-oura"]["hosts"] == ["api.ouraring.com"]
    assert entries["myhealth-oura"]["ports"] == [{"number": 443, "name": "tls", "protocol": "TLS"}]
    assert entries["myhealth-postgresql"]["ports"][0]["number"] == 5432
    (sidecar,) = dev.of_kind("Sidecar")
    assert sidecar["spec"]["outboundTrafficPolicy"] == {"mode": "REGISTRY_ONLY"}
    ((meta, _),) = pod_templates(dev.get("CronJob", name("collector")))
    assert matches(sidecar["spec"]["workloadSelector"]["labels"], meta["labels"])


def test_gateway_and_route(render_scenario: RenderFn) -> None:
    dev = render_scenario("dev")
    (gateway,) = dev.of_kind("Gateway")
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}
    # API Gateway terminates TLS; the NLB delivers plain HTTP to the gateway.
    (server,) = gateway["spec"]["servers"]
    assert server["port"] == {"number": 80, "name": "http", "protocol": "HTTP"}
    (binding,) = dev.of_kind("TargetGroupBinding")
    assert binding["metadata"]["namespace"] == "istio-ingress"
    assert binding["spec"]["serviceRef"] == {"name": "istio-ingressgateway", "port": 80}
    assert binding["spec"]["targetGroupARN"].startswith("arn:aws:elasticloadbalancing:")
    assert binding["spec"]["targetType"] == "ip"
    assert not render_scenario("prod-istio-off").of_kind("TargetGroupBinding")
    (route,) = dev.of_kind("VirtualService")
    assert route["spec"]["gateways"] == [f"{NAMESPACE}/myhealth"]
    destination = route["spec"]["http"][-1]["route"][0]["destination"]
    assert destination["host"] == f"{name('api')}.{NAMESPACE}.svc.cluster.local"
    assert destination["port"]["number"] == 8080
    assert not render_scenario("dev-no-api").of_kind("VirtualService")


def test_collector_cronjob(render_scenario: RenderFn) -> None:
    cron = render_scenario("prod").get("CronJob", name("collector"))["spec"]
    assert cron["schedule"] == "*/5 * * * *"
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["startingDeadlineSeconds"] > 0
    assert cron["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 0
    assert cron["successfulJobsHistoryLimit"] >= 1
    assert cron["failedJobsHistoryLimit"] >= 1
    (container,) = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["collect"]
    assert cron["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_commands_and_listen_settings(render_scenario: RenderFn) -> None:
    dev = render_scenario("dev")
    for component, port in (("processor", "8081"), ("api", "8080")):
        (c,) = dev.get("Deployment", name(component))["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert c["args"] == [component]
        assert env["HOST"] == "0.0.0.0"
        assert env["PORT"] == port
    config = dev.get("ConfigMap", "myhealth")  # the app's settings (dashboards have their own)
    assert (
        config["data"]["PROCESSOR_URL"]
        == f"http://{name('processor')}.{NAMESPACE}.svc.cluster.local:8081"
    )
    assert config["data"]["CORS_ORIGINS"] == "https://eric-n.com"


def test_migration_runs_as_a_hook_with_its_own_secret(render_scenario: RenderFn) -> None:
    for scenario, kind in (("dev", "ExternalSecret"), ("dev-plain-secrets", "Secret")):
        rendered = render_scenario(scenario)
        job = rendered.get("Job", name("migrate"))
        assert job["metadata"]["annotations"][HOOK] == "pre-install,pre-upgrade"
        job_weight = int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
        (c,) = job["spec"]["template"]["spec"]["containers"]
        dependencies = []
        if kind == "ExternalSecret":
            # migration.manageRoles: the roles script, then the migration, as the master user.
            assert c["command"] == [
                "sh",
                "-c",
                "python /etc/myhealth/database/roles.py && exec myhealth migrate",
            ]
            (source,) = c["envFrom"]
            secret = rendered.get(kind, source["secretRef"]["name"])
            script = rendered.get("ConfigMap", name("migrate"))
            assert script["data"]["roles.py"] == (CHART / "files/database/roles.py").read_text()
            dependencies.append(script)
            # The store it reads and the store's identity come even earlier.
            store = rendered.get("SecretStore", secret["spec"]["secretStoreRef"]["name"])
            store_account = rendered.get("ServiceAccount", "myhealth-external-secrets")
            for early in (store, store_account):
                weight = int(early["metadata"]["annotations"]["helm.sh/hook-weight"])
                assert weight < int(secret["metadata"]["annotations"]["helm.sh/hook-weight"])
            assert store_account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
            auth = store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]
            assert auth == {"name": "myhealth-external-secrets"}
        else:
            assert c["args"] == ["migrate"]
            (url,) = [e for e in c["env"] if e["name"] == "DATABASE_URL"]
            secret = rendered.get(kind, url["valueFrom"]["secretKeyRef"]["name"])
        account = rendered.get(
            "ServiceAccount", job["spec"]["template"]["spec"]["serviceAccountName"]
        )
        for dependency in (secret, account, *dependencies):
            assert dependency["metadata"]["annotations"][HOOK] == "pre-install,pre-upgrade"
            assert int(dependency["metadata"]["annotations"]["helm.sh/hook-weight"]) < job_weight
    assert not render_scenario("prod-minimal").of_kind("Job")


def test_only_the_migration_hook_reads_the_master_secret(render_scenario: RenderFn) -> None:
    """Workloads use the writer login, Grafana the reader; the master login is the hook's."""
    infrastructure = json.loads((INFRASTRUCTURE / "prod.json").read_text())
    master = infrastructure["database"]["masterSecretArn"]
    names = infrastructure["externalSecrets"]["secretNames"]
    prod = render_scenario("prod")
    readers = {
        es["metadata"]["name"]
        for es in prod.of_kind("ExternalSecret")
        if any(d["remoteRef"]["key"] == master for d in es["spec"]["data"])
    }
    assert readers == {name("migrate")}
    keys = {
        es["metadata"]["name"]: {d["remoteRef"]["key"] for d in es["spec"]["data"]}
        for es in prod.of_kind("ExternalSecret")
    }
    assert keys[name("database")] == {names["databaseWriter"]}
    assert keys[name("grafana-datasource")] == {names["databaseReader"]}
    assert keys[name("migrate")] == {master, names["databaseWriter"], names["databaseReader"]}
    template = prod.get("ExternalSecret", name("migrate"))["spec"]["target"]["template"]["data"]
    assert set(template) == {
        "DATABASE_URL",
        "MYHEALTH_DB_WRITER_USER",
        "MYHEALTH_DB_WRITER_PASSWORD",
        "MYHEALTH_DB_READER_USER",
        "MYHEALTH_DB_READER_PASSWORD",
    }
    for component in ("api", "processor"):
        (c,) = prod.get("Deployment", name(component))["spec"]["template"]["spec"]["containers"]
        (url,) = [e for e in c["env"] if e["name"] == "DATABASE_URL"]
        assert url["valueFrom"]["secretKeyRef"]["name"] == name("database")


def test_secret_sources(render_scenario: RenderFn) -> None:
    eso, plain, external = (
        render_scenario("dev"),
        render_scenario("dev-plain-secrets"),
        render_scenario("default"),
    )
    assert eso.of_kind("ExternalSecret")
    assert not eso.of_kind("Secret")
    assert plain.of_kind("Secret")
    assert not plain.of_kind("ExternalSecret")
    assert not external.of_kind("Secret")
    assert not external.of_kind("ExternalSecret")
    for es in eso.of_kind("ExternalSecret"):
        assert es["apiVersion"] == "external-secrets.io/v1"
        assert es["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "myhealth"}
    database = plain.get("Secret", name("database"))["stringData"]["DATABASE_URL"]
    # Credentials are URL-encoded into the connection string.
    assert database == (
        "postgresql://myhealth:p%40ss%3Aw%2Frd@myhealth-dev.abcdefghijkl.us-east-1.rds.amazonaws.com"
        ":5432/myhealth?sslmode=require"
    )
    template = eso.get("ExternalSecret", name("database"))["spec"]["target"]["template"]["data"]
    assert template["DATABASE_URL"].startswith("postgresql://{{ .username | urlquery }}:")


def test_hpa_toggle_and_prod_bounds(render_scenario: RenderFn) -> None:
    prod, minimal = render_scenario("prod"), render_scenario("prod-minimal")
    bounds = {
        h["metadata"]["name"]: (h["spec"]["minReplicas"], h["spec"]["maxReplicas"])
        for h in prod.of_kind("HorizontalPodAutoscaler")
    }
    assert bounds == {name("processor"): (2, 5), name("api"): (3, 10)}
    assert not minimal.of_kind("HorizontalPodAutoscaler")
    assert not minimal.of_kind("PodDisruptionBudget")
    for deployment in minimal.of_kind("Deployment"):
        assert deployment["spec"]["replicas"] >= 1


def test_network_policies(render_scenario: RenderFn) -> None:
    dev = render_scenario("dev")
    policies = {p["metadata"]["name"]: p["spec"] for p in dev.of_kind("NetworkPolicy")}
    assert policies["myhealth-default-deny"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    dns_ports = {
        (p["protocol"], p["port"]) for p in policies["myhealth-allow-dns"]["egress"][0]["ports"]
    }
    assert dns_ports == {("UDP", 53), ("TCP", 53)}
    postgres = policies["myhealth-allow-postgresql"]["egress"][0]
    assert postgres["ports"] == [{"protocol": "TCP", "port": 5432}]
    # The database subnets Terraform reports (helm_values.database.cidrs), as they are.
    infrastructure = json.loads((INFRASTRUCTURE / "dev.json").read_text())
    assert postgres["to"] == [{"ipBlock": {"cidr": c}} for c in infrastructure["database"]["cidrs"]]
    ingest = policies["myhealth-processor-ingress"]["ingress"][0]
    assert ingest["ports"] == [{"protocol": "TCP", "port": 8081}]
    assert {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "myhealth", "app.kubernetes.io/instance": "myhealth",
        "app.kubernetes.io/component": "collector"}}} in ingest["from"]  # fmt: skip
    oura = policies["myhealth-collector-egress"]["egress"][1]
    assert oura["ports"] == [{"protocol": "TCP", "port": 443}]
    assert "10.0.0.0/8" in oura["to"][0]["ipBlock"]["except"]
    assert "myhealth-allow-istio" in policies
    assert "myhealth-allow-istio" not in {
        p["metadata"]["name"] for p in render_scenario("prod-istio-off").of_kind("NetworkPolicy")
    }
    assert not render_scenario("prod-minimal").of_kind("NetworkPolicy")


@pytest.mark.parametrize(
    ("scenario", "present", "absent"),
    [
        ("fixture-dev", {"ServiceMonitor", "PrometheusRule"}, set()),
        ("fixture-standalone", set(), {"ServiceMonitor", "PrometheusRule"}),
        ("prod-minimal", set(), {"ServiceMonitor", "PrometheusRule"}),
    ],
)
def test_monitoring_toggles(
    render_scenario: RenderFn, scenario: str, present: set[str], absent: set[str]
) -> None:
    kinds = render_scenario(scenario).kinds()
    assert present <= kinds
    assert not absent & kinds


def test_prometheus_rule_comes_from_the_observability_rules_file(render_scenario: RenderFn) -> None:
    rendered = render_scenario("fixture-dev")
    (rule,) = rendered.of_kind("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    # Every rules file's groups, in file-name order (insights.rules.yaml, myhealth.rules.yaml).
    alerts = [group["rules"][0]["alert"] for group in rule["spec"]["groups"]]
    assert alerts == ["MyhealthFixtureHealth", "MyhealthFixtureDown"]
    monitors = rendered.of_kind("ServiceMonitor")
    assert {m["metadata"]["labels"]["release"] for m in monitors} == {"kube-prometheus-stack"}
    # Inside the mesh, scrapes use Prometheus' Istio workload certificate.
    assert {m["spec"]["endpoints"][0]["scheme"] for m in monitors} == {"https"}
    (dashboard,) = [
        c for c in rendered.of_kind("ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]
    ]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    # A file name with characters an object name may not hold still makes a valid name.
    assert dashboard["metadata"]["name"] == "myhealth-dashboard-fixture-overview"
    assert '"uid": "fixture-overview"' in dashboard["data"]["Fixture_overview.json"]


def test_in_chart_grafana_gets_the_observability_datasources(render_scenario: RenderFn) -> None:
    rendered = render_scenario("fixture-standalone")
    fixture = (
        FIXTURE_OBSERVABILITY / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
    )
    config = rendered.get("ConfigMap", name("grafana"))["data"]
    assert config["datasources.yaml"] == fixture.read_text().rstrip("\n")
    # The variables the file expands, the in-chart Prometheus among them.
    env = rendered.get("Secret", name("grafana-datasource"))["stringData"]
    assert env["MYHEALTH_PROMETHEUS_URL"] == f"http://{name('prometheus')}:9090"
    assert env["MYHEALTH_GRAFANA_DB_HOST"].endswith(".rds.amazonaws.com:5432")
    assert env["MYHEALTH_GRAFANA_DB_USER"] == "myhealth_reader"  # the read-only login
    # Viewers see the dashboards in the owner's zone by default (docs/monitoring.md#time-zones).
    owner_zone = rendered.get("ConfigMap", "myhealth")["data"]["USER_TIMEZONE"]
    assert env["GF_DATE_FORMATS_DEFAULT_TIMEZONE"] == owner_zone
    grafana = rendered.get("Deployment", name("grafana"))["spec"]["template"]["spec"]
    (container,) = grafana["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": name("grafana-datasource")}}]
    (volume,) = [v for v in grafana["volumes"] if v["name"] == "dashboards"]
    assert volume["projected"]["sources"] == [
        {"configMap": {"name": "myhealth-dashboard-fixture-overview"}}
    ]
    prometheus = rendered.get("ConfigMap", name("prometheus"))["data"]
    assert "MyhealthFixtureDown" in prometheus["myhealth.rules.yaml"]
    assert "MyhealthFixtureHealth" in prometheus["insights.rules.yaml"]
    assert "tls_config" in prometheus["prometheus.yml"]
    no_mesh = render_scenario("ci-standalone").get("ConfigMap", name("prometheus"))
    assert "tls_config" not in no_mesh["data"]["prometheus.yml"]


def test_sidecar_datasources_land_in_grafanas_namespace(render_scenario: RenderFn) -> None:
    rendered = render_scenario("fixture-dev")
    in_monitoring = {
        (m["kind"], m["metadata"]["name"])
        for m in rendered.manifests
        if m["metadata"].get("namespace") == "monitoring"
    }
    assert in_monitoring == {
        ("ConfigMap", "myhealth-datasources"),
        ("ExternalSecret", name("grafana-datasource")),
        ("SecretStore", "myhealth"),
        ("ServiceAccount", "myhealth-external-secrets"),
    }
    datasources = next(
        m for m in rendered.of_kind("ConfigMap") if m["metadata"]["name"] == "myhealth-datasources"
    )
    assert datasources["metadata"]["labels"]["grafana_datasource"] == "1"
    (secret,) = [
        m
        for m in rendered.of_kind("ExternalSecret")
        if m["metadata"]["name"] == name("grafana-datasource")
    ]
    template = secret["spec"]["target"]["template"]["data"]
    # kube-prometheus-stack's Grafana loads this Secret too: the owner's zone is its default.
    owner_zone = rendered.get("ConfigMap", "myhealth")["data"]["USER_TIMEZONE"]
    assert template["GF_DATE_FORMATS_DEFAULT_TIMEZONE"] == owner_zone == "Europe/Berlin"
    assert template["MYHEALTH_PROMETHEUS_URL"].startswith(
        "http://kube-prometheus-stack-prometheus."
    )
    assert set(template) >= {
        "MYHEALTH_GRAFANA_DB_HOST",
        "MYHEALTH_GRAFANA_DB_NAME",
        "MYHEALTH_GRAFANA_DB_USER",
        "MYHEALTH_GRAFANA_DB_PASSWORD",
        "MYHEALTH_GRAFANA_DB_SSLMODE",
    }


def test_irsa_role_annotation_is_a_value(fixture_chart: Any) -> None:
    from .conftest import helm_template

    arn = "arn:aws:iam::123456789012:role/myhealth-collector"
    manifests = helm_template(fixture_chart, [], "--set", f"collector.serviceAccount.roleArn={arn}")
    (account,) = [
        m
        for m in manifests
        if m["kind"] == "ServiceAccount" and m["metadata"]["name"] == name("collector")
    ]
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == arn
    assert account["automountServiceAccountToken"] is False


def test_external_secrets_read_the_terraform_secret_layout(render_scenario: RenderFn) -> None:
    dev = render_scenario("dev")

    def refs(secret: str) -> dict[str, tuple[str, str | None]]:
        spec = dev.get("ExternalSecret", name(secret))["spec"]
        return {
            d["secretKey"]: (d["remoteRef"]["key"], d["remoteRef"].get("property"))
            for d in spec["data"]
        }

    assert refs("oura") == {
        "OURA_CLIENT_ID": ("myhealth/dev/oura-oauth", "client_id"),
        "OURA_CLIENT_SECRET": ("myhealth/dev/oura-oauth", "client_secret"),
    }
    # A separate Secret, optional in the pod: an unset bootstrap token blocks nothing.
    assert refs("oura-tokens") == {
        "OURA_REFRESH_TOKEN": ("myhealth/dev/oura-tokens", "refresh_token")
    }
    (container,) = containers(dev.get("CronJob", name("collector")))
    (token,) = [e for e in container["env"] if e["name"] == "OURA_REFRESH_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {
        "name": name("oura-tokens"),
        "key": "OURA_REFRESH_TOKEN",
        "optional": True,
    }
    assert refs("api") == {
        "API_KEY": ("myhealth/dev/api-key", None),
        "JWT_SECRET": ("myhealth/dev/jwt-secret", None),
    }
    assert refs("ingest") == {"INGEST_TOKEN": ("myhealth/dev/ingest-token", None)}
    writer = "myhealth/dev/database-writer"
    assert refs("database") == {"username": (writer, "username"), "password": (writer, "password")}
