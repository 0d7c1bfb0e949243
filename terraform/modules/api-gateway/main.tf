# Public entry point: HTTP API -> VPC link -> internal NLB -> Istio ingress gateway pods (port 80,
# health on 15021: the gateway chart's Service maps 80 to container port 80).
# The NLB's target group is filled from inside the cluster by a TargetGroupBinding (AWS Load
# Balancer Controller, TargetGroupBinding-only role in the irsa module), so Terraform never
# needs to talk to Kubernetes.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
}

# One key for the access log, the authorizer's log and the authorizer's environment.
module "kms" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/kms/aws"
  version = "~> 4.0"

  description             = "${var.name}: API Gateway and authorizer logs"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  aliases                 = ["${var.name}-api-logs"]

  # list(object) since kms v4.0.0 (a map was accepted by v3's `any`).
  key_statements = [
    {
      sid       = "CloudWatchLogsUseOfTheKey"
      actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
      resources = ["*"]
      principals = [{
        type        = "Service"
        identifiers = ["logs.${local.region}.amazonaws.com"]
      }]
      condition = [{
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
      }]
    },
  ]

  tags = var.tags
}

################################################################################
# Internal NLB in front of the Istio ingress gateway
################################################################################

resource "aws_security_group" "vpc_link" {
  # checkov:skip=CKV2_AWS_5: attached to the VPC link (aws_apigatewayv2_vpc_link.this), which checkov does not recognise as an attachment
  name_prefix = "${var.name}-vpc-link-"
  description = "API Gateway VPC link: HTTP to the internal NLB only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-vpc-link" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "vpc_link_to_nlb" {
  security_group_id            = aws_security_group.vpc_link.id
  description                  = "HTTP to the internal NLB"
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
  referenced_security_group_id = module.nlb.security_group_id
}

module "nlb" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/alb/aws"
  version = "~> 10.0"

  name               = "${var.name}-ingress"
  load_balancer_type = "network"
  internal           = true
  vpc_id             = var.vpc_id
  subnets            = var.private_subnet_ids

  enable_deletion_protection       = var.nlb_deletion_protection
  enable_cross_zone_load_balancing = true

  security_group_ingress_rules = {
    http_from_vpc_link = {
      description                  = "HTTP from the API Gateway VPC link"
      ip_protocol                  = "tcp"
      from_port                    = 80
      to_port                      = 80
      referenced_security_group_id = aws_security_group.vpc_link.id
    }
  }
  security_group_egress_rules = {
    to_ingress_gateway = {
      description = "Istio ingress gateway pods: traffic"
      ip_protocol = "tcp"
      from_port   = var.ingress_gateway_port
      to_port     = var.ingress_gateway_port
      cidr_ipv4   = var.vpc_cidr_block
    }
    to_ingress_gateway_health = {
      description = "Istio ingress gateway pods: health checks"
      ip_protocol = "tcp"
      from_port   = var.ingress_gateway_health_port
      to_port     = var.ingress_gateway_health_port
      cidr_ipv4   = var.vpc_cidr_block
    }
  }

  listeners = {
    http = {
      port     = 80
      protocol = "TCP"
      forward = {
        target_group_key = "istio_ingress"
      }
    }
  }

  target_groups = {
    istio_ingress = {
      name_prefix       = "istio-"
      protocol          = "TCP"
      port              = var.ingress_gateway_port
      target_type       = "ip"
      create_attachment = false # targets come from a TargetGroupBinding in the cluster

      deregistration_delay = 30
      health_check = {
        enabled             = true
        protocol            = "HTTP"
        port                = tostring(var.ingress_gateway_health_port)
        path                = "/healthz/ready"
        healthy_threshold   = 2
        unhealthy_threshold = 2
        interval            = 10
      }
    }
  }

  tags = var.tags
}

# The NLB -> gateway pod rules live on the node security group, which the eks module owns
# (node_security_group_additional_rules, from module.nlb.security_group_id): one owner per group.

