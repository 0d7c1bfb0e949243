terraform {
  # 1.11.1: the floor of terraform-aws-modules/rds v7.2; also S3-native state locking (1.10) and
  # write-only arguments (1.11, the generated database logins).
  required_version = ">= 1.11.1, < 2.0"

  required_providers {
    # 6.42: the floor of terraform-aws-modules/s3-bucket v5.15, the highest of the modules we call.
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.42"
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
