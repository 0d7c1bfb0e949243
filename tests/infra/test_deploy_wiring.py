"""The links between the objects, read from the real files: the port the NLB forwards to is the port
the gateway listens on and the port the nodes open; every SecretStore service account the chart
renders is trusted by the External Secrets role; the values Terraform writes are accepted by the
chart's schema; and the account-level switches (budgets, reserved concurrency, API endpoint,
network policy, database CIDRs, workload logins) are what the deploy needs.

Validation blocks are proven with the real `terraform test` on a copy of the module's
`variables.tf` (no provider needed for that)."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from .helpers import ENVIRONMENTS, MODULES, REPO, tool, tool_env
from .upstream import labelled_blocks, parse_dir, unquote

CHART = REPO / "helm" / "myhealth"
GATEWAY_PORT = 80  # the Istio gateway chart's Service: port 80 -> targetPort 80
GATEWAY_HEALTH_PORT = 15021  # /healthz/ready
ISTIO_WEBHOOK_PORT = 15017  # istiod's injection and validation webhooks
ENVIRONMENT_NAMES = sorted(path.name for path in ENVIRONMENTS.iterdir() if path.is_dir())


def module_call(directory: Path, name: str) -> dict[str, Any]:
    return labelled_blocks(parse_dir(directory), "module")[name]


def locals_of(directory: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in parse_dir(directory).get("locals", []):
        merged |= entry
    return merged


def variables_of(directory: Path) -> dict[str, dict[str, Any]]:
    return labelled_blocks(parse_dir(directory), "variable")


def resources_of(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in parse_dir(directory).get("resource", []):
        for type_name, labelled in entry.items():
            if unquote(type_name) == kind:
                for label, body in labelled.items():
                    found[unquote(label)] = body
    return found


def expression(value: Any) -> str:
    """`${var.x}` -> `var.x`; literals unchanged as text."""
    text = str(unquote(value))
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


################################################################################
# The request path: NLB -> gateway pods
################################################################################


def test_the_gateway_ports_are_defined_once_and_are_the_gateway_charts() -> None:
    gateway = locals_of(MODULES / "myhealth")["ingress_gateway"]

    assert gateway["port"] == GATEWAY_PORT
    assert gateway["health_port"] == GATEWAY_HEALTH_PORT
    for call in ("eks", "api_gateway"):
        arguments = module_call(MODULES / "myhealth", call)
        assert expression(arguments["ingress_gateway_port"]) == "local.ingress_gateway.port"
        assert (
            expression(arguments["ingress_gateway_health_port"])
            == "local.ingress_gateway.health_port"
        )


def test_target_group_health_check_and_nlb_egress_use_the_gateway_ports() -> None:
    nlb = module_call(MODULES / "api-gateway", "nlb")
    target_group = nlb["target_groups"]["istio_ingress"]
    egress = nlb["security_group_egress_rules"]

    assert expression(target_group["port"]) == "var.ingress_gateway_port"
    assert expression(target_group["health_check"]["port"]) == (
        "tostring(var.ingress_gateway_health_port)"
    )
    assert unquote(target_group["target_type"]) == "ip"
    traffic, health = egress["to_ingress_gateway"], egress["to_ingress_gateway_health"]
    for rule, variable in (
        (traffic, "ingress_gateway_port"),
        (health, "ingress_gateway_health_port"),
    ):
        assert expression(rule["from_port"]) == expression(rule["to_port"]) == f"var.{variable}"


def test_node_rules_open_the_gateway_ports_to_the_nlb_and_15017_to_the_control_plane() -> None:
    rules = module_call(MODULES / "eks", "eks")["node_security_group_additional_rules"]

    webhook = rules["istio_webhooks"]
    assert webhook["from_port"] == webhook["to_port"] == ISTIO_WEBHOOK_PORT
    assert webhook["source_cluster_security_group"] is True
    assert unquote(webhook["type"]) == "ingress"
    for name, variable in (
        ("ingress_gateway_traffic", "ingress_gateway_port"),
        ("ingress_gateway_health", "ingress_gateway_health_port"),
    ):
        rule = rules[name]
        assert expression(rule["from_port"]) == expression(rule["to_port"]) == f"var.{variable}"
        assert (
            expression(rule["source_security_group_id"]) == "var.ingress_source_security_group_id"
        )
    eks_call = module_call(MODULES / "myhealth", "eks")
    assert expression(eks_call["ingress_source_security_group_id"]) == (
        "module.api_gateway.nlb_security_group_id"
    )
    nlb_sg = labelled_blocks(parse_dir(MODULES / "api-gateway"), "output")["nlb_security_group_id"]
    assert expression(nlb_sg["value"]) == "module.nlb.security_group_id"


def test_no_other_rule_is_added_to_the_node_security_group() -> None:
    """One owner per security group: the eks module's rules, never a loose rule resource on it."""
    for directory in MODULES.iterdir():
        for kind in ("aws_vpc_security_group_ingress_rule", "aws_security_group_rule"):
            for label, body in resources_of(directory, kind).items():
                assert "node_security_group" not in json.dumps(body), f"{directory.name}: {label}"
                assert "target_security_group" not in json.dumps(body), f"{directory.name}: {label}"


