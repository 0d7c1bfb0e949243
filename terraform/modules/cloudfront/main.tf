# Optional static assets: a private S3 bucket that only this CloudFront distribution may read,
# through origin access control (SigV4), never public.
module "bucket" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source        = "terraform-aws-modules/s3-bucket/aws"
  version       = "~> 5.0"
  create_bucket = var.create

  bucket_prefix = "${var.name}-static-"

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true

  control_object_ownership = true
  object_ownership         = "BucketOwnerEnforced"

  versioning = { enabled = true }
  server_side_encryption_configuration = {
    rule = {
      apply_server_side_encryption_by_default = { sse_algorithm = "AES256" }
    }
  }

  attach_deny_insecure_transport_policy = true
  attach_policy                         = var.create
  policy                                = var.create ? data.aws_iam_policy_document.bucket[0].json : null

  tags = var.tags
}

module "cdn" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/cloudfront/aws"
  version = "~> 6.0"
  create  = var.create

  comment             = "${var.name} static assets"
  enabled             = true
  is_ipv6_enabled     = true
  price_class         = var.price_class
  aliases             = var.aliases
  default_root_object = "index.html"

  # The module creates its origin access controls even with create = false, and an OAC's name
  # is unique per account: name it per environment, and create none when the distribution is off.
  origin_access_control = var.create ? {
    s3 = {
      name             = "${var.name}-static"
      description      = "${var.name} static bucket"
      origin_type      = "s3"
      signing_behavior = "always"
      signing_protocol = "sigv4"
    }
  } : {}

  origin = {
    s3 = {
      domain_name               = module.bucket.s3_bucket_bucket_regional_domain_name
      origin_access_control_key = "s3"
    }
  }

  default_cache_behavior = {
    target_origin_id       = "s3"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    cache_policy_name      = "Managed-CachingOptimized"
  }

  viewer_certificate = var.acm_certificate_arn == null ? {
    cloudfront_default_certificate = true
    } : {
    acm_certificate_arn      = var.acm_certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  tags = var.tags
}

data "aws_iam_policy_document" "bucket" {
  count = var.create ? 1 : 0

  statement {
    sid       = "CloudFrontOriginAccessControlRead"
    actions   = ["s3:GetObject"]
    resources = ["${module.bucket.s3_bucket_arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [module.cdn.cloudfront_distribution_arn]
    }
  }
}
