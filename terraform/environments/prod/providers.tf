provider "aws" {
  region = local.region

  default_tags {
    tags = local.tags
  }
}

# Terraform reaches the cluster only through Helm (Istio); the token comes from the AWS CLI,
# so no kubeconfig and no kubectl are involved.
provider "helm" {
  kubernetes = {
    host                   = module.myhealth.cluster_endpoint
    cluster_ca_certificate = base64decode(module.myhealth.cluster_certificate_authority_data)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.myhealth.cluster_name, "--region", local.region]
    }
  }
}
