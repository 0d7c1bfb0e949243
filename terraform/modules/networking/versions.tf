terraform {
  required_version = ">= 1.11.1"

  required_providers {
    # tflint-ignore: terraform_unused_required_providers # no aws resource of its own, but it sets the floor for the wrapped terraform-aws-modules module
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.42"
    }
  }
}
