terraform {
  # S3 native state locking (use_lockfile) needs 1.10; write-only attributes 1.11.
  required_version = ">= 1.11, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.28"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.1"
    }
    # tflint-ignore: terraform_unused_required_providers # used by the api-gateway module (archive_file); pinned here with the others
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.7"
    }
  }

  # Partial configuration: the bucket (account-specific) comes from backend.hcl,
  # `terraform init -backend-config=backend.hcl`. Locking is S3-native (a .tflock object), no
  # DynamoDB table.
  backend "s3" {
    key          = "myhealth/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
