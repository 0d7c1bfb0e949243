# The Lambda authorizer: myhealth.security.lambda_authorizer.handler, packaged from the
# directory scripts/build-authorizer.sh fills (handler + myhealth.security.tokens + PyJWT).
# It verifies tokens with the same code as the API, so the two cannot disagree.
locals {
  authorizer_name = "${var.name}-authorizer"
}

data "archive_file" "authorizer" {
  type        = "zip"
  source_dir  = var.authorizer_build_dir
  output_path = "${var.authorizer_build_dir}.zip"
}

data "aws_iam_policy_document" "authorizer_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "authorizer" {
  name               = local.authorizer_name
  description        = "Lambda authorizer of ${var.name}: read the JWT key, write its own log"
  assume_role_policy = data.aws_iam_policy_document.authorizer_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "authorizer" {
  statement {
    sid       = "ReadTheJwtKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.jwt_secret_arn]
  }

  statement {
    sid       = "DecryptTheJwtKey"
    actions   = ["kms:Decrypt"]
    resources = [var.jwt_secret_kms_key_arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "DecryptItsEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [module.kms.key_arn]
  }

  statement {
    sid       = "WriteItsLog"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.authorizer.arn}:*"]
  }

  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}

resource "aws_iam_role_policy" "authorizer" {
  name   = "authorizer"
  role   = aws_iam_role.authorizer.id
  policy = data.aws_iam_policy_document.authorizer.json
}

resource "aws_cloudwatch_log_group" "authorizer" {
  # checkov:skip=CKV_AWS_338: retention is a per-environment cost decision (var.log_retention_days; a year in prod)
  name              = "/aws/lambda/${local.authorizer_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = module.kms.key_arn

  tags = var.tags
}

resource "aws_lambda_function" "authorizer" {
  # checkov:skip=CKV_AWS_117: not in the VPC on purpose: it only calls Secrets Manager (over TLS, IAM-authorised); VPC ENIs would add cold-start time and no protection
  # checkov:skip=CKV_AWS_116: invoked synchronously by API Gateway; a dead-letter queue only applies to asynchronous invocations
  # checkov:skip=CKV_AWS_115: reserved concurrency is opt-in (var.authorizer_reserved_concurrency): a new account's Lambda quota (10) cannot reserve any, and the stage throttle already bounds the rate
  # checkov:skip=CKV_AWS_272: code signing needs a Signer profile and signed uploads; the zip is built and deployed by the same reviewed Terraform run
  function_name = local.authorizer_name
  description   = "Verifies myHealth JWTs for API Gateway (simple responses)"
  role          = aws_iam_role.authorizer.arn

  filename         = data.archive_file.authorizer.output_path
  source_code_hash = data.archive_file.authorizer.output_base64sha256
  handler          = "myhealth.security.lambda_authorizer.handler"
  runtime          = "python3.13"
  architectures    = ["arm64"]
  memory_size      = 128
  timeout          = 5

  # Optional ceiling on a token-spraying flood's cost (null = unreserved, the default: a new
  # account's quota of 10 cannot reserve any); API Gateway's cache absorbs repeats either way.
  reserved_concurrent_executions = var.authorizer_reserved_concurrency

  kms_key_arn = module.kms.key_arn
  environment {
    variables = {
      JWT_SECRET_ARN           = var.jwt_secret_arn
      JWT_SECRET_CACHE_SECONDS = "300"
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.authorizer.name
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.authorizer]
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id                            = aws_apigatewayv2_api.this.id
  name                              = "jwt"
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = aws_lambda_function.authorizer.invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  identity_sources                  = ["$request.header.Authorization"]
  authorizer_result_ttl_in_seconds  = var.authorizer_cache_seconds
}

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/authorizers/${aws_apigatewayv2_authorizer.jwt.id}"
}