################################################################################
# HTTP API
################################################################################

resource "aws_apigatewayv2_vpc_link" "this" {
  name               = var.name
  security_group_ids = [aws_security_group.vpc_link.id]
  subnet_ids         = var.private_subnet_ids

  tags = var.tags
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  protocol_type = "HTTP"
  description   = "myHealth public API"

  # With a custom domain, the execute-api URL would be a second door without the domain's TLS policy.
  disable_execute_api_endpoint = var.domain_name != ""

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "istio" {
  api_id               = aws_apigatewayv2_api.this.id
  description          = "Istio ingress gateway through the internal NLB"
  integration_type     = "HTTP_PROXY"
  integration_method   = "ANY"
  integration_uri      = module.nlb.listeners["http"].arn
  connection_type      = "VPC_LINK"
  connection_id        = aws_apigatewayv2_vpc_link.this.id
  timeout_milliseconds = 29000
}

# Token-protected routes: the authorizer checks the JWT before the request enters the VPC.
resource "aws_apigatewayv2_route" "protected" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = "ANY /api/{proxy+}"
  target             = "integrations/${aws_apigatewayv2_integration.istio.id}"
  authorization_type = "CUSTOM"
  authorizer_id      = aws_apigatewayv2_authorizer.jwt.id
}

# Routes that must work without a token: the login that issues one, and the liveness probe.
resource "aws_apigatewayv2_route" "public" {
  # checkov:skip=CKV_AWS_309: POST /auth/login is how a client obtains a token (the API checks the API key and rate-limits it) and GET /health is a liveness probe; they cannot require the token
  for_each = toset(["POST /auth/login", "GET /health"])

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.istio.id}"
  authorization_type = "NONE"
}

# Oura's webhook calls (docs/webhooks.md): no authorizer, because Oura sends no token; the HMAC
# signature over the body is the authentication, checked by the API, which also rate-limits
# and size-limits this path.
resource "aws_apigatewayv2_route" "webhooks" {
  # checkov:skip=CKV_AWS_309: Oura cannot send our token; every request is authenticated by its HMAC signature in the API (docs/webhooks.md#receiver)
  for_each = var.webhooks_enabled ? toset(["GET /webhooks/oura", "POST /webhooks/oura"]) : toset([])

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.istio.id}"
  authorization_type = "NONE"
}

resource "aws_cloudwatch_log_group" "access" {
  # checkov:skip=CKV_AWS_338: retention is a per-environment cost decision (var.log_retention_days; a year in prod)
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = module.kms.key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  # HTTP APIs throttle per stage/route, not per client: this is the ceiling for everyone
  # together; the per-client 100 req/min lives in the API service (RATE_LIMIT_PER_MINUTE).
  default_route_settings {
    throttling_rate_limit    = var.throttling_rate_limit
    throttling_burst_limit   = var.throttling_burst_limit
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      sourceIp           = "$context.identity.sourceIp"
      httpMethod         = "$context.httpMethod"
      routeKey           = "$context.routeKey"
      path               = "$context.path"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      integrationLatency = "$context.integrationLatency"
      integrationStatus  = "$context.integrationStatus"
      authorizerError    = "$context.authorizer.error"
      errorMessage       = "$context.error.message"
    })
  }

  tags = var.tags
}

################################################################################
# Custom domain (optional)
################################################################################

resource "aws_apigatewayv2_domain_name" "this" {
  count = var.domain_name != "" ? 1 : 0

  domain_name = var.domain_name

  domain_name_configuration {
    certificate_arn = var.certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  tags = var.tags
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = var.domain_name != "" ? 1 : 0

  api_id      = aws_apigatewayv2_api.this.id
  domain_name = aws_apigatewayv2_domain_name.this[0].id
  stage       = aws_apigatewayv2_stage.default.id
}

resource "aws_route53_record" "this" {
  count = var.domain_name != "" && var.hosted_zone_id != null ? 1 : 0

  zone_id = var.hosted_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = false
  }
}
