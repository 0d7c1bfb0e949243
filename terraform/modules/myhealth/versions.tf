terraform {
  # 1.11.1: rds v7.2 requires it; write-only arguments (the database logins) need 1.11.
  required_version = ">= 1.11.1"

  required_providers {
    # 6.42: s3-bucket v5.15 requires it (the highest floor of the registry modules we call).
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.42"
    }
  }
}