def test_vpc_cni_enforces_network_policies() -> None:
    addons = module_call(MODULES / "eks", "eks")["addons"]
    configuration = expression(addons["vpc-cni"]["configuration_values"])

    assert re.fullmatch(r'jsonencode\(\{\s*enableNetworkPolicy\s*=\s*"true"\s*\}\)', configuration)
    assert addons["vpc-cni"]["before_compute"] is True


################################################################################
# What Terraform writes for the chart
################################################################################

# Leaves of helm_values whose sample cannot be a string (the schema types them).
TYPED_SAMPLES: dict[str, Any] = {
    "database.port": 5432,
    "ingress.gatewayTargetPort": 80,
    "database.cidrs": ["10.0.10.0/24", "10.0.11.0/24", "10.0.12.0/24"],
}


def sample_helm_values() -> dict[str, Any]:
    """The `helm_values` output of modules/myhealth with every reference replaced by a sample of
    its type: literals and `local.` references resolved, everything else a placeholder string."""
    output = labelled_blocks(parse_dir(MODULES / "myhealth"), "output")["helm_values"]["value"]
    locals_ = locals_of(MODULES / "myhealth")

    def resolve(value: Any, path: str) -> Any:
        if path in TYPED_SAMPLES:
            return TYPED_SAMPLES[path]
        if isinstance(value, dict):
            return {
                key: resolve(item, f"{path}.{key}".lstrip("."))
                for key, item in value.items()
                if not key.startswith("__")
            }
        if not isinstance(value, str):
            return value
        if "${" not in value:
            return unquote(value)
        text = expression(value)
        if text.startswith("local."):
            resolved: Any = locals_
            for part in text.removeprefix("local.").split("."):
                resolved = resolved[part]
            return resolved
        if text.startswith("var."):
            return f"sample-{text.removeprefix('var.')}"
        return f"arn:aws:sample:{path}" if path.endswith("Arn") else f"sample-{path}"

    resolved = resolve(output, "")
    assert isinstance(resolved, dict)
    return resolved


def test_helm_values_validate_against_the_charts_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = sample_helm_values()

    jsonschema.Draft7Validator(schema).validate(values)  # the schema's $schema: draft-07
    # The TargetGroupBinding's port comes from the same local as the target group and node rules.
    assert (
        expression(
            labelled_blocks(parse_dir(MODULES / "myhealth"), "output")["helm_values"]["value"][
                "ingress"
            ]["gatewayTargetPort"]
        )
        == "module.api_gateway.ingress_gateway_port"
    )
    assert set(values) == {"aws", "image", "database", "externalSecrets", "ingress", "platform"}


def test_the_apply_workflow_writes_the_values_file_the_chart_documents() -> None:
    workflow = (REPO / ".github" / "workflows" / "terraform-apply.yml").read_text()

    assert 'target="helm/myhealth/infrastructure-${ENVIRONMENT}.json"' in workflow
    assert "terraform output -json helm_values" in workflow


