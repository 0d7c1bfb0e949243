# The image repository: immutable tags (images are tagged by git SHA), scanned on push, only
# the last N images kept.
module "ecr" {
  # checkov:skip=CKV_TF_1: Terraform registry module pinned with a ~> version constraint (house style); registry versions are immutable, a commit hash would need a git source
  source  = "terraform-aws-modules/ecr/aws"
  version = "~> 3.0"

  repository_name                 = var.name
  repository_image_tag_mutability = "IMMUTABLE"
  repository_image_scan_on_push   = true
  repository_encryption_type      = "KMS"
  repository_kms_key              = var.kms_key_arn
  repository_force_delete         = var.force_delete

  repository_read_write_access_arns = var.push_principal_arns
  repository_read_access_arns       = var.pull_principal_arns

  create_lifecycle_policy = true
  repository_lifecycle_policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the last ${var.keep_last_images} images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.keep_last_images
        }
        action = { type = "expire" }
      },
    ]
  })

  tags = var.tags
}
