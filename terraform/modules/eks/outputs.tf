output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "Endpoint of the Kubernetes API."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA certificate of the Kubernetes API."
  value       = module.eks.cluster_certificate_authority_data
}

output "cluster_version" {
  description = "Kubernetes version of the control plane."
  value       = module.eks.cluster_version
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (IRSA trust)."
  value       = module.eks.oidc_provider_arn
}

output "cluster_security_group_id" {
  description = "Security group of the control plane."
  value       = module.eks.cluster_security_group_id
}

output "node_security_group_id" {
  description = "Security group shared by the nodes (and, with the VPC CNI, their pods)."
  value       = module.eks.node_security_group_id
}

output "karpenter" {
  description = "Values for the Karpenter chart (null when enable_karpenter is false)."
  value = var.enable_karpenter ? {
    queue_name          = module.karpenter[0].queue_name
    node_iam_role_name  = module.karpenter[0].node_iam_role_name
    controller_role_arn = module.karpenter[0].iam_role_arn
  } : null
}