def rendered_secret_store_accounts(environment: str, tmp_path: Path) -> set[str]:
    infrastructure = tmp_path / "infrastructure.json"
    infrastructure.write_text(json.dumps(sample_helm_values()))
    # As Argo CD layers them: the environment's choices, Terraform's file, and CI's digest.
    digest = REPO / "tests" / "deploy" / "data" / "image-digest.yaml"
    values = [CHART / f"values-{environment}.yaml", infrastructure, digest]
    argv = [tool("helm"), "template", "myhealth", str(CHART), "--namespace", "myhealth"]
    argv += ["--kube-version", "1.34.0"]
    for path in values:
        argv += ["-f", str(path)]
    result = subprocess.run(
        argv, env=tool_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    accounts = set()
    for manifest in yaml.safe_load_all(result.stdout):
        if not manifest or manifest.get("kind") not in ("SecretStore", "ClusterSecretStore"):
            continue
        auth = manifest["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]
        namespace = auth.get("namespace", manifest["metadata"].get("namespace", "myhealth"))
        accounts.add(f"{namespace}:{auth['name']}")
    return accounts


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_secret_store_service_account_the_chart_renders_is_trusted(
    environment: str, tmp_path: Path
) -> None:
    trusted = {
        unquote(pair)
        for pair in locals_of(MODULES / "myhealth")["external_secrets_service_accounts"]
    }
    irsa_call = module_call(MODULES / "myhealth", "irsa")

    rendered = rendered_secret_store_accounts(environment, tmp_path)

    assert rendered, "the chart rendered no SecretStore"
    assert rendered <= trusted
    assert expression(irsa_call["external_secrets_service_accounts"]) == (
        "local.external_secrets_service_accounts"
    )
    role = module_call(MODULES / "irsa", "external_secrets")["oidc_providers"]["this"]
    assert expression(role["namespace_service_accounts"]) == "var.external_secrets_service_accounts"


@pytest.mark.parametrize(
    ("role", "service_account"),
    [
        ("load_balancer_controller", "kube-system:aws-load-balancer-controller"),
        ("cluster_autoscaler", "kube-system:cluster-autoscaler"),
        ("ebs_csi", "kube-system:ebs-csi-controller-sa"),
    ],
)
def test_controller_roles_trust_the_service_accounts_the_add_ons_use(
    role: str, service_account: str
) -> None:
    trusted = module_call(MODULES / "irsa", role)["oidc_providers"]["this"]

    assert [unquote(pair) for pair in trusted["namespace_service_accounts"]] == [service_account]


def test_the_load_balancer_controller_may_only_bind_our_target_group() -> None:
    role = module_call(MODULES / "irsa", "load_balancer_controller")
    call = module_call(MODULES / "myhealth", "irsa")

    assert role["attach_load_balancer_controller_targetgroup_binding_only_policy"] is True
    assert [expression(arn) for arn in call["load_balancer_target_group_arns"]] == [
        "module.api_gateway.target_group_arn"
    ]


def test_no_workload_login_is_the_rds_master_secret() -> None:
    database = labelled_blocks(parse_dir(MODULES / "myhealth"), "output")["helm_values"]["value"][
        "database"
    ]

    names = labelled_blocks(parse_dir(MODULES / "myhealth"), "output")["helm_values"]["value"][
        "externalSecrets"
    ]["secretNames"]
    assert expression(database["masterSecretArn"]) == "module.rds.master_user_secret_arn"
    assert expression(names["databaseWriter"]) == 'module.secrets.secret_names["database-writer"]'
    assert expression(names["databaseReader"]) == 'module.secrets.secret_names["database-reader"]'
    usernames = variables_of(MODULES / "secrets-manager")["database_usernames"]["default"]
    rds_master = variables_of(MODULES / "rds")["master_username"]["default"]
    assert rds_master not in usernames.values()
    secret_text = (MODULES / "secrets-manager" / "main.tf").read_text()
    assert "secret_string_wo" in secret_text, "the generated passwords must stay out of state"
    assert re.search(r"(?m)^\s*secret_string\s*=", secret_text) is None


def test_external_secrets_may_read_both_workload_logins() -> None:
    call = module_call(MODULES / "myhealth", "secrets")
    readers = expression(call["reader_principal_arns"])

    for key in ("database-writer", "database-reader"):
        assert f'"{key}"' in readers
    irsa = module_call(MODULES / "myhealth", "irsa")
    assert "values(module.secrets.secret_arns)" in expression(irsa["external_secret_arns"])


################################################################################
# Network layout
################################################################################


def cidrsubnet(prefix: str, newbits: int, number: int) -> ipaddress.IPv4Network:
    network = ipaddress.IPv4Network(prefix)
    return list(network.subnets(prefixlen_diff=newbits))[number]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_each_environments_database_subnets_lie_in_its_vpc(environment: str) -> None:
    call = module_call(ENVIRONMENTS / environment, "myhealth")
    vpc_cidr = unquote(
        call.get("vpc_cidr", variables_of(MODULES / "myhealth")["vpc_cidr"]["default"])
    )
    azs = variables_of(MODULES / "myhealth")["azs"]["default"]
    expressions = expression(locals_of(MODULES / "networking")["database_subnets"])
    match = re.fullmatch(
        r"\[for index, _ in var\.azs : cidrsubnet\(var\.cidr, (\d+), (\d+) \+ index\)\]",
        expressions,
    )
    assert match, f"database subnets are not derived from the VPC CIDR: {expressions}"
    newbits, offset = int(match.group(1)), int(match.group(2))

    subnets = [cidrsubnet(vpc_cidr, newbits, offset + index) for index in range(len(azs))]

    vpc = ipaddress.IPv4Network(vpc_cidr)
    assert all(subnet.subnet_of(vpc) for subnet in subnets)
    networking = module_call(MODULES / "myhealth", "networking")
    assert expression(networking["cidr"]) == "var.vpc_cidr"
    output = labelled_blocks(parse_dir(MODULES / "myhealth"), "output")["helm_values"]["value"]
    assert expression(output["database"]["cidrs"]) == "module.networking.database_subnet_cidrs"
    # A chart values file that names the database's CIDRs itself must agree with the VPC.
    chart_values = yaml.safe_load((CHART / f"values-{environment}.yaml").read_text()) or {}
    for cidr in (chart_values.get("database") or {}).get("cidrs", []):
        assert ipaddress.IPv4Network(cidr).subnet_of(vpc), f"values-{environment}.yaml: {cidr}"


def test_the_environments_vpcs_do_not_overlap() -> None:
    default = unquote(variables_of(MODULES / "myhealth")["vpc_cidr"]["default"])
    networks = [
        ipaddress.IPv4Network(
            unquote(module_call(ENVIRONMENTS / name, "myhealth").get("vpc_cidr", default))
        )
        for name in ENVIRONMENT_NAMES
    ]
    for index, network in enumerate(networks):
        for other in networks[index + 1 :]:
            assert not network.overlaps(other), (network, other)


################################################################################
# Access: the Kubernetes API, CI roles, resource names
################################################################################


def test_cluster_access_is_explicit_and_includes_both_ci_roles() -> None:
    eks = module_call(MODULES / "eks", "eks")
    call = module_call(MODULES / "myhealth", "eks")

    assert eks["enable_cluster_creator_admin_permissions"] is False
    assert "github_oidc.terraform_apply_role_arn" in expression(call["admin_principal_arns"])
    assert "github_oidc.terraform_plan_role_arn" in expression(call["viewer_principal_arns"])
    entries = expression(eks["access_entries"])
    assert "AmazonEKSClusterAdminPolicy" in entries
    assert "AmazonEKSViewPolicy" in entries


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_the_public_api_endpoint_is_limited(environment: str) -> None:
    call = module_call(ENVIRONMENTS / environment, "myhealth")
    cidrs = call.get("cluster_endpoint_public_access_cidrs", [])
    eks = module_call(MODULES / "eks", "eks")

    assert eks["endpoint_private_access"] is True
    if environment != "dev":
        assert "0.0.0.0/0" not in cidrs


def test_the_apply_role_is_trusted_only_for_its_workflow_on_main() -> None:
    roles = locals_of(MODULES / "github-oidc")["roles"]

    apply = roles["terraform-apply"]
    assert unquote(apply["test"]) == "StringEquals"
    assert unquote(apply["sub"]).endswith(
        ":job_workflow_ref:${local.workflows}/terraform-apply.yml@refs/heads/main"
    )
    assert ":environment:${var.github_environment}:" in unquote(apply["sub"])
    assert unquote(roles["ecr-push"]["sub"]).endswith("/build-image.yml@refs/heads/main")
    assert "*" not in unquote(apply["sub"]) + unquote(roles["ecr-push"]["sub"])


def test_the_plan_role_reads_no_data_but_its_state() -> None:
    text = (MODULES / "github-oidc" / "main.tf").read_text()
    deny = re.search(r'sid\s*=\s*"NoObjectsButTheState".*?\n  \}', text, re.S)

    assert deny, "the plan role must be denied object reads outside the state bucket"
    assert 'effect = "Deny"' in deny.group(0)
    assert 'not_resources = ["${var.state_bucket_arn}/*"]' in deny.group(0)
    assert '"secretsmanager:GetSecretValue"' in text
    assert "s3:PutObject" not in text, "plan runs with -lock=false: no writes to the state bucket"


ACCOUNT_UNIQUE = {
    "aws_iam_role": "name",
    "aws_lambda_function": "function_name",
    "aws_cloudwatch_log_group": "name",
    "aws_cloudtrail": "name",
    "aws_budgets_budget": "name",
    "aws_config_configuration_recorder": "name",
    "aws_apigatewayv2_api": "name",
    "aws_apigatewayv2_vpc_link": "name",
    "aws_secretsmanager_secret": "name",
    "aws_security_group": "name_prefix",
}
NAME_ARGUMENTS = {"name", "name_prefix", "identifier", "bucket_prefix", "repository_name"}


def test_account_unique_names_depend_on_the_environment() -> None:
    """Two environments in one account must not collide: every name that is unique per account
    is built from an input (which modules/myhealth derives from the environment)."""
    fixed = []
    for directory in sorted(MODULES.iterdir()):
        for kind, argument in ACCOUNT_UNIQUE.items():
            for label, body in resources_of(directory, kind).items():
                if "${" not in str(body.get(argument, "${}")):
                    fixed.append(f"{directory.name}: {kind}.{label}.{argument}")
        for name, body in labelled_blocks(parse_dir(directory), "module").items():
            for argument in NAME_ARGUMENTS & body.keys():
                if "${" not in str(body[argument]):
                    fixed.append(f"{directory.name}: module.{name}.{argument}")

    assert fixed == []
    locals_ = locals_of(MODULES / "myhealth")
    assert "${var.environment}" in locals_["name"]
    assert "${var.environment}" in locals_["secret_path"]
    myhealth = parse_dir(MODULES / "myhealth")
    for name, body in labelled_blocks(myhealth, "module").items():
        for argument in {"name", "name_prefix", "identifier"} & body.keys():
            value = str(body[argument])
            assert "local.name" in value or "local.secret_path" in value, (
                f"module.{name}.{argument}"
            )


def test_the_cloudfront_oac_is_named_per_environment_and_absent_when_off() -> None:
    oac = expression(module_call(MODULES / "cloudfront", "cdn")["origin_access_control"])

    assert oac.startswith("var.create ? {")
    assert oac.endswith(": {}")
    assert 'name = "${var.name}-static"' in oac


################################################################################
# Validation blocks, proven with `terraform test`
################################################################################


def terraform_test(tmp_path: Path, module: str, test_file: str) -> subprocess.CompletedProcess[str]:
    """`terraform test` on a copy of `module`'s variables.tf (provider-free) with `test_file`."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "variables.tf").write_text((MODULES / module / "variables.tf").read_text())
    (tmp_path / "tests" / "validation.tftest.hcl").write_text(test_file)
    config = tmp_path / "terraformrc"
    config.write_text("")
    env = {**tool_env(), "TF_CLI_CONFIG_FILE": str(config)}
    terraform = tool("terraform")
    for argv in (["init", "-backend=false", "-input=false"], ["test", "-no-color"]):
        result = subprocess.run(
            [terraform, *argv],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            return result
    return result


BUDGET_TESTS = """
variables {
  name = "myhealth-dev"
}

run "a_budget_without_a_subscriber_is_refused" {
  command = plan
  variables {
    monthly_budget_usd  = 250
    budget_alert_emails = []
  }
  expect_failures = [var.budget_alert_emails]
}

run "a_budget_with_a_subscriber_is_accepted" {
  command = plan
  variables {
    monthly_budget_usd  = 250
    budget_alert_emails = ["owner@example.com"]
  }
}

run "no_budget_needs_no_subscriber" {
  command = plan
  variables {
    monthly_budget_usd = 0
  }
}

run "a_subscriber_must_be_an_address" {
  command = plan
  variables {
    monthly_budget_usd  = 250
    budget_alert_emails = ["owner"]
  }
  expect_failures = [var.budget_alert_emails]
}
"""

ENDPOINT_TESTS = """
variables {
  github_repository = "eric-n/myhealth"
  state_bucket      = "state"
  tags              = {}
}

run "prod_refuses_an_api_open_to_the_internet" {
  command = plan
  variables {
    environment                          = "prod"
    cluster_endpoint_public_access_cidrs = ["0.0.0.0/0"]
  }
  expect_failures = [var.cluster_endpoint_public_access_cidrs]
}

run "prod_accepts_listed_cidrs" {
  command = plan
  variables {
    environment                          = "prod"
    cluster_endpoint_public_access_cidrs = ["203.0.113.10/32"]
  }
}

run "the_default_is_private_and_unreserved" {
  command = plan
  variables {
    environment = "prod"
  }
  assert {
    condition     = length(var.cluster_endpoint_public_access_cidrs) == 0
    error_message = "the API endpoint must be private by default"
  }
  assert {
    condition     = var.authorizer_reserved_concurrency == null
    error_message = "reserved concurrency must be off by default"
  }
}
"""

RESERVED_CONCURRENCY_TESTS = """
variables {
  name                   = "myhealth-dev"
  vpc_id                 = "vpc-1"
  vpc_cidr_block         = "10.0.0.0/16"
  private_subnet_ids     = ["subnet-1"]
  jwt_secret_arn         = "arn:aws:secretsmanager:us-east-1:111111111111:secret:jwt"
  jwt_secret_kms_key_arn = "arn:aws:kms:us-east-1:111111111111:key/1"
  authorizer_build_dir   = "build"
}

run "unreserved_by_default" {
  command = plan
  assert {
    condition     = var.authorizer_reserved_concurrency == null
    error_message = "reserved concurrency must be off by default"
  }
}

run "a_reservation_can_be_set" {
  command = plan
  variables {
    authorizer_reserved_concurrency = 20
  }
}

run "zero_is_refused" {
  command = plan
  variables {
    authorizer_reserved_concurrency = 0
  }
  expect_failures = [var.authorizer_reserved_concurrency]
}
"""


@pytest.mark.parametrize(
    ("module", "test_file"),
    [
        ("security-baseline", BUDGET_TESTS),
        ("myhealth", ENDPOINT_TESTS),
        ("api-gateway", RESERVED_CONCURRENCY_TESTS),
    ],
    ids=["budget-subscribers", "api-endpoint", "reserved-concurrency"],
)
def test_validation_blocks_with_terraform_test(tmp_path: Path, module: str, test_file: str) -> None:
    result = terraform_test(tmp_path, module, test_file)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"Success! \d+ passed, 0 failed", result.stdout), result.stdout[-2000:]


def test_the_roots_set_a_subscriber_and_leave_concurrency_unreserved() -> None:
    for environment in ENVIRONMENT_NAMES:
        call = module_call(ENVIRONMENTS / environment, "myhealth")
        if call.get("monthly_budget_usd", 0) > 0:
            assert call.get("budget_alert_emails"), environment
        assert "authorizer_reserved_concurrency" not in call, environment
    authorizer = resources_of(MODULES / "api-gateway", "aws_lambda_function")["authorizer"]
    assert expression(authorizer["reserved_concurrent_executions"]) == (
        "var.authorizer_reserved_concurrency"
    )
