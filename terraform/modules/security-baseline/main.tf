# Account-level guard rails, each behind its own switch: CloudTrail, GuardDuty, AWS Config and a
# cost budget with e-mail alerts.
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  create_bucket = var.enable_cloudtrail || var.enable_config
  account_id    = data.aws_caller_identity.current.account_id
  partition     = data.aws_partition.current.partition
  trail_arn     = "arn:${local.partition}:cloudtrail:${data.aws_region.current.region}:${local.account_id}:trail/${var.name}"
}

module "audit_bucket" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source        = "terraform-aws-modules/s3-bucket/aws"
  version       = "~> 5.0"
  create_bucket = local.create_bucket

  bucket_prefix = "${var.name}-audit-"

  block_public_acls        = true
  block_public_policy      = true
  ignore_public_acls       = true
  restrict_public_buckets  = true
  control_object_ownership = true
  object_ownership         = "BucketOwnerEnforced"

  versioning = { enabled = true }
  server_side_encryption_configuration = {
    rule = {
      apply_server_side_encryption_by_default = { sse_algorithm = "AES256" }
    }
  }
  lifecycle_rule = [{
    id                            = "expire"
    enabled                       = true
    expiration                    = { days = var.log_retention_days }
    noncurrent_version_expiration = { days = 30 }
  }]

  attach_deny_insecure_transport_policy = true
  attach_policy                         = local.create_bucket
  policy                                = local.create_bucket ? data.aws_iam_policy_document.audit_bucket[0].json : null

  tags = var.tags
}

data "aws_iam_policy_document" "audit_bucket" {
  count = local.create_bucket ? 1 : 0

  statement {
    sid       = "CloudTrailAndConfigAclCheck"
    actions   = ["s3:GetBucketAcl", "s3:ListBucket"]
    resources = [module.audit_bucket.s3_bucket_arn]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com", "config.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudTrailAndConfigWrite"
    actions   = ["s3:PutObject"]
    resources = ["${module.audit_bucket.s3_bucket_arn}/AWSLogs/${local.account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com", "config.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

################################################################################
# CloudTrail
################################################################################

module "trail_kms" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/kms/aws"
  version = "~> 4.0"
  create  = var.enable_cloudtrail

  description             = "${var.name}: CloudTrail log files"
  deletion_window_in_days = 30
  enable_key_rotation     = true
  aliases                 = ["${var.name}-cloudtrail"]

  # list(object) since kms v4.0.0 (a map was accepted by v3's `any`).
  key_statements = [
    {
      sid       = "CloudTrailEncryptLogs"
      actions   = ["kms:GenerateDataKey*", "kms:DescribeKey"]
      resources = ["*"]
      principals = [{
        type        = "Service"
        identifiers = ["cloudtrail.amazonaws.com"]
      }]
      condition = [{
        test     = "StringEquals"
        variable = "aws:SourceArn"
        values   = [local.trail_arn]
      }]
    },
  ]

  tags = var.tags
}

resource "aws_cloudtrail" "this" {
  # checkov:skip=CKV2_AWS_10: no CloudWatch Logs delivery: GuardDuty reads the trail, and the S3 copy is the record; a log group would double the cost
  # checkov:skip=CKV_AWS_252: no SNS topic per delivered log file; nobody consumes one
  count = var.enable_cloudtrail ? 1 : 0

  name                          = var.name
  s3_bucket_name                = module.audit_bucket.s3_bucket_id
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  kms_key_id                    = module.trail_kms.key_arn

  tags = var.tags

  depends_on = [module.audit_bucket]
}

################################################################################
# GuardDuty
################################################################################

resource "aws_guardduty_detector" "this" {
  # checkov:skip=CKV2_AWS_3: a single-account product, not an AWS Organization; there is no organization configuration to enable
  count = var.enable_guardduty ? 1 : 0

  enable                       = true
  finding_publishing_frequency = "SIX_HOURS"

  tags = var.tags
}

resource "aws_guardduty_detector_feature" "eks_audit_logs" {
  count = var.enable_guardduty ? 1 : 0

  detector_id = aws_guardduty_detector.this[0].id
  name        = "EKS_AUDIT_LOGS"
  status      = "ENABLED"
}

################################################################################
# AWS Config
################################################################################

data "aws_iam_policy_document" "config_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["config.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "config" {
  count = var.enable_config ? 1 : 0

  name               = "${var.name}-config"
  description        = "AWS Config recorder"
  assume_role_policy = data.aws_iam_policy_document.config_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "config" {
  count = var.enable_config ? 1 : 0

  role       = aws_iam_role.config[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWS_ConfigRole"
}

resource "aws_config_configuration_recorder" "this" {
  count = var.enable_config ? 1 : 0

  name     = var.name
  role_arn = aws_iam_role.config[0].arn

  recording_group {
    all_supported                 = true
    include_global_resource_types = true
  }
}

resource "aws_config_delivery_channel" "this" {
  count = var.enable_config ? 1 : 0

  name           = var.name
  s3_bucket_name = module.audit_bucket.s3_bucket_id

  depends_on = [aws_config_configuration_recorder.this]
}

resource "aws_config_configuration_recorder_status" "this" {
  count = var.enable_config ? 1 : 0

  name       = aws_config_configuration_recorder.this[0].name
  is_enabled = true

  depends_on = [aws_config_delivery_channel.this]
}

################################################################################
# Budget
################################################################################

resource "aws_budgets_budget" "monthly" {
  count = var.monthly_budget_usd > 0 ? 1 : 0

  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 80
    threshold_type             = "PERCENTAGE"
    notification_type          = "FORECASTED"
    subscriber_email_addresses = var.budget_alert_emails
  }

  notification {
    comparison_operator        = "GREATER_THAN"
    threshold                  = 100
    threshold_type             = "PERCENTAGE"
    notification_type          = "ACTUAL"
    subscriber_email_addresses = var.budget_alert_emails
  }

  tags = var.tags
}
