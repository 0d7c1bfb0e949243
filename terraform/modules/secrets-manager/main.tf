# The application's secrets, encrypted with a dedicated KMS key and locked down by resource
# policies. Terraform creates the containers only: values are put in once by
# scripts/seed-secrets.sh (generated ones) and by the owner (Oura), so no secret value is ever in
# Terraform state and the plan role never needs GetSecretValue.
locals {
  secrets = {
    oura-oauth = {
      description      = "Oura OAuth2 application: JSON {\"client_id\", \"client_secret\"} (OURA_CLIENT_ID, OURA_CLIENT_SECRET). Set by the owner."
      seeded_by_script = false
    }
    oura-tokens = {
      description      = "Bootstrap Oura token: JSON {\"refresh_token\"} (OURA_REFRESH_TOKEN; the collector keeps the rotating pair in PostgreSQL). Set by `myhealth auth login` output."
      seeded_by_script = false
    }
    api-key = {
      description      = "The owner's API key (API_KEY), exchanged for a JWT at /auth/login. Plain string."
      seeded_by_script = true
    }
    jwt-secret = {
      description      = "HS256 signing key of the API's tokens (JWT_SECRET), shared with the API Gateway authorizer. Plain string."
      seeded_by_script = true
    }
    ingest-token = {
      description      = "Bearer token between collector and processor (INGEST_TOKEN). Plain string."
      seeded_by_script = true
    }
    grafana-admin = {
      description      = "Grafana admin login: JSON {\"admin-user\", \"admin-password\"}."
      seeded_by_script = true
    }
  }
}

data "aws_caller_identity" "current" {}

module "kms" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/kms/aws"
  version = "~> 4.0"

  description             = "${var.name_prefix}: application secrets"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  aliases                 = ["${replace(var.name_prefix, "/", "-")}-secrets"]

  tags = var.tags
}

resource "aws_secretsmanager_secret" "this" {
  # checkov:skip=CKV2_AWS_57: no automatic rotation: the Oura values come from Oura's OAuth flow, and rotating jwt-secret/api-key would log the owner out; rotate with scripts/seed-secrets.sh --rotate
  for_each = local.secrets

  name                    = "${var.name_prefix}/${each.key}"
  description             = each.value.description
  kms_key_id              = module.kms.key_arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = var.tags
}

# Only the named readers and the admins may read a secret's value, whatever their IAM policies
# say; nobody may attach a policy that opens it to another account.
data "aws_iam_policy_document" "secret" {
  for_each = local.secrets

  statement {
    sid       = "DenyReadersOutsideTheList"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "aws:PrincipalArn"
      values   = concat(var.admin_principal_arns, lookup(var.reader_principal_arns, each.key, []))
    }
  }

  statement {
    sid       = "DenyOtherAccounts"
    effect    = "Deny"
    actions   = ["secretsmanager:*"]
    resources = ["*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "aws:PrincipalAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_secretsmanager_secret_policy" "this" {
  for_each = local.secrets

  secret_arn          = aws_secretsmanager_secret.this[each.key].arn
  policy              = data.aws_iam_policy_document.secret[each.key].json
  block_public_policy = true
}
