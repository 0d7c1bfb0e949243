terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.28"
    }
    # tflint-ignore: terraform_unused_required_providers # the istio module's releases use it; the root configures it
    helm = {
      source  = "hashicorp/helm"
      version = ">= 3.1"
    }
  }
}
