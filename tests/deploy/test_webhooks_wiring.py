"""Oura webhooks in the chart and in Terraform (docs/deployment.md#webhooks): off by default,
and when on, every part is wired — the api gets the token and signature key, the processor
its worker and egress to Oura, a no-retry route for exactly /webhooks/oura, a renewal CronJob
with the collector's identity — and API Gateway routes the path without the authorizer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.infra.helpers import MODULES
from tests.infra.test_deploy_wiring import expression, module_call, resources_of

from .conftest import Render, pod_templates

RenderFn = Callable[[str], Render]
WEBHOOK_ROUTES = ["GET /webhooks/oura", "POST /webhooks/oura"]


def env_of(render: Render, kind: str, name: str) -> dict[str, Any]:
    ((_, spec),) = pod_templates(render.get(kind, name))
    (container,) = spec["containers"]
    return {entry["name"]: entry for entry in container.get("env", [])}


def test_off_by_default(render_scenario: RenderFn) -> None:
    render = render_scenario("dev")
    assert "OURA_WEBHOOK_VERIFICATION_TOKEN" not in env_of(render, "Deployment", "myhealth-api")
    assert "WEBHOOK_WORKER_ENABLED" not in env_of(render, "Deployment", "myhealth-processor")
    assert "webhooks-renew" not in render.text
    routes = render.get("VirtualService", "myhealth-api")["spec"]["http"]
    assert "webhooks" not in {route["name"] for route in routes}


def test_on_every_part_is_wired(render_scenario: RenderFn) -> None:
    render = render_scenario("dev-webhooks")
    api = env_of(render, "Deployment", "myhealth-api")
    token = api["OURA_WEBHOOK_VERIFICATION_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token == {"name": "myhealth-webhooks", "key": "OURA_WEBHOOK_VERIFICATION_TOKEN"}
    assert api["OURA_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "myhealth-oura"
    processor = env_of(render, "Deployment", "myhealth-processor")
    assert processor["WEBHOOK_WORKER_ENABLED"]["value"] == "true"
    assert {"OURA_CLIENT_ID", "OURA_CLIENT_SECRET"} <= processor.keys()
    secret = render.get("ExternalSecret", "myhealth-webhooks")
    assert secret["spec"]["data"][0]["secretKey"] == "OURA_WEBHOOK_VERIFICATION_TOKEN"

    egress = render.get("NetworkPolicy", "myhealth-processor-oura-egress")
    assert egress["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 443}]
    selector = egress["spec"]["podSelector"]["matchLabels"]
    assert selector["app.kubernetes.io/component"] == "processor"

    service = render.get("VirtualService", "myhealth-api")
    routes = {route["name"]: route for route in service["spec"]["http"]}
    assert list(routes)[:2] == ["no-metrics", "webhooks"]  # before the catch-all api route
    webhook = routes["webhooks"]
    assert webhook["match"] == [{"uri": {"exact": "/webhooks/oura"}}]
    assert webhook["retries"] == {"attempts": 0}
    assert webhook["timeout"] == "10s"

    renew = render.get("CronJob", "myhealth-webhooks-renew")
    ((meta, spec),) = pod_templates(renew)
    (container,) = spec["containers"]
    assert container["args"] == ["webhooks", "renew"]
    ((collector_meta, collector_spec),) = pod_templates(render.get("CronJob", "myhealth-collector"))
    assert spec["serviceAccountName"] == collector_spec["serviceAccountName"]
    assert meta["labels"] == collector_meta["labels"]
    config = render.get("ConfigMap", "myhealth")["data"]
    assert config["WEBHOOK_CALLBACK_URL"] == "https://api.myhealth.example.com/webhooks/oura"
    assert config["OURA_REFETCH_DAYS_WITH_WEBHOOKS"] == "2"


def test_api_gateway_routes_the_webhook_path_without_the_authorizer() -> None:
    routes = resources_of(MODULES / "api-gateway", "aws_apigatewayv2_route")
    webhooks = routes["webhooks"]
    assert expression(webhooks["authorization_type"]) == "NONE"
    for_each = expression(webhooks["for_each"])
    assert for_each.startswith("var.webhooks_enabled ?")
    for route in WEBHOOK_ROUTES:
        assert route in for_each
    assert expression(routes["protected"]["authorization_type"]) == "CUSTOM"
    call = module_call(MODULES / "myhealth", "api_gateway")
    assert expression(call["webhooks_enabled"]) == "var.webhooks_enabled"
