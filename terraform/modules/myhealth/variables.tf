variable "environment" {
  description = "Environment name: dev, staging or prod. Drives names, tags and the dev-only shortcuts."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "azs" {
  description = "Three availability zones of the region."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "vpc_cidr" {
  description = "CIDR of the VPC."
  type        = string
  default     = "10.0.0.0/16"
}

variable "github_repository" {
  description = "`owner/name` of the repository whose workflows deploy this environment."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider; false when another environment in the same account already did."
  type        = bool
  default     = true
}

variable "state_bucket" {
  description = "Name of the S3 bucket holding the Terraform state (same as in backend.hcl)."
  type        = string
}

variable "admin_principal_arns" {
  description = "IAM roles of the people who administer the environment, by a short name: cluster-admin (EKS access entries) and break-glass secret readers. The CI apply role is added by the module; nobody else gets cluster access (the creator entry is off)."
  type        = map(string)
  default     = {}
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.34"
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "CIDRs that may reach the public Kubernetes API endpoint; empty = private endpoint only. The private endpoint is always on."
  type        = list(string)
  default     = []

  validation {
    condition     = var.environment != "prod" || !contains(var.cluster_endpoint_public_access_cidrs, "0.0.0.0/0")
    error_message = "prod's Kubernetes API must not be open to 0.0.0.0/0: list the CIDRs that need it, or none."
  }

  validation {
    condition     = alltrue([for cidr in var.cluster_endpoint_public_access_cidrs : can(cidrnetmask(cidr))])
    error_message = "cluster_endpoint_public_access_cidrs must be IPv4 CIDRs."
  }
}

variable "node_instance_types" {
  description = "Node instance types."
  type        = list(string)
  default     = ["t3.medium"]
}

variable "node_min_size" {
  description = "Minimum nodes."
  type        = number
  default     = 2
}

variable "node_max_size" {
  description = "Maximum nodes."
  type        = number
  default     = 10
}

variable "enable_karpenter" {
  description = "Karpenter instead of Cluster Autoscaler."
  type        = bool
  default     = false
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t3.micro"
}

variable "root_domain" {
  description = "The owner's root domain; the API is served at api.myhealth.<root_domain>."
  type        = string
  default     = "eric-n.com"
}

variable "api_certificate_arn" {
  description = "ACM certificate for the API's custom domain; null = no custom domain (execute-api URL)."
  type        = string
  default     = null
}

variable "api_hosted_zone_id" {
  description = "Route 53 zone for the API's alias record; null = DNS managed elsewhere."
  type        = string
  default     = null
}

variable "enable_cloudfront" {
  description = "Static-asset CloudFront distribution (off: Grafana is the UI)."
  type        = bool
  default     = false
}

variable "enable_guardduty" {
  description = "GuardDuty in this account/region."
  type        = bool
  default     = false
}

variable "enable_config" {
  description = "AWS Config recorder in this account/region."
  type        = bool
  default     = false
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget (0 = none)."
  type        = number
  default     = 0
}

variable "budget_alert_emails" {
  description = "Recipients of budget alerts (at least one when monthly_budget_usd > 0: AWS refuses a budget notification without subscribers)."
  type        = list(string)
  default     = []
}

variable "webhooks_enabled" {
  description = "Expose /webhooks/oura through API Gateway without the authorizer (Oura webhooks; docs/webhooks.md)."
  type        = bool
  default     = false
}

variable "authorizer_reserved_concurrency" {
  description = "Reserved concurrency of the Lambda authorizer; null (default) = unreserved, which a new account's quota of 10 requires."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups."
  type        = number
  default     = 30
}

variable "authorizer_build_dir" {
  description = "Where scripts/build-authorizer.sh put the Lambda authorizer's files."
  type        = string
  default     = "../../../build/authorizer"
}

variable "tags" {
  description = "Tags for every resource (the root sets them once, also as the AWS provider's default_tags)."
  type        = map(string)
}
