variable "name_prefix" {
  description = "Prefix of the role names (e.g. `myhealth-dev`)."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name (scopes the Cluster Autoscaler policy)."
  type        = string
}

variable "oidc_provider_arn" {
  description = "The cluster's IAM OIDC provider (eks module output)."
  type        = string
}

variable "external_secrets_service_accounts" {
  description = "`namespace:serviceaccount` pairs that External Secrets authenticates as: every SecretStore's `auth.jwt.serviceAccountRef` the Helm chart renders (the app's and Grafana's)."
  type        = list(string)
  default     = ["myhealth:myhealth-external-secrets"]

  validation {
    condition     = length(var.external_secrets_service_accounts) > 0 && alltrue([for pair in var.external_secrets_service_accounts : can(regex("^[a-z0-9-]+:[a-z0-9-]+$", pair))])
    error_message = "external_secrets_service_accounts must be namespace:serviceaccount pairs."
  }
}

variable "external_secret_arns" {
  description = "Exactly the secrets External Secrets may read: the app secrets, the two workload database logins and the RDS master secret (for the migration Job only)."
  type        = list(string)
}

variable "external_secret_kms_key_arns" {
  description = "KMS keys of those secrets (Decrypt only, only through Secrets Manager)."
  type        = list(string)
}

variable "ebs_csi_kms_key_arns" {
  description = "KMS keys the EBS CSI driver may use for encrypted volumes (empty = the AWS-managed EBS key)."
  type        = list(string)
  default     = []
}

variable "load_balancer_target_group_arns" {
  description = "Target groups the AWS Load Balancer Controller may register pods in (TargetGroupBinding only: it creates no load balancers)."
  type        = list(string)
}

variable "enable_cluster_autoscaler" {
  description = "Create the Cluster Autoscaler role (not needed with Karpenter)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
