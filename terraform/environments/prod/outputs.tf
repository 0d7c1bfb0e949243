# What the Helm chart, ArgoCD, the workflows and the scripts read (docs/infrastructure.md).
# Terraform itself never applies anything to the cluster.

output "helm_values" {
  description = "The chart's infrastructure values: `terraform output -json helm_values > <values file>`."
  value       = module.myhealth.helm_values
}

output "cluster_name" {
  description = "EKS cluster name (scripts/setup-cluster.sh)."
  value       = module.myhealth.cluster_name
}

output "github_actions_roles" {
  description = "IAM roles the GitHub Actions workflows assume through OIDC."
  value       = module.myhealth.github_actions_roles
}

output "ecr_repository_url" {
  description = "Where build-image.yml pushes the image."
  value       = module.myhealth.ecr_repository_url
}

output "api_url" {
  description = "The public API's URL (API Gateway)."
  value       = module.myhealth.api_url
}
