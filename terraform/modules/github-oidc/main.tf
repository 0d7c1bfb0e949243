# Short-lived AWS credentials for GitHub Actions through OIDC: no access keys in GitHub. Each role
# trusts exactly one workflow file in one context.
#
# IAM evaluates only the token's `sub` (and `aud`) claim of GitHub's tokens, and the default
# `sub` of a job in an environment ("repo:R:environment:dev") says nothing about the branch or
# the workflow. So the repository's subject template is customised once (docs/infrastructure.md,
# "Bootstrap") to `repo`, `context` and `job_workflow_ref`, e.g.
#   repo:R:environment:dev:job_workflow_ref:R/.github/workflows/terraform-apply.yml@refs/heads/main
# and each role matches the whole string: the apply role is assumable only by terraform-apply.yml
# as it is on main, inside the protected environment.
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  issuer       = "token.actions.githubusercontent.com"
  provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:oidc-provider/${local.issuer}"
  repository   = var.github_repository
  workflows    = "${var.github_repository}/.github/workflows"

  roles = {
    # build-image.yml on main: push the image.
    ecr-push = {
      test = "StringEquals"
      sub  = "repo:${local.repository}:ref:refs/heads/main:job_workflow_ref:${local.workflows}/build-image.yml@refs/heads/main"
    }
    # terraform-plan.yml on any pull request of this repository: read-only plan.
    terraform-plan = {
      test = "StringLike"
      sub  = "repo:${local.repository}:pull_request:job_workflow_ref:${local.workflows}/terraform-plan.yml@refs/pull/*/merge"
    }
    # terraform-apply.yml from main, inside the protected environment.
    terraform-apply = {
      test = "StringEquals"
      sub  = "repo:${local.repository}:environment:${var.github_environment}:job_workflow_ref:${local.workflows}/terraform-apply.yml@refs/heads/main"
    }
  }
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.issuer}"
  client_id_list = ["sts.amazonaws.com"]

  tags = var.tags
}

data "aws_iam_policy_document" "trust" {
  # checkov:skip=CKV_AWS_358: the sub values are exact "repo:<owner/name>:<context>" strings built from a validated variable in a for_each, which checkov cannot resolve; no wildcard is used
  for_each = local.roles

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = each.value.test
      variable = "${local.issuer}:sub"
      values   = [each.value.sub]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = "${var.name_prefix}-gha-${each.key}"
  description          = "GitHub Actions (${var.github_repository}): ${each.key}"
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  max_session_duration = 3600

  tags = var.tags
}

data "aws_iam_policy_document" "ecr_push" {
  statement {
    sid       = "Login"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }

  statement {
    sid = "PushThisRepository"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [var.ecr_repository_arn]
  }
}

resource "aws_iam_role_policy" "ecr_push" {
  name   = "ecr-push"
  role   = aws_iam_role.this["ecr-push"].id
  policy = data.aws_iam_policy_document.ecr_push.json
}

data "aws_iam_policy_document" "state" {
  statement {
    sid       = "ListState"
    actions   = ["s3:ListBucket"]
    resources = [var.state_bucket_arn]
  }

  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = ["${var.state_bucket_arn}/*"]
  }

}

# ReadOnlyAccess is what refreshing every resource type of this configuration needs (EC2, EKS,
# RDS, IAM, KMS, Secrets Manager metadata, ...), but it also reads data: every S3 object in the
# account, log events, table items, parameters. A plan reads resource *configuration* only, plus
# its own state file, so everything that returns data is denied except that state.
data "aws_iam_policy_document" "plan_reads_no_data" {
  statement {
    sid    = "NoObjectsButTheState"
    effect = "Deny"
    actions = [
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:GetObjectAttributes",
      "s3:GetObjectTorrent",
      "s3:GetObjectVersionTorrent",
      "s3:GetObjectVersionAttributes",
    ]
    not_resources = ["${var.state_bucket_arn}/*"]
  }

  statement {
    sid    = "NoDataFromOtherServices"
    effect = "Deny"
    actions = [
      "secretsmanager:GetSecretValue",
      "ssm:GetParameter",
      "ssm:GetParameters",
      "ssm:GetParametersByPath",
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
      "logs:StartQuery",
      "logs:GetQueryResults",
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
      "dynamodb:Scan",
      "rds-data:ExecuteStatement",
      "sqs:ReceiveMessage",
      "kinesis:GetRecords",
      "athena:GetQueryResults",
      "ecr:GetDownloadUrlForLayer",
      "ecr:BatchGetImage",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "plan_reads_no_data" {
  name   = "reads-no-data"
  role   = aws_iam_role.this["terraform-plan"].id
  policy = data.aws_iam_policy_document.plan_reads_no_data.json
}

resource "aws_iam_role_policy" "plan_state" {
  name   = "terraform-state"
  role   = aws_iam_role.this["terraform-plan"].id
  policy = data.aws_iam_policy_document.state.json
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.this["terraform-plan"].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/ReadOnlyAccess"
}

resource "aws_iam_role_policy_attachment" "apply_admin" {
  # checkov:skip=CKV_AWS_274: the apply role creates IAM roles, KMS keys and the VPC, so it needs broad rights; it is assumable only by terraform-apply.yml on main of this repository inside the protected GitHub environment (required reviewers)
  role       = aws_iam_role.this["terraform-apply"].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AdministratorAccess"
}
