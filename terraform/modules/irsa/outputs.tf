output "external_secrets_role_arn" {
  description = "Annotate the External Secrets service account with it (`eks.amazonaws.com/role-arn`)."
  value       = module.external_secrets.arn
}

output "ebs_csi_role_arn" {
  description = "Role of the EBS CSI driver add-on (passed to the eks module)."
  value       = module.ebs_csi.arn
}

output "load_balancer_controller_role_arn" {
  description = "Role of the AWS Load Balancer Controller service account."
  value       = module.load_balancer_controller.arn
}

output "cluster_autoscaler_role_arn" {
  description = "Role of the Cluster Autoscaler service account (null when disabled)."
  value       = var.enable_cluster_autoscaler ? module.cluster_autoscaler[0].arn : null
}
